// Package cli is plinth's command line: every verb, its flags, its help and
// its exit status. Main is callable in-process (tests give it arguments and
// buffers); only cmd/plinth turns its result into a process exit.
//
// Exit status: 0 success; 1 the input or the build failed (diagnostics
// printed); 2 usage error.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/doctor"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitFail  = 1
	ExitUsage = 2
)

// env is what a verb works with: its streams and its view of the process
// environment. Nothing in this package reads os.Args or exits.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// host is how plinth doctor looks at this machine.
	host doctor.Env
	// path is the command path for messages, e.g. "plinth boards show".
	path string
}

// run is a verb's body, given its positional arguments.
type run func(e *env, args []string) int

// command is one verb. setup registers the verb's flags and returns its body,
// so flag values live in the closure, not in package state.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	summary string
	help    string
	hidden  bool
	// complete offers candidates for the verb's positional arguments.
	complete func(e *env) []string
	setup    func(fs *flag.FlagSet) run
	sub      []*command
}

// commands is the verb tree. It is built by a function so each Main call has
// its own.
func commands() *command {
	root := &command{
		name:    "plinth",
		summary: "build reproducible, measured, signed seL4 Microkit images from per-board recipes",
		help: `plinth turns a recipe (pinned sources, a Microkit SDK, protection domains and a
system description) into a bootable image for each board it names.`,
		sub: []*command{
			boardsCommand(),
			recipesCommand(),
			checkCommand(),
			sdfCommand(),
			buildCommand(),
			runCommand(),
			lockCommand(),
			mirrorCommand(),
			keygenCommand(),
			signCommand(),
			verifyCommand(),
			measureCommand(),
			diffCommand(),
			cacheCommand(),
			doctorCommand(),
			schemaCommand(),
			versionCommand(),
			completionCommand(),
			completeCommand(),
		},
	}
	return root
}

// Main runs plinth with the given arguments (without the program name) and
// returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, host: doctor.HostEnv()}
	return e.main(args)
}

// main runs one command line in this environment.
func (e *env) main(args []string) int {
	return dispatch(e, commands(), args)
}

func dispatch(e *env, root *command, args []string) int {
	cmd := root
	e.path = root.name
	for len(args) > 0 && len(cmd.sub) > 0 {
		a := args[0]
		if a == "help" && cmd == root {
			// plinth help VERB... is plinth VERB... --help.
			args = append(args[1:], "--help")
			continue
		}
		if strings.HasPrefix(a, "-") {
			break
		}
		next := cmd.find(a)
		if next == nil {
			if cmd.setup != nil {
				break // a positional argument of a verb that also has sub-verbs
			}
			return usageError(e, fmt.Sprintf("unknown command %q%s", a, cmd.suggest(a)))
		}
		cmd = next
		e.path += " " + cmd.name
		args = args[1:]
	}
	if cmd.setup == nil {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			writeHelp(e.stdout, e.path, cmd, nil)
			return ExitOK
		}
		if len(args) > 0 {
			return usageError(e, fmt.Sprintf("unknown flag %s", args[0]))
		}
		writeHelp(e.stderr, e.path, cmd, nil)
		return ExitUsage
	}
	fs := flag.NewFlagSet(e.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	body := cmd.setup(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(e.stdout, e.path, cmd, fs)
		return ExitOK
	}
	if err != nil {
		return usageError(e, err.Error())
	}
	return body(e, pos)
}

func (c *command) find(name string) *command {
	for _, s := range c.sub {
		if s.name == name {
			return s
		}
	}
	return nil
}

func (c *command) suggest(name string) string {
	var names []string
	for _, s := range c.sub {
		if !s.hidden {
			names = append(names, s.name)
		}
	}
	if best, ok := diag.Closest(name, names); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// usageError reports a usage problem and returns the usage exit status.
func usageError(e *env, msg string) int {
	fmt.Fprintf(e.stderr, "%s: %s\n", e.path, msg)
	fmt.Fprintf(e.stderr, "Run '%s --help' for usage.\n", e.path)
	return ExitUsage
}

// parseInterspersed parses flags wherever they appear among the positional
// arguments (plinth check recipe.yaml --board b). Everything after "--" is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			rest = args[i+1:]
			args = args[:i]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return append(pos, rest...), nil
}

// writeHelp prints a verb's help: synopsis, description, sub-verbs, flags.
func writeHelp(w io.Writer, path string, cmd *command, fs *flag.FlagSet) {
	syn := path
	if len(cmd.sub) > 0 && cmd.setup == nil {
		syn += " COMMAND"
	}
	if fs != nil && hasFlags(fs) {
		syn += " [flags]"
	}
	if cmd.args != "" {
		syn += " " + cmd.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n", syn)
	if cmd.help != "" {
		fmt.Fprintf(w, "%s\n\n", strings.TrimSpace(cmd.help))
	} else if cmd.summary != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.summary)
	}
	if len(cmd.sub) > 0 {
		fmt.Fprintf(w, "Commands:\n")
		for _, s := range cmd.sub {
			if !s.hidden {
				fmt.Fprintf(w, "  %-12s %s\n", s.name, s.summary)
			}
		}
		fmt.Fprintln(w)
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprintf(w, "Flags:\n")
		var lines [][2]string
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			left := "--" + f.Name
			if len(f.Name) == 1 {
				left = "-" + f.Name // -j N, -o DIR: as the README writes them
			}
			if name != "" {
				left += " " + name
				// The name is on the left already: "(DIR)" and "(DIR; ..."
				// in the text would say it twice.
				usage = strings.ReplaceAll(usage, " ("+name+")", "")
				usage = strings.ReplaceAll(usage, "("+name+"; ", "(")
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !strings.Contains(usage, "default") {
				usage += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			lines = append(lines, [2]string{left, usage})
		})
		sort.Slice(lines, func(i, j int) bool { return lines[i][0] < lines[j][0] })
		for _, l := range lines {
			fmt.Fprintf(w, "  %-22s %s\n", l[0], l[1])
		}
		fmt.Fprintln(w)
	}
	if path == "plinth" {
		fmt.Fprintf(w, "Exit status: 0 success, 1 input or build failure (diagnostics printed), 2 usage error.\n")
		fmt.Fprintf(w, "Run 'plinth COMMAND --help' for a command's flags.\n")
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// fail reports an error that stops the verb (plinth: ERROR) and returns
// the failure status.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "%s: %v\n", e.path, err)
	return ExitFail
}
