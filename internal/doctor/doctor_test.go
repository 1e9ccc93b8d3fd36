package doctor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The Dockerfile's build environment holds exactly the packages doctor asks for.
func TestDockerfileInstallsWhatDoctorNeeds(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The package list is the first apt-get install of the final stage,
	// one package a line, continued with backslashes.
	text := string(data)
	i := strings.Index(text, "apt-get install -y --no-install-recommends \\\n")
	if i < 0 {
		t.Fatal("no apt-get install list in the Dockerfile")
	}
	var docker []string
	for _, l := range strings.Split(text[i:], "\n")[1:] {
		l = strings.TrimSpace(l)
		if !regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]* \\$`).MatchString(l) {
			break
		}
		docker = append(docker, strings.TrimSuffix(l, " \\"))
	}
	sort.Strings(docker)
	tools, err := Tools()
	if err != nil {
		t.Fatal(err)
	}
	want := Packages(tools)
	if strings.Join(docker, " ") != strings.Join(want, " ") {
		t.Errorf("Dockerfile installs\n  %v\nbut plinth doctor asks for\n  %v", docker, want)
	}
}

// A machine with only git and python3 on its PATH: doctor finds those two
// with their real versions and names every other tool's Debian package.
func TestExamineOnMachineMissingTools(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []string{"git", "python3"} {
		p, err := exec.LookPath(c)
		if err != nil {
			t.Skipf("%s is not installed here", c)
		}
		if err := os.Symlink(p, filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
	}
	env := HostEnv()
	env.LookPath = func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}
	tools, err := Tools()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Finding{}
	for _, f := range Examine(context.Background(), env, tools) {
		found[f.Tool.Name] = f
	}
	if f := found["git"]; !f.Found || !strings.HasPrefix(f.Version, "git version ") {
		t.Errorf("git: %+v", f)
	}
	if f := found["python3"]; !f.Found || !strings.HasPrefix(f.Version, "Python 3") {
		t.Errorf("python3: %+v", f)
	}
	for _, name := range []string{"cmake", "ninja", "aarch64 cross compiler", "qemu-system-aarch64", "mkimage", "swtpm"} {
		if f := found[name]; f.Found || f.Tool.Package == "" {
			t.Errorf("%s should be missing with a package to install: %+v", name, f)
		}
	}
	if f := found["aarch64 cross compiler"]; f.Tool.Package != "gcc-aarch64-linux-gnu" {
		t.Errorf("aarch64 cross compiler comes from %q", f.Tool.Package)
	}
}

func TestToolsFileIsValid(t *testing.T) {
	tools, err := Tools()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tool := range tools {
		if names[tool.Name] {
			t.Errorf("tool %q listed twice", tool.Name)
		}
		names[tool.Name] = true
		command := tool.Kind == "" || tool.Kind == "command" || tool.Kind == "machine"
		if (tool.Kind == "python") != (tool.Module != "") || (tool.Kind == "file") != (len(tool.Files) > 0) || command != (len(tool.Commands) > 0) || tool.Kind == "machine" && len(tool.VersionArgs) == 0 {
			t.Errorf("%s: a python tool names a module, a file tool its files, a command or machine tool its commands (a machine also its arguments)", tool.Name)
		}
	}
}

// Python modules are looked for with the interpreter seL4's build uses
// (Debian's, before a python3 earlier on PATH), and the QEMU machine must
// start: each reports MISSING with its package when it is not so.
func TestDoctorUsesTheSDKsPythonAndStartsTheMachine(t *testing.T) {
	tools, err := Tools()
	if err != nil {
		t.Fatal(err)
	}
	var ply, machine Tool
	for _, tool := range tools {
		switch tool.Name {
		case "python3 ply":
			ply = tool
		case "qemu machine virt":
			machine = tool
		}
	}
	var mu sync.Mutex
	var ran []string
	env := Env{
		LookPath: func(c string) (string, error) {
			switch c {
			case "/usr/bin/python3", "qemu-system-aarch64":
				return "/usr/bin/" + filepath.Base(c), nil
			case "python3":
				return "/home/u/.pyenv/shims/python3", nil // has every module, but is not the one used
			}
			return "", errors.New("not found")
		},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			mu.Lock()
			ran = append(ran, name)
			mu.Unlock()
			if name == "/usr/bin/qemu-system-aarch64" {
				return []byte(`qemu-system-aarch64: failed to find romfile "efi-virtio.rom"`), errors.New("exit status 1")
			}
			if name == "/usr/bin/python3" {
				return []byte("ModuleNotFoundError: No module named 'ply'"), errors.New("exit status 1")
			}
			return []byte("3.11\n"), nil
		},
	}
	found := Examine(context.Background(), env, []Tool{ply, machine})
	if found[0].Found || found[0].Path != "/usr/bin/python3" || found[0].Tool.Package != "python3-ply" {
		t.Errorf("ply: %+v", found[0])
	}
	if found[1].Found || found[1].Tool.Package != "ipxe-qemu" || !strings.Contains(found[1].Version, "efi-virtio.rom") {
		t.Errorf("machine: %+v", found[1])
	}
	for _, r := range ran {
		if strings.Contains(r, "pyenv") {
			t.Errorf("ran %s", r)
		}
	}
}
