package sddf

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// configProgram is a component the way sDDF writes one: config structs in
// named sections, filled in after compilation.
const configProgram = `struct region { unsigned long vaddr, size; };
struct serial_config { char magic[5]; struct region queue, data; unsigned char ch; char begin[32]; };
__attribute__((section(".serial_client_config"))) struct serial_config config = { .magic = "sDDF" };
__attribute__((section(".timer_client_config"))) unsigned char timer_config[16] = { 's', 'D', 'D', 'F', 6 };
struct serial_config unfilled;
const volatile struct serial_config *use(void) { return unfilled.ch ? &unfilled : &config; }
void _start(void) { (void)use(); (void)timer_config; for (;;) {} }
`

func buildProgram(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"aarch64-linux-gnu-gcc", "aarch64-linux-gnu-objcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (apt-get install gcc-aarch64-linux-gnu)", tool)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "client.c"), []byte(configProgram), 0o644)
	cmd := exec.Command("aarch64-linux-gnu-gcc", "-O2", "-nostdlib", "-ffreestanding", "-static", "-no-pie", "-o", "client.elf", "client.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return filepath.Join(dir, "client.elf")
}

// programContents is what the program sees in memory: the contents of
// every allocated section with file bytes, by address. (objcopy also
// rewrites the GNU_RELRO program header, which the loaded image includes
// but no Microkit loader reads.)
func programContents(t *testing.T, path string) map[uint64][]byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[uint64][]byte{}
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		out[s.Addr] = b
	}
	return out
}

func sectionData(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := f.Section(name).Data()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plinth's writer against binutils' objcopy --update-section on the same
// ELF and blobs: the same section contents and the same loaded image, and
// nothing but those sections changed.
func TestSetSectionsMatchesObjcopy(t *testing.T) {
	elfPath := buildProgram(t)
	f, _ := elf.Open(elfPath)
	size := f.Section(".serial_client_config").Size
	f.Close()
	serial := bytes.Repeat([]byte{0xA5}, int(size))
	copy(serial, "sDDF\x03")
	timer := []byte("sDDF\x06\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "serial.data"), serial, 0o644)
	os.WriteFile(filepath.Join(dir, "timer.data"), timer, 0o644)

	ours := filepath.Join(dir, "ours.elf")
	if err := SetSectionsFile(elfPath, ours, map[string][]byte{".serial_client_config": serial, ".timer_client_config": timer}); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "objcopy.elf")
	cmd := exec.Command("aarch64-linux-gnu-objcopy", "--update-section", ".serial_client_config="+filepath.Join(dir, "serial.data"),
		"--update-section", ".timer_client_config="+filepath.Join(dir, "timer.data"), elfPath, theirs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	for name, want := range map[string][]byte{".serial_client_config": serial, ".timer_client_config": timer} {
		if got := sectionData(t, ours, name); !bytes.Equal(got, want) {
			t.Errorf("%s: plinth wrote % x", name, got)
		}
		if got := sectionData(t, theirs, name); !bytes.Equal(got, want) {
			t.Errorf("%s: objcopy wrote % x", name, got)
		}
	}
	a, b := programContents(t, ours), programContents(t, theirs)
	if len(a) < 3 || len(a) != len(b) {
		t.Fatalf("allocated sections: plinth %d, objcopy %d", len(a), len(b))
	}
	for addr, data := range a {
		if !bytes.Equal(data, b[addr]) {
			t.Errorf("the section at %#x differs from objcopy's", addr)
		}
	}
	// Only the two sections' bytes differ from the input.
	in, _ := os.ReadFile(elfPath)
	out, _ := os.ReadFile(ours)
	if diff := countDiff(in, out); diff == 0 || diff > len(serial)+len(timer) {
		t.Errorf("%d bytes changed, want at most %d", diff, len(serial)+len(timer))
	}
}

func countDiff(a, b []byte) int {
	if len(a) != len(b) {
		return -1
	}
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// Every problem at once, and the output not written.
func TestSetSectionsRefusesWhatDoesNotFit(t *testing.T) {
	elfPath := buildProgram(t)
	out := filepath.Join(t.TempDir(), "out.elf")
	err := SetSectionsFile(elfPath, out, map[string][]byte{
		".timer_client_config": make([]byte, 17),
		".net_client_config":   make([]byte, 8),
		".bss":                 make([]byte, 8),
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"section .timer_client_config: is 16 bytes, the config is 17 bytes",
		"section .net_client_config: no such section",
		"section .bss: has no contents in the file (SHT_NOBITS)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Error("an output was written despite the errors")
	}
	if _, err := SetSections([]byte("not an elf"), nil); err == nil || !strings.Contains(err.Error(), "not an ELF file") {
		t.Errorf("non-ELF input: %v", err)
	}
}
