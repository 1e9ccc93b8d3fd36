// Package doctor finds the host tools plinth's steps and the supported boards
// need, reports which are present (with their versions) and which are
// missing, and names the Debian package that provides each missing one.
package doctor

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"github.com/pointsav/plinth/internal/proc"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
)

//go:embed tools.yaml
var toolsYAML []byte

// Kind is how a tool is looked for.
type Kind string

// Values lists the kinds.
func (Kind) Values() []string { return []string{"command", "python", "file", "machine"} }

// PythonCommands are the interpreters seL4's build runs with, the first
// found: Debian's, which sees Debian's python3-* packages (a python3 from
// pyenv or a virtualenv earlier on PATH does not). The SDK step and the
// doctor's module checks both use Python, so they cannot disagree.
var PythonCommands = []string{"/usr/bin/python3", "python3"}

// Python is the interpreter seL4's build runs with.
func Python(lookPath func(string) (string, error)) (string, error) {
	for _, c := range PythonCommands {
		if p, err := lookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no python3 (apt-get install python3)")
}

// Tool is one host tool.
type Tool struct {
	Name        string   `yaml:"name" json:"name" required:"true"`
	Kind        Kind     `yaml:"kind" json:"kind,omitempty"`
	Commands    []string `yaml:"commands" json:"commands,omitempty"`
	VersionArgs []string `yaml:"version_args" json:"-"`
	Module      string   `yaml:"module" json:"module,omitempty"`
	Files       []string `yaml:"files" json:"files,omitempty"` // kind file: the first that exists`
	Package     string   `yaml:"package" json:"package" required:"true"`
	NeededFor   []string `yaml:"needed_for" json:"needed_for" required:"true"`
	Why         string   `yaml:"why" json:"why" required:"true"`
}

type toolFile struct {
	Tools []Tool `yaml:"tools" required:"true"`
}

// Tools returns the list of tools plinth knows, in file order.
func Tools() ([]Tool, error) {
	var d diag.List
	root := strictyaml.Parse("internal/doctor/tools.yaml", toolsYAML, &d)
	var f toolFile
	if root != nil {
		(&strictyaml.Decoder{File: "internal/doctor/tools.yaml", Diags: &d}).Decode(root, &f)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return f.Tools, nil
}

// Packages lists the Debian packages of all tools, sorted and unique.
func Packages(tools []Tool) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range tools {
		if !seen[t.Package] {
			seen[t.Package] = true
			out = append(out, t.Package)
		}
	}
	sort.Strings(out)
	return out
}

// Finding is what the doctor found about one tool.
type Finding struct {
	Tool    Tool   `json:"tool"`
	Found   bool   `json:"found"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
}

// Env is how the doctor looks at the host; tests replace it.
type Env struct {
	// LookPath finds a command, like exec.LookPath.
	LookPath func(string) (string, error)
	// Run runs a command and returns its combined output.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Exists says whether a file is there (nil: nothing is).
	Exists func(path string) bool
}

// HostEnv looks at this machine.
func HostEnv() Env {
	return Env{
		LookPath: exec.LookPath,
		Exists: func(path string) bool {
			_, err := os.Stat(path)
			return err == nil
		},
		Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			cmd := exec.CommandContext(ctx, name, args...)
			proc.Bind(cmd) // a hung tool's children must not outlive the timeout
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			return out.Bytes(), err
		},
	}
}

// Examine checks every tool. Tools are examined concurrently; the findings
// come back in the order of tools.
func Examine(ctx context.Context, env Env, tools []Tool) []Finding {
	out := make([]Finding, len(tools))
	done := make(chan struct{})
	for i, t := range tools {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i] = examine(ctx, env, t)
		}()
	}
	for range tools {
		<-done
	}
	return out
}

func examine(ctx context.Context, env Env, t Tool) Finding {
	f := Finding{Tool: t}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if t.Kind == "file" {
		for _, p := range t.Files {
			if env.Exists != nil && env.Exists(p) {
				f.Found, f.Path = true, p
				return f
			}
		}
		return f
	}
	if t.Kind == "python" {
		py, err := Python(env.LookPath)
		if err != nil {
			return f
		}
		prog := "import " + t.Module + "; print(getattr(" + t.Module + ", '__version__', ''))"
		out, err := env.Run(ctx, py, "-W", "ignore", "-c", prog)
		if err != nil {
			f.Path = py // missing for this interpreter, which is the one used
			return f
		}
		f.Found, f.Path, f.Version = true, py, strings.TrimSpace(firstLine(out)+" ("+py+")")
		return f
	}
	if t.Kind == "machine" {
		return examineMachine(ctx, env, t, f)
	}
	for _, c := range t.Commands {
		p, err := env.LookPath(c)
		if err != nil {
			continue
		}
		f.Found, f.Path = true, p
		args := t.VersionArgs
		if len(args) == 0 {
			args = []string{"--version"}
		}
		if out, err := env.Run(ctx, p, args...); err == nil || len(out) > 0 {
			f.Version = firstLine(out)
		}
		if len(t.Commands) > 1 {
			f.Version += " (" + p + ")" // which of the alternatives is used
		}
		return f
	}
	return f
}

// examineMachine starts the emulator as seL4's configure does for a QEMU
// board (it dumps the machine's device tree and exits): QEMU can be there
// and still fail to start a machine, e.g. without the network card ROMs of
// Debian's ipxe-qemu, which --no-install-recommends leaves out. {dtb} in
// the arguments is a temporary file.
func examineMachine(ctx context.Context, env Env, t Tool, f Finding) Finding {
	for _, c := range t.Commands {
		p, err := env.LookPath(c)
		if err != nil {
			continue
		}
		dir, err := os.MkdirTemp("", "plinth-doctor-")
		if err != nil {
			return f
		}
		defer os.RemoveAll(dir)
		args := make([]string, len(t.VersionArgs))
		for i, a := range t.VersionArgs {
			args[i] = strings.ReplaceAll(a, "{dtb}", filepath.Join(dir, "machine.dtb"))
		}
		out, err := env.Run(ctx, p, args...)
		f.Path = p
		if err != nil {
			f.Version = firstLine(out) // why it failed
			return f
		}
		f.Found, f.Version = true, "starts: "+p+" "+strings.Join(t.VersionArgs, " ")
		return f
	}
	return f
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// Needed reports whether a tool is needed for any of the given purposes
// (an empty list means every purpose).
func (t Tool) Needed(purposes []string) bool {
	if len(purposes) == 0 {
		return true
	}
	for _, p := range purposes {
		for _, n := range t.NeededFor {
			if n == p {
				return true
			}
		}
	}
	return false
}

// ForCommand returns the tool that provides a command, if plinth knows it.
func ForCommand(tools []Tool, command string) (Tool, bool) {
	for _, t := range tools {
		for _, c := range t.Commands {
			if c == command {
				return t, true
			}
		}
	}
	return Tool{}, false
}
