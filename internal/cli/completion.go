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

func completionCommand() *command {
	return &command{
		name:    "completion",
		args:    "bash|zsh|fish|powershell",
		summary: "print a shell completion script",
		help: `Print a completion script for bash, zsh, fish or PowerShell. It completes
verbs, flags, board names, configuration names and shipped recipes:

  source <(plinth completion bash)              # bash, e.g. in ~/.bashrc
  source <(plinth completion zsh)               # zsh
  plinth completion fish | source               # fish
  plinth completion powershell | Out-String | Invoke-Expression   # PowerShell`,
		complete: func(*env) []string { return []string{"bash", "fish", "powershell", "zsh"} },
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give bash, zsh, fish or powershell")
				}
				var err error
				switch args[0] {
				case "bash":
					err = e.root.GenBashCompletionV2(e.stdout, true)
				case "zsh":
					err = e.root.GenZshCompletion(e.stdout)
				case "fish":
					err = e.root.GenFishCompletion(e.stdout, true)
				case "powershell":
					err = e.root.GenPowerShellCompletionWithDesc(e.stdout)
				default:
					return usageError(e, fmt.Sprintf("no completion for %q: give bash, zsh, fish or powershell", args[0]))
				}
				if err != nil {
					return e.fail(err)
				}
				return ExitOK
			}
		},
	}
}

// withPrefix keeps the candidates that start with what was typed.
func withPrefix(cands []string, partial string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, partial) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
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
