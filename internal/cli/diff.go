package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/pointsav/plinth/attest"
)

func diffCommand() *command {
	return &command{
		name:    "diff",
		args:    "OLD-BUILD-DIR NEW-BUILD-DIR",
		summary: "compare two builds: each PD's footprint, and the outputs that changed",
		help: `Compare two build directories (out/RECIPE/BOARD/CONFIG, e.g. of two releases):
each protection domain's code, data, stack, mapped memory, channels and
interrupts from their report.json, and which outputs' digests changed
according to their manifest.json. Exits 1 when they differ, as diff(1) does.`,
		setup: func(fs *flag.FlagSet) run {
			asJSON := fs.Bool("json", false, "print the differences as JSON")
			return func(e *env, args []string) int {
				if len(args) != 2 {
					return usageError(e, "give the old and the new build directory")
				}
				var fps [2]attest.Footprint
				var ms [2]attest.Manifest
				for i, dir := range args {
					for _, f := range []struct {
						name string
						v    any
					}{{"report.json", &fps[i]}, {"manifest.json", &ms[i]}} {
						data, err := os.ReadFile(filepath.Join(dir, f.name))
						if os.IsNotExist(err) {
							return e.fail(fmt.Errorf("%s is not a build directory (no %s): give two out/RECIPE/BOARD/CONFIG directories", dir, f.name))
						}
						if err != nil {
							return e.fail(fmt.Errorf("%s: %w", dir, err))
						}
						if err := json.Unmarshal(data, f.v); err != nil {
							return e.fail(fmt.Errorf("%s: %s: %v", dir, f.name, err))
						}
					}
				}
				footprint := fps[1].Diff(&fps[0])
				changes := outputChanges(ms[0].Outputs, ms[1].Outputs)
				same := len(footprint) == 0 && len(changes) == 0
				if *asJSON {
					writeJSON(e, map[string]any{"same": same, "footprint": orEmpty(footprint), "outputs": changes})
				} else if same {
					fmt.Fprintln(e.stdout, "the builds are the same")
				} else {
					for _, l := range footprint {
						fmt.Fprintln(e.stdout, l)
					}
					for _, c := range changes {
						switch c.Change {
						case "added":
							fmt.Fprintf(e.stdout, "+ output %s\n", c.Path)
						case "removed":
							fmt.Fprintf(e.stdout, "- output %s\n", c.Path)
						default:
							fmt.Fprintf(e.stdout, "~ output %s: %.12s -> %.12s\n", c.Path, c.Old, c.New)
						}
					}
				}
				if !same {
					return ExitFail
				}
				return ExitOK
			}
		},
	}
}

// outputChange is one output that differs between two builds.
type outputChange struct {
	Path   string `json:"path"`
	Change string `json:"change"` // added, removed, changed
	Old    string `json:"old_sha256,omitempty"`
	New    string `json:"new_sha256,omitempty"`
}

// outputChanges compares two manifests' outputs, in path order.
func outputChanges(old, new []attest.ManifestFile) []outputChange {
	was := map[string]string{}
	for _, o := range old {
		was[o.Path] = o.SHA256
	}
	out := []outputChange{}
	for _, o := range new {
		switch w, ok := was[o.Path]; {
		case !ok:
			out = append(out, outputChange{Path: o.Path, Change: "added", New: o.SHA256})
		case w != o.SHA256:
			out = append(out, outputChange{Path: o.Path, Change: "changed", Old: w, New: o.SHA256})
		}
		delete(was, o.Path)
	}
	for p, w := range was {
		out = append(out, outputChange{Path: p, Change: "removed", Old: w})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
