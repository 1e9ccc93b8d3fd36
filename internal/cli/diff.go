package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pointsav/plinth/builder"
)

func diffCommand() *command {
	return &command{
		name:    "diff",
		args:    "OLD-BUILD-DIR NEW-BUILD-DIR",
		summary: "compare two builds: each PD's footprint, and the outputs that changed",
		help: `Compare two build directories (out/RECIPE/BOARD/CONFIG, e.g. of two releases):
each protection domain's code, data, stack, mapped memory, channels and
interrupts from their report.json, and which outputs' digests changed
according to their manifest.json.`,
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 2 {
					return usageError(e, "give the old and the new build directory")
				}
				var fps [2]builder.Footprint
				var ms [2]builder.Manifest
				for i, dir := range args {
					for _, f := range []struct {
						name string
						v    any
					}{{"report.json", &fps[i]}, {"manifest.json", &ms[i]}} {
						data, err := os.ReadFile(filepath.Join(dir, f.name))
						if err != nil {
							return e.fail(fmt.Errorf("%s: %w", dir, err))
						}
						if err := json.Unmarshal(data, f.v); err != nil {
							return e.fail(fmt.Errorf("%s: %s: %v", dir, f.name, err))
						}
					}
				}
				lines := fps[1].Diff(&fps[0])
				old := map[string]string{}
				for _, o := range ms[0].Outputs {
					old[o.Path] = o.SHA256
				}
				for _, o := range ms[1].Outputs {
					switch was, ok := old[o.Path]; {
					case !ok:
						lines = append(lines, fmt.Sprintf("+ output %s", o.Path))
					case was != o.SHA256:
						lines = append(lines, fmt.Sprintf("~ output %s: %.12s -> %.12s", o.Path, was, o.SHA256))
					}
					delete(old, o.Path)
				}
				for p := range old {
					lines = append(lines, fmt.Sprintf("- output %s", p))
				}
				if len(lines) == 0 {
					fmt.Fprintln(e.stdout, "the builds are the same")
					return ExitOK
				}
				for _, l := range lines {
					fmt.Fprintln(e.stdout, l)
				}
				return ExitOK
			}
		},
	}
}
