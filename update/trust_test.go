package update

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The trust store keeps the newer whole copy: a write torn by a power cut
// leaves the one before; a disk never written has an empty store.
func TestTrustStoreSurvivesATornWrite(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Truncate(1 << 20)
	tr, which, err := ReadTrust(f, 0)
	if err != nil || which != -1 || len(tr.Channels) != 0 {
		t.Fatalf("a new disk: %v %d %v", tr, which, err)
	}
	for _, v := range []string{`{"v":1}`, `{"v":2}`} {
		tr.Channels["stable"] = json.RawMessage(v)
		if err := WriteTrust(f, 0, which, tr); err != nil {
			t.Fatal(err)
		}
		if tr, which, err = ReadTrust(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if string(tr.Channels["stable"]) != `{"v":2}` || tr.Seq != 2 {
		t.Fatalf("after two writes: seq %d %s", tr.Seq, tr.Channels["stable"])
	}
	// The third write is torn: its header landed, its body only half.
	tr.Channels["stable"] = json.RawMessage(`{"v":3,"padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	if err := WriteTrust(f, 0, which, tr); err != nil {
		t.Fatal(err)
	}
	torn := int64(TrustOffset + (1-which)*TrustCopySize + trustHeader + 10)
	f.WriteAt(make([]byte, 20), torn)
	if tr, _, err = ReadTrust(f, 0); err != nil || string(tr.Channels["stable"]) != `{"v":2}` {
		t.Fatalf("after a torn write: %s %v", tr.Channels["stable"], err)
	}
}
