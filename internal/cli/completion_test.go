package cli

import (
	"os"
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
		{[]string{""}, "boards build bundle cache check completion diff doctor help keygen lock measure mirror plan publish recipes release run schema sdf sign update verify version"},
		{[]string{"bo"}, "boards"},
		{[]string{"boards", "sh"}, "show"},
		{[]string{"boards", "show", "qemu_virt_a"}, "qemu_virt_aarch64 qemu_virt_aarch64_el1"},
		{[]string{"check", "--bo"}, "--board --boards-dir"},
		{[]string{"check", "microkit-hello", "--board", "rpi4b_"}, "rpi4b_1gb rpi4b_2gb rpi4b_4gb rpi4b_8gb"},
		{[]string{"check", "--json", "micro"}, "microkit-hello microkit-hello-2.1.0 microkit-hello-2.3.1 microkit-hello-uboot microkit-hierarchy microkit-passive-server microkit-timer"},
		{[]string{"completion", ""}, "bash fish powershell zsh"},
		{[]string{"schema", "r"}, "recipe release"},
	} {
		// cobra's protocol: a candidate a line (a tab before its
		// description), then ":DIRECTIVE".
		out, _, code := plinth(t, append([]string{"__complete"}, tc.words...)...)
		var cands []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, ":") {
				break
			}
			name, _, _ := strings.Cut(line, "\t")
			cands = append(cands, name)
		}
		got := strings.Join(cands, " ")
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
	// cobra's bash script uses the bash-completion package's helpers, as
	// every Debian shell has them.
	helpers := "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(helpers); err != nil {
		t.Skip("no bash-completion (apt-get install bash-completion)")
	}
	script := `source ` + helpers + `
source <(plinth completion bash)
COMP_WORDS=(plinth boards show qemu_virt_r); COMP_CWORD=3; COMP_LINE="plinth boards show qemu_virt_r"; COMP_POINT=${#COMP_LINE}
__start_plinth
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(cmd.Environ(), "PATH="+dir+":/usr/bin:/bin")
	// Outside a real completion, compopt complains on stderr; the
	// candidates are on stdout.
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "qemu_virt_riscv64" {
		t.Errorf("bash completion: %v\n%s", err, out)
	}
}

// Every shell's script is made, PowerShell's too.
func TestCompletionScriptsForEveryShell(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_plinth", "zsh": "#compdef plinth", "fish": "complete -c plinth", "powershell": "Register-ArgumentCompleter"} {
		out, stderr, code := plinth(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, lacks %q\n%s", shell, code, want, stderr)
		}
	}
	if _, _, code := plinth(t, "completion", "tcsh"); code != 2 {
		t.Errorf("tcsh: exit %d", code)
	}
}

// docs/cli is what the command tree says (make generate rewrites it).
func TestCommandReferenceIsCurrent(t *testing.T) {
	pages := referencePages()
	files, _ := filepath.Glob("../../docs/cli/*.md")
	if len(files) != len(pages) {
		t.Errorf("docs/cli has %d pages, the command tree %d: run make generate", len(files), len(pages))
	}
	for name, want := range pages {
		got, err := os.ReadFile(filepath.Join("../../docs/cli", name))
		if err != nil || string(got) != want {
			t.Errorf("docs/cli/%s is stale: run make generate", name)
		}
	}
}
