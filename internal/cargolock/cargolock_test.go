package cargolock

import (
	"errors"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

const lock = `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["serde", "sel4"]

[[package]]
name = "serde"
version = "1.0.203"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "7253ab4de971e72fb7be983802300c30b5a7f0c2e56fab8abfc6a214307c0094"

[[package]]
name = "sel4"
version = "1.0.0"
source = "git+https://github.com/seL4/rust-sel4?rev=1cd063a0f69b2d2045bfa224a36c9341619f0e9b#1cd063a0f69b2d2045bfa224a36c9341619f0e9b"
`

func TestALockIsItsPins(t *testing.T) {
	pkgs, err := Parse("Cargo.lock", []byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 {
		t.Fatalf("%d packages, want serde and sel4 (the workspace's own needs no pin): %+v", len(pkgs), pkgs)
	}
	if p := pkgs[0]; !p.Registry() || p.Checksum[:8] != "7253ab4d" || p.Pos.Line != 8 || CrateURL("https://static.crates.io/crates/", p) != "https://static.crates.io/crates/serde/serde-1.0.203.crate" {
		t.Errorf("serde: %+v", p)
	}
	if p := pkgs[1]; p.Registry() || p.Git != "https://github.com/seL4/rust-sel4" || p.Commit != "1cd063a0f69b2d2045bfa224a36c9341619f0e9b" || p.Pos.Line != 14 {
		t.Errorf("sel4: %+v", p)
	}
}

// What cannot be checked is refused, every package at its line.
func TestWhatALockCannotProveIsRefused(t *testing.T) {
	bad := strings.Replace(lock, `checksum = "7253ab4de971e72fb7be983802300c30b5a7f0c2e56fab8abfc6a214307c0094"`, "", 1)
	bad = strings.Replace(bad, "#1cd063a0f69b2d2045bfa224a36c9341619f0e9b", "", 1)
	bad += `
[[package]]
name = "../escape"
version = "1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "7253ab4de971e72fb7be983802300c30b5a7f0c2e56fab8abfc6a214307c0094"

[[package]]
name = "private"
version = "1.0.0"
source = "registry+https://my-registry.example/index"
checksum = "7253ab4de971e72fb7be983802300c30b5a7f0c2e56fab8abfc6a214307c0094"
`
	_, err := Parse("Cargo.lock", []byte(bad))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"Cargo.lock:8:1: error: serde 1.0.203 from crates.io has no checksum",
		"Cargo.lock:14:1: error: sel4 1.0.0: the git source",
		`Cargo.lock:19:1: error: package "../escape" version "1": not a crate name and version`,
		`Cargo.lock:25:1: error: private 1.0.0 comes from "registry+https://my-registry.example/index"`,
	} {
		if !strings.Contains(errText(err), want) {
			t.Errorf("missing %q in\n%s", want, errText(err))
		}
	}
}

func TestNotTOMLIsALocatedError(t *testing.T) {
	_, err := Parse("Cargo.lock", []byte("version = 4\n[[package]\nname = 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "Cargo.lock:2:") {
		t.Errorf("%v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(lock))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := Parse("Cargo.lock", data)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if strings.ContainsAny(p.Dir(), "/\\") || p.Dir() == ".." {
				t.Fatalf("a package's directory %q escapes", p.Dir())
			}
			if p.Registry() == (p.Commit != "") {
				t.Fatalf("a package both or neither registry and git: %+v", p)
			}
		}
	})
}

func errText(err error) string {
	var de *diag.Errors
	if !errors.As(err, &de) {
		return err.Error()
	}
	var b strings.Builder
	de.List.Write(&b)
	return b.String()
}
