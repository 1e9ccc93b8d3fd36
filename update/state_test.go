package update

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stateFile is a state partition's first blocks, as a file.
func stateFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	f.Write(make([]byte, 2*StateCopySize))
	return f
}

func TestTheNewerValidCopyWinsAndATornWriteLeavesTheOlder(t *testing.T) {
	f := stateFile(t)
	if _, _, err := ReadState(f, 0); err == nil || !strings.Contains(err.Error(), "never provisioned") {
		t.Fatalf("blank partition: %v", err)
	}
	first := State{Board: "qemu_virt_aarch64", Microkit: "2.0.1", Active: SlotA, Budget: 3, Slots: map[string]SlotState{SlotA: {Version: 1, SHA256: strings.Repeat("ab", 32), Size: 16 << 20}}}
	if err := WriteState(f, 0, -1, State{}, first); err != nil {
		t.Fatal(err)
	}
	got, which, err := ReadState(f, 0)
	if err != nil || which != 0 || got.Seq != 1 || got.Slots[SlotA].Version != 1 || got.Board != "qemu_virt_aarch64" {
		t.Fatalf("after the first write: copy %d, %+v, %v", which, got, err)
	}
	second := got
	second.Trial, second.Left, second.Slots = SlotB, 3, map[string]SlotState{SlotA: got.Slots[SlotA], SlotB: {Version: 2, SHA256: strings.Repeat("cd", 32), Size: 16 << 20, Floor: 2}}
	if err := WriteState(f, 0, which, got, second); err != nil {
		t.Fatal(err)
	}
	got2, which2, err := ReadState(f, 0)
	if err != nil || which2 != 1 || got2.Seq != 2 || got2.Booting() != SlotB || got2.Slots[SlotB].Floor != 2 {
		t.Fatalf("after the second write: copy %d, %+v, %v", which2, got2, err)
	}
	// A power cut in the third write (over copy 0) after its first 100
	// bytes: the CRC no longer matches, and the second state stands.
	third, _ := State{Board: "x", Active: SlotB, Slots: map[string]SlotState{}, Seq: 3}.Encode()
	f.WriteAt(third[:100], 0)
	got3, which3, err := ReadState(f, 0)
	if err != nil || which3 != 1 || got3.Seq != 2 || got3.Booting() != SlotB {
		t.Fatalf("after a torn write: copy %d, %+v, %v", which3, got3, err)
	}
}

func TestAStateNamingAnUnknownSlotIsRefused(t *testing.T) {
	data, _ := State{Active: "c", Slots: map[string]SlotState{}}.Encode()
	if _, err := DecodeState(data); err == nil || !strings.Contains(err.Error(), `slot "c"`) {
		t.Errorf("got %v", err)
	}
	// Every variable, each with a value: U-Boot's import drops empty ones.
	data, _ = State{Active: SlotA}.Encode()
	for _, name := range StateVarNames() {
		if !bytes.Contains(data, []byte("\x00"+name+"=")) && !bytes.HasPrefix(data[4:], []byte(name+"=")) {
			t.Errorf("the encoding lacks %s", name)
		}
		if bytes.Contains(data, []byte(name+"=\x00")) {
			t.Errorf("%s is empty", name)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	good, _ := State{Active: SlotA, Slots: map[string]SlotState{}}.Encode()
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := make([]byte, StateCopySize)
		copy(buf, data)
		DecodeState(buf)
	})
}
