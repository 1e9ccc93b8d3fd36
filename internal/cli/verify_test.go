package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// plinth boards verify against the tree real QEMU generates, and a board
// file with one wrong interrupt reported at its line.
func TestBoardsVerifyAgainstQEMUsTree(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Skip("no qemu-system-aarch64 (apt-get install qemu-system-arm)")
	}
	dtb := filepath.Join(t.TempDir(), "virt.dtb")
	if out, err := exec.Command("qemu-system-aarch64", "-machine", "virt,virtualization=on,dumpdtb="+dtb, "-cpu", "cortex-a53", "-m", "size=2G", "-nographic").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	stdout, stderr, code := plinth(t, "boards", "verify", "qemu_virt_aarch64", "--dt", dtb)
	if code != 0 || !strings.Contains(stdout, "qemu_virt_aarch64: 5 sDDF devices agree with the device tree") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}

	board, _ := os.ReadFile("../../boards/qemu_virt_aarch64.yaml")
	wrong := strings.Replace(string(board), "{irq: 33, trigger: level}", "{irq: 34, trigger: edge}", 1)
	if wrong == string(board) {
		t.Fatal("qemu_virt_aarch64.yaml no longer has the UART's IRQ 33; update this test")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "qemu_virt_aarch64.yaml"), []byte(wrong), 0o644)
	_, stderr, code = plinth(t, "boards", "verify", "qemu_virt_aarch64", "--dt", dtb, "--boards-dir", dir)
	want := regexp.MustCompile(`qemu_virt_aarch64\.yaml:\d+:\d+: error: sddf\.devices\.serial\[0\]: interrupts are \[33/level\] in .*virt\.dtb, the board file says \[34/edge\]`)
	if code != 1 || !want.MatchString(stderr) {
		t.Errorf("wrong IRQ: exit %d\n%s", code, stderr)
	}
	if _, _, code := plinth(t, "boards", "verify", "qemu_virt_aarch64"); code != 2 {
		t.Errorf("no --dt: exit %d, want 2", code)
	}
}
