package cli

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipes"
)

var completionScripts = map[string]string{
	"bash": `# bash completion for plinth: source <(plinth completion bash)
_plinth() {
    local IFS=$'\n'
    COMPREPLY=($(plinth __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _plinth plinth
`,
	"zsh": `#compdef plinth
# zsh completion for plinth: source <(plinth completion zsh)
_plinth() {
    local -a candidates
    candidates=("${(@f)$(plinth __complete -- "${words[@]:1:$((CURRENT-1))}" 2>/dev/null)}")
    if (( ${#candidates} )) && [[ -n ${candidates[1]} ]]; then
        compadd -a candidates
    else
        _files
    fi
}
compdef _plinth plinth
`,
	"fish": `# fish completion for plinth: plinth completion fish | source
function __plinth_complete
    set -l tokens (commandline -opc) (commandline -ct)
    plinth __complete -- $tokens[2..-1] 2>/dev/null
end
complete -c plinth -a '(__plinth_complete)'
`,
}

func completionCommand() *command {
	return &command{
		name:    "completion",
		args:    "bash|zsh|fish",
		summary: "print a shell completion script",
		help: `Print a completion script for bash, zsh or fish. It completes verbs, flags,
board names, configuration names and shipped recipes:

  source <(plinth completion bash)     # bash, e.g. in ~/.bashrc
  source <(plinth completion zsh)      # zsh
  plinth completion fish | source      # fish`,
		complete: func(*env) []string { return []string{"bash", "fish", "zsh"} },
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 1 || completionScripts[args[0]] == "" {
					return usageError(e, "give bash, zsh or fish")
				}
				fmt.Fprint(e.stdout, completionScripts[args[0]])
				return ExitOK
			}
		},
	}
}

// completeCommand answers the completion scripts: given the words typed
// after "plinth" (the last one being completed), it prints the candidates.
func completeCommand() *command {
	return &command{
		name:   "__complete",
		hidden: true,
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				for _, c := range complete(e, args) {
					fmt.Fprintln(e.stdout, c)
				}
				return ExitOK
			}
		},
	}
}

func complete(e *env, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cmd := commands()
	partial := words[len(words)-1]
	pendingFlag := ""
	for _, w := range words[:len(words)-1] {
		switch {
		case pendingFlag != "":
			pendingFlag = ""
		case strings.HasPrefix(w, "-"):
			name := strings.TrimLeft(w, "-")
			if !strings.Contains(name, "=") && flagTakesValue(cmd, name) {
				pendingFlag = name
			}
		default:
			if sub := cmd.find(w); sub != nil {
				cmd = sub
			}
		}
	}
	var cands []string
	switch {
	case pendingFlag != "":
		cands = flagValues(e, pendingFlag)
	case strings.HasPrefix(partial, "-"):
		if cmd.setup != nil {
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			cmd.setup(fs)
			fs.VisitAll(func(f *flag.Flag) { cands = append(cands, "--"+f.Name) })
		}
		cands = append(cands, "--help")
	default:
		for _, s := range cmd.sub {
			if !s.hidden {
				cands = append(cands, s.name)
			}
		}
		if cmd.complete != nil {
			cands = append(cands, cmd.complete(e)...)
		}
	}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, partial) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func flagTakesValue(cmd *command, name string) bool {
	if cmd.setup == nil {
		return false
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	cmd.setup(fs)
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

// flagValues completes the values of flags that name plinth's own things.
func flagValues(e *env, name string) []string {
	switch name {
	case "board":
		return boardNames(e)
	case "config":
		set := quietBoards(e)
		seen := map[string]bool{}
		var out []string
		for _, b := range set.All() {
			for _, c := range b.ConfigNames() {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
		return out
	}
	return nil
}

func quietBoards(e *env) *boards.Set {
	var d diag.List
	sources := []boards.Source{boards.Embedded()}
	return boards.Load(&d, sources...)
}

func boardNames(e *env) []string { return quietBoards(e).Names() }

func recipeNames(*env) []string { return recipes.Names() }
