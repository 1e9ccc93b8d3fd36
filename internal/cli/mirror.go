package cli

import (
	"flag"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/pipeline"
)

// mirrorCommand copies every pinned source recipes need into a directory,
// with a mirror map, for machines without the network.
func mirrorCommand() *command {
	return &command{
		name:     "mirror",
		args:     "RECIPE...",
		summary:  "copy every pinned source of recipes into a directory, with a mirror map, for air-gapped builds",
		complete: recipeNames,
		help: `On a machine that can reach the sources, fetch every pinned source the recipes
name (git repositories holding the pinned commits and the submodules' they
record, archives checked against their sha256, the SDK release, the crates
a component's Cargo.lock pins as .crate files) into DIR, as
bare repositories and files, and write DIR/mirrors.yaml. On a machine that
cannot, build with:
  plinth build RECIPE --offline --mirror DIR/mirrors.yaml
Running it again adds what is missing and keeps what is there (resumable);
a build from the mirrors checks every commit and hash, so a mirror that does
not hold what the recipe pins is refused.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			var ef engineFlags
			ef.add(fs, false)
			out := fs.String("o", "", "the mirror directory (`DIR`; required)")
			return func(e *env, args []string) int {
				if len(args) == 0 {
					return usageError(e, "give at least one recipe")
				}
				if *out == "" {
					return usageError(e, "give the mirror directory with -o DIR")
				}
				_, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				m, err := builder.OpenMirrorDir(*out, fetcher)
				if err != nil {
					return e.fail(err)
				}
				m.Log = func(format string, args ...any) { fmt.Fprintf(e.stdout, format+"\n", args...) }
				ctx, stop := signalContext()
				defer stop()
				failed := 0
				for _, arg := range args {
					r, ok := loadCheckedRecipe(e, arg, &bf)
					if !ok {
						failed++
						continue
					}
					// The crates Cargo.locks pin are sources too.
					if locked, err := pipeline.WithLockedCrates(ctx, r, map[string]builder.Fetched{}, fetcher); err != nil {
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, r.Name, err)
						failed++
					} else {
						r = locked
					}
					for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
						s := r.Sources[name]
						if s == nil || s.Kind() == "path" {
							continue // on this machine already
						}
						pin, err := r.PinOf(name)
						if err == nil {
							if s.Kind() == "git" {
								err = m.Git(ctx, s.Git, pin, s.Submodules)
							} else {
								err = m.Archive(ctx, s.Archive, pin)
							}
						}
						if err != nil {
							fmt.Fprintf(e.stderr, "%s: %s: source %s: %v\n", e.path, r.Name, name, err)
							failed++
						}
					}
					if rel := r.SDK.Release; rel != nil {
						if err := m.Archive(ctx, rel.URL, rel.SHA256); err != nil {
							fmt.Fprintf(e.stderr, "%s: %s: the SDK release: %v\n", e.path, r.Name, err)
							failed++
						}
					}
				}
				// What was mirrored is kept and mapped even when something
				// failed: the next run goes on from it.
				if err := m.WriteMap(); err != nil {
					return e.fail(err)
				}
				if failed > 0 {
					fmt.Fprintf(e.stderr, "%s: %d source(s) not mirrored; run it again where they can be had\n", e.path, failed)
					return ExitFail
				}
				fmt.Fprintf(e.stdout, "mirrors in %s; build offline with --mirror %s\n", *out, filepath.Join(*out, "mirrors.yaml"))
				return ExitOK
			}
		},
	}
}
