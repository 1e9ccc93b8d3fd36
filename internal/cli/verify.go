package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pointsav/plinth/internal/proc"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sddf"
)

func boardsVerifyCommand() *command {
	return &command{
		name:     "verify",
		args:     "BOARD",
		summary:  "check a board file's sDDF devices against a device tree (and an sDDF tree's drivers)",
		complete: boardNames,
		help: `Compare every sDDF device the board file lists with the board's device tree:
the node must exist with the same compatible strings, registers (after bus
ranges, page-aligned) and seL4 interrupts. With --sddf, each device must also
match, by compatible string, the driver the board file names among that sDDF
tree's drivers/*/config.json. Disagreements are reported at the board file's
lines. A .dts is compiled with dtc first.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			dtPath := fs.String("dt", "", "the board's device tree: a `FILE`.dtb, or a .dts (compiled with dtc)")
			sddfDir := fs.String("sddf", "", "an sDDF source tree (`DIR`) whose drivers the devices must match")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one board name")
				}
				if *dtPath == "" {
					return usageError(e, "give the board's device tree with --dt FILE")
				}
				b, ok := bf.loadOne(e, args[0])
				if !ok {
					return ExitFail
				}
				if b.SDDF == nil {
					fmt.Fprintf(e.stderr, "%s: board %s lists no sDDF devices\n", e.path, b.Name)
					return ExitFail
				}
				dtb, err := readDTB(*dtPath)
				if err != nil {
					return e.fail(err)
				}
				tree, err := sddf.ReadTree(bytes.NewReader(dtb))
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, *dtPath, err)
					return ExitFail
				}
				var drivers []sddf.Driver
				if *sddfDir != "" {
					if drivers, err = sddf.LoadDrivers(os.DirFS(*sddfDir)); err != nil {
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, *sddfDir, err)
						return ExitFail
					}
				}
				var d diag.List
				agree := sddf.CheckBoard(b, tree, *dtPath, drivers, &d)
				d.Write(e.stderr)
				if d.HasErrors() {
					return ExitFail
				}
				what := "the device tree"
				if drivers != nil {
					what += fmt.Sprintf(" and sDDF's %d drivers", len(drivers))
				}
				fmt.Fprintf(e.stdout, "%s: %d sDDF devices agree with %s\n", b.Name, agree, what)
				return ExitOK
			}
		},
	}
}

// readDTB reads a .dtb, or compiles a .dts with dtc.
func readDTB(path string) ([]byte, error) {
	if !strings.HasSuffix(path, ".dts") {
		return os.ReadFile(path)
	}
	if _, err := exec.LookPath("dtc"); err != nil {
		return nil, fmt.Errorf("%s: compiling a .dts needs dtc (apt-get install device-tree-compiler)", path)
	}
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dtc", "-q", "-I", "dts", "-O", "dtb", path)
	proc.Bind(cmd)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dtc %s: %v\n%s", path, err, stderr.String())
	}
	return out, nil
}
