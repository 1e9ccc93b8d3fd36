package diode

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The family's crates pass their own tests on this machine (the wire
// frame's CRC, the ledger's SHA-256 against FIPS vectors and its chain
// against a rewritten history).
func TestFamilyCratesPassTheirOwnTests(t *testing.T) {
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		t.Skip("no cargo")
	}
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "crates"), os.DirFS("../recipes/os-family/crates")); err != nil {
		t.Fatal(err)
	}
	for _, crate := range []string{"diode-wire", "ledger"} {
		cmd := exec.Command(cargo, "test", "--offline", "--quiet")
		cmd.Dir = filepath.Join(work, "crates", crate)
		cmd.Env = append(os.Environ(), "CARGO_HOME="+filepath.Join(work, "cargo-home"), "CARGO_TARGET_DIR="+filepath.Join(work, "target"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("cargo test in %s: %v\n%s", crate, err, out)
		}
	}
}
