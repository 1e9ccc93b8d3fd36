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
	for _, crate := range []string{"diode-wire", "ledger"} {
		if out, err := familyCargo(t, crate, "test", "--offline", "--quiet").CombinedOutput(); err != nil {
			t.Errorf("cargo test in %s: %v\n%s", crate, err, out)
		}
	}
}

// familyCargo is cargo (from PATH) run in a crate of a fresh copy of the
// family's crates, with a cargo home and target directory of its own
// beside it, so nothing is written among the sources.
func familyCargo(t testing.TB, crate string, args ...string) *exec.Cmd {
	t.Helper()
	cargo, err := exec.LookPath("cargo")
	if err != nil {
		t.Skip("no cargo")
	}
	work := t.TempDir()
	if err := os.CopyFS(filepath.Join(work, "crates"), os.DirFS("../recipes/os-family/crates")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cargo, args...)
	cmd.Dir = filepath.Join(work, "crates", crate)
	cmd.Env = append(os.Environ(), "CARGO_HOME="+filepath.Join(work, "cargo-home"), "CARGO_TARGET_DIR="+filepath.Join(work, "target"))
	return cmd
}
