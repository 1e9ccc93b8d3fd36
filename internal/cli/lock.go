package cli

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
)

// lockCommand pins what a recipe names by tag, branch or bare URL.
func lockCommand() *command {
	return &command{
		name:     "lock",
		args:     "RECIPE",
		summary:  "pin a recipe's tags, branches and URLs in RECIPE.lock",
		complete: recipeNames,
		help: `Resolve every git source's tag or branch (ref) to a commit, and download every
archive without a sha256 to hash it, and write the pins, with the date, to the
file RECIPE.lock beside the recipe. Builds use the lock; a pin written in the
recipe itself must agree with it.`,
		setup: func(fs *flag.FlagSet) run {
			var ef engineFlags
			ef.add(fs, false)
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one recipe")
				}
				var d diag.List
				r, _ := loadRecipe(e, args[0], &d)
				if r == nil || d.HasErrors() {
					d.Write(e.stderr)
					return ExitFail
				}
				if _, err := os.Stat(r.File); err != nil {
					fmt.Fprintf(e.stderr, "%s: %s is a shipped recipe; lock a copy of it\n", e.path, args[0])
					return ExitFail
				}
				_, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				ctx, stop := signalContext()
				defer stop()
				lock := &recipe.Lock{Recipe: r.Name, Sources: map[string]recipe.Pin{}}
				now := time.Now().UTC().Format(time.RFC3339)
				for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
					s := r.Sources[name]
					pin := recipe.Pin{Date: now}
					switch s.Kind() {
					case "git":
						pin.Git, pin.Ref, pin.Commit = s.Git, s.Ref, s.Commit
						if s.Commit == "" {
							if s.Ref == "" {
								fmt.Fprintf(e.stderr, "%s: source %s has neither commit nor ref\n", e.path, name)
								return ExitFail
							}
							c, err := fetcher.ResolveRef(ctx, s.Git, s.Ref)
							if err != nil {
								fmt.Fprintf(e.stderr, "%s: source %s: %v\n", e.path, name, err)
								return ExitFail
							}
							pin.Commit = c
							// Fetch what the ref names now: proof the commit exists,
							// and the store has it for the build.
							if _, err := fetcher.Git(ctx, s.Git, pin.Commit); err != nil {
								fmt.Fprintf(e.stderr, "%s: source %s: %v\n", e.path, name, err)
								return ExitFail
							}
						}
					case "archive":
						pin.Archive, pin.SHA256 = s.Archive, s.SHA256
						if s.SHA256 == "" {
							file, err := fetcher.Download(ctx, s.Archive, "")
							if err != nil {
								fmt.Fprintf(e.stderr, "%s: source %s: %v\n", e.path, name, err)
								return ExitFail
							}
							pin.SHA256 = filepath.Base(file)
						}
					default:
						continue
					}
					lock.Sources[name] = pin
					fmt.Fprintf(e.stdout, "%-12s %s\n", name, pin.Commit+pin.SHA256)
				}
				if err := recipe.WriteLock(r.File, lock); err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "wrote %s\n", recipe.LockPath(r.File))
				return ExitOK
			}
		},
	}
}
