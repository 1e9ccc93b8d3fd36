package diode

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemangle(t *testing.T) {
	for sym, want := range map[string]string{
		"_ZN11diode_upper14encode_command17h0123456789abcdefE": "diode_upper::encode_command",
		"_ZN4core3ptr13drop_in_place17h0123456789abcdefE":      "core::ptr::drop_in_place",
		"_RNvCsgoVBxxVd3Lc_11diode_upper14encode_command":      "diode_upper::encode_command",
		"_RNvCsgoVBxxVd3Lc_11diode_upper6MARKER":               "diode_upper::MARKER",
		"_RNvNtCs1234_4core3fmt5write":                         "core::fmt::write",
	} {
		if got, ok := Demangle(sym); !ok || got != want {
			t.Errorf("%s: got %q %v", sym, got, ok)
		}
	}
	if _, ok := Demangle("microkit_notify"); ok {
		t.Error("a C symbol read as Rust")
	}
}

// An object the host's C compiler makes, holding a Rust-mangled function
// of diode_upper, one of a crate whose name only ends the same, and the
// crate's marker section: the rules find exactly what they name.
func TestScanFindsForbiddenCode(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "pd.c")
	os.WriteFile(src, []byte(`
void encode(void) __asm__("_ZN11diode_upper14encode_command17h0123456789abcdefE");
void encode(void) {}
void other(void) __asm__("_ZN15not_diode_upper4work17h0123456789abcdefE");
void other(void) {}
void decode(void) __asm__("_ZN11diode_lower14decode_command17h0123456789abcdefE");
void decode(void) {}
__attribute__((section(".diode.upper"), used)) static const char marker[4] = "up";
void notified(void) {}
`), 0o644)
	obj := filepath.Join(dir, "pd.o")
	if out, err := exec.Command(cc, "-c", "-o", obj, src).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found, err := Scan(obj, []Rule{{Crates: []string{"diode_upper"}, Sections: []string{".diode.upper"}}, {Symbols: []string{"notified", "diode_lower::decode_command"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.What+" #"+string(rune('0'+f.Rule)))
	}
	want := "section .diode.upper #0; symbol diode_upper::encode_command (_ZN11diode_upper14encode_command17h0123456789abcdefE) #0; symbol diode_lower::decode_command (_ZN11diode_lower14decode_command17h0123456789abcdefE) #1; symbol notified #1"
	if strings.Join(got, "; ") != want {
		t.Errorf("found:\n%s\nwant:\n%s", strings.Join(got, "; "), want)
	}
}
