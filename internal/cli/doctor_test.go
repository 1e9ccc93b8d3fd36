package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/doctor"
)

// onlyGit is a host whose PATH holds git and nothing else, and with none
// of the files doctor looks for.
func onlyGit(t *testing.T) doctor.Env {
	dir := t.TempDir()
	p, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed here")
	}
	if err := os.Symlink(p, filepath.Join(dir, "git")); err != nil {
		t.Fatal(err)
	}
	env := doctor.HostEnv()
	env.LookPath = func(name string) (string, error) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", exec.ErrNotFound
		}
		return filepath.Join(dir, name), nil
	}
	env.Exists = func(string) bool { return false }
	return env
}

func TestDoctorNamesMissingToolsAndPackages(t *testing.T) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, host: onlyGit(t)}
	if code := e.main([]string{"doctor"}); code != 1 {
		t.Fatalf("exit %d, want 1 with tools missing", code)
	}
	text := out.String()
	for _, want := range []string{
		"ok       git",
		"MISSING  cmake                   apt-get install cmake",
		"MISSING  aarch64 cross compiler  apt-get install gcc-aarch64-linux-gnu",
		"MISSING  qemu-system-riscv64     apt-get install qemu-system-misc",
		"MISSING  picolibc (aarch64)      apt-get install picolibc-aarch64-linux-gnu",
		"33 of 34 tools missing. On Debian: apt-get install make cmake ninja-build",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	e.main([]string{"doctor", "--json", "--board", "qemu_virt_riscv64"})
	var res struct {
		Tools []struct {
			Tool  struct{ Name string }
			Found bool
		}
		Missing []string `json:"missing_packages"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(res.Missing, " ")
	if !strings.Contains(joined, "gcc-riscv64-linux-gnu") || !strings.Contains(joined, "qemu-system-misc") ||
		strings.Contains(joined, "gcc-aarch64-linux-gnu") || strings.Contains(joined, "qemu-system-x86") {
		t.Errorf("doctor --board qemu_virt_riscv64 should ask for the RISC-V tools only: %s", joined)
	}
}

// Every emulator a board names is a tool the doctor checks for.
func TestDoctorKnowsEveryBoardsEmulator(t *testing.T) {
	tools, err := doctor.Tools()
	if err != nil {
		t.Fatal(err)
	}
	var d diag.List
	for _, b := range boards.Load(&d, boards.Embedded()).All() {
		if b.Emulator == nil {
			continue
		}
		if _, ok := doctor.ForCommand(tools, b.Emulator.Command); !ok {
			t.Errorf("%s: doctor does not know %s", b.Name, b.Emulator.Command)
		}
	}
}
