package update

import (
	"archive/tar"
	"bytes"
	"testing"
)

// Open reads what arrives before any check: a tar stream and a manifest.
// Nothing it is fed makes it panic.
func FuzzOpen(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct{ name, data string }{{ManifestEntry, `{"_type":"` + ManifestType + `","format":1,"version":2}`}, {SignatureEntry, `{}`}} {
		tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(e.data))
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		// Larger inputs only make the engine slow; entry sizes are
		// what matters, and a header states any size.
		if len(data) > 1<<16 {
			return
		}
		if r, err := Open(bytes.NewReader(data), nil); err == nil {
			r.Payload()
		}
	})
}
