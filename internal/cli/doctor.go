package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/doctor"
)

// genericSteps are the steps every board's build uses.
var genericSteps = map[string]bool{"fetch": true, "sdk": true, "tool": true, "image": true, "sign": true, "bundle": true, "sddf": true, "rust": true}

func doctorCommand() *command {
	return &command{
		name:    "doctor",
		summary: "list the host tools plinth needs, found or missing",
		help: `List every host tool the supported boards and plinth's steps need: whether it
is found, its version, and for each missing one the Debian package that
provides it. Exits 1 when something is missing.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			board := fs.String("board", "", "only the tools building and emulating `BOARD` needs")
			asJSON := fs.Bool("json", false, "print the findings as JSON")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q", args[0]))
				}
				tools, err := doctor.Tools()
				if err != nil {
					return e.fail(err)
				}
				if *board != "" {
					set, ok := bf.load(e, *board)
					if !ok {
						return ExitFail
					}
					b, found := set.Get(*board)
					if !found {
						fmt.Fprintf(e.stderr, "%s: %s\n", e.path, set.UnknownError(*board))
						return ExitFail
					}
					tools = toolsForBoard(tools, b)
				}
				findings := doctor.Examine(context.Background(), e.host, tools)
				var missing []string
				seen := map[string]bool{}
				for _, f := range findings {
					if !f.Found && !seen[f.Tool.Package] {
						seen[f.Tool.Package] = true
						missing = append(missing, f.Tool.Package)
					}
				}
				if *asJSON {
					writeJSON(e, map[string]any{"tools": findings, "missing_packages": orEmpty(missing)})
				} else {
					writeFindings(e, findings, missing)
				}
				if len(missing) > 0 {
					return ExitFail
				}
				return ExitOK
			}
		},
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// toolsForBoard keeps the tools one board's build and emulation need.
func toolsForBoard(tools []doctor.Tool, b *boards.Board) []doctor.Tool {
	var out []doctor.Tool
	for _, t := range tools {
		keep := false
		for _, n := range t.NeededFor {
			if genericSteps[n] || n == "arch:"+string(b.Arch) || n == "platform:"+b.Kernel.Platform {
				keep = true
			}
		}
		if b.Emulator != nil {
			for _, c := range t.Commands {
				if c == b.Emulator.Command {
					keep = true
				}
			}
		}
		if keep {
			out = append(out, t)
		}
	}
	return out
}

func writeFindings(e *env, findings []doctor.Finding, missing []string) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tTOOL\tVERSION OR PACKAGE\tNEEDED FOR")
	for _, f := range findings {
		status, detail := "ok", f.Version
		if !f.Found {
			status, detail = "MISSING", "apt-get install "+f.Tool.Package
		}
		if len(detail) > 60 {
			detail = detail[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", status, f.Tool.Name, detail, strings.Join(f.Tool.NeededFor, ", "))
	}
	tw.Flush()
	if len(missing) == 0 {
		fmt.Fprintf(e.stdout, "\nAll %d tools found.\n", len(findings))
		return
	}
	n := 0
	for _, f := range findings {
		if !f.Found {
			n++
		}
	}
	fmt.Fprintf(e.stdout, "\n%d of %d tools missing. On Debian: apt-get install %s\n", n, len(findings), strings.Join(missing, " "))
}
