// Package cli is plinth's command line: every verb, its flags, its help and
// its exit status. Main is callable in-process (tests give it arguments and
// buffers); only cmd/plinth turns its result into a process exit.
//
// Exit status: 0 success; 1 the input or the build failed (diagnostics
// printed); 2 usage error.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

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
	// root is the command tree, for the completion scripts.
	root *cobra.Command
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
			planCommand(),
			runCommand(),
			lockCommand(),
			mirrorCommand(),
			keygenCommand(),
			signCommand(),
			releaseCommand(),
			verifyCommand(),
			measureCommand(),
			bundleCommand(),
			updateCommand(),
			publishCommand(),
			diffCommand(),
			cacheCommand(),
			doctorCommand(),
			schemaCommand(),
			versionCommand(),
			completionCommand(),
			docsCommand(),
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
	code := ExitOK
	root := cobraCommand(e, commands(), "", &code)
	root.CompletionOptions.DisableDefaultCmd = true // plinth completion is a verb of its own
	e.root = root
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	if err := root.Execute(); err != nil {
		// cobra's errors are usage errors: an unknown verb or flag, a
		// flag's bad value.
		e.path = "plinth"
		if cmd, _, ferr := root.Find(args); ferr == nil && cmd != nil {
			e.path = cmd.CommandPath()
		}
		return usageError(e, usageMessage(root, err))
	}
	return code
}

// usageMessage is cobra's error in one line, with a suggestion for a
// mistyped verb.
func usageMessage(root *cobra.Command, err error) string {
	msg := err.Error()
	if before, _, found := strings.Cut(msg, "\n"); found {
		msg = before
	}
	if verb, ok := strings.CutPrefix(msg, "unknown command "); ok {
		verb, _, _ = strings.Cut(verb, " for ")
		var names []string
		for _, c := range root.Commands() {
			if !c.Hidden {
				names = append(names, c.Name())
			}
		}
		msg = "unknown command " + verb
		if best, ok := diag.Closest(strings.Trim(verb, `"`), names); ok {
			msg += fmt.Sprintf(" (did you mean %q?)", best)
		}
	}
	return msg
}

// cobraCommand makes the cobra command of a verb: its flags (declared with
// the flag package, as each verb's setup does) become cobra's, its body
// runs with the positional arguments and sets the exit status, and its
// help is plinth's.
func cobraCommand(e *env, c *command, parent string, code *int) *cobra.Command {
	path := strings.TrimSpace(parent + " " + c.name)
	cc := &cobra.Command{
		Use:                   strings.TrimSpace(c.name + " " + c.args),
		Short:                 c.summary,
		Long:                  c.help,
		Hidden:                c.hidden,
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
	}
	var fs *flag.FlagSet
	if c.setup != nil {
		fs = flag.NewFlagSet(path, flag.ContinueOnError)
		body := c.setup(fs)
		cc.Flags().AddGoFlagSet(fs)
		cc.Args = cobra.ArbitraryArgs
		cc.RunE = func(_ *cobra.Command, args []string) error {
			e.path = path
			*code = body(e, args)
			return nil
		}
		if c.complete != nil {
			cc.ValidArgsFunction = func(_ *cobra.Command, _ []string, partial string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return withPrefix(c.complete(e), partial), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for _, name := range []string{"board", "config"} {
			if fs.Lookup(name) != nil {
				cc.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, partial string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return withPrefix(flagValues(e, name), partial), cobra.ShellCompDirectiveNoFileComp
				})
			}
		}
	} else {
		// A group of verbs run without one: its help, and a usage error.
		cc.RunE = func(_ *cobra.Command, args []string) error {
			e.path = path
			if len(args) > 0 {
				*code = usageError(e, fmt.Sprintf("unknown command %q%s", args[0], c.suggest(args[0])))
				return nil
			}
			writeHelp(e.stderr, path, c, nil)
			*code = ExitUsage
			return nil
		}
		cc.Args = cobra.ArbitraryArgs
	}
	cc.SetHelpFunc(func(asked *cobra.Command, _ []string) {
		if asked != cc { // a command cobra adds (completion) inherits this
			fmt.Fprintf(e.stdout, "%s\n\n%s", strings.TrimSpace(asked.Long), asked.UsageString())
			return
		}
		writeHelp(e.stdout, path, c, fs)
	})
	cc.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	for _, s := range c.sub {
		cc.AddCommand(cobraCommand(e, s, path, code))
	}
	return cc
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
