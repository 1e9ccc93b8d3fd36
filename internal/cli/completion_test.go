package cli

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompleteCandidates(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{""}, "boards build cache check completion diff doctor keygen lock measure mirror recipes run schema sdf sign verify version"},
		{[]string{"bo"}, "boards"},
		{[]string{"boards", "sh"}, "show"},
		{[]string{"boards", "show", "qemu_virt_a"}, "qemu_virt_aarch64 qemu_virt_aarch64_el1"},
		{[]string{"check", "--bo"}, "--board --boards-dir"},
		{[]string{"check", "microkit-hello", "--board", "rpi4b_"}, "rpi4b_1gb rpi4b_2gb rpi4b_4gb rpi4b_8gb"},
		{[]string{"check", "--json", "micro"}, "microkit-hello microkit-hierarchy microkit-passive-server microkit-timer"},
		{[]string{"completion", ""}, "bash fish zsh"},
		{[]string{"schema", "r"}, "recipe"},
	} {
		out, _, code := plinth(t, append([]string{"__complete", "--"}, tc.words...)...)
		got := strings.Join(strings.Fields(out), " ")
		if code != 0 || got != tc.want {
			t.Errorf("complete %q = %q, want %q", tc.words, got, tc.want)
		}
	}
}

// The bash script, sourced in a real bash, completes through a real plinth binary.
func TestBashCompletionScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "plinth"), "../../cmd/plinth")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := `source <(plinth completion bash)
COMP_WORDS=(plinth boards show qemu_virt_r); COMP_CWORD=3; _plinth
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(cmd.Environ(), "PATH="+dir+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "qemu_virt_riscv64" {
		t.Errorf("bash completion: %v\n%s", err, out)
	}
}
