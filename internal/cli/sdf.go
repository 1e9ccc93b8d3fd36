package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/pointsav/plinth/deployment"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/recipes"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/proc"
	"github.com/pointsav/plinth/sdf"
)

// latestMicrokit is the Microkit release system descriptions are checked
// as unless --microkit says otherwise.
const latestMicrokit = "2.3.0"

// shippedVersions are the Microkit versions of the shipped recipes that
// list a board, sorted.
func shippedVersions(board string) []string {
	seen := map[string]bool{}
	for _, name := range recipes.Names() {
		data, err := fs.ReadFile(recipes.FS(), name+"/recipe.yaml")
		if err != nil {
			continue
		}
		var d diag.List
		r := recipe.Parse(name+"/recipe.yaml", data, &d)
		if r != nil && r.SDK.Version != "" && slices.Contains(r.Boards, board) {
			seen[r.SDK.Version] = true
		}
	}
	return slices.SortedFunc(maps.Keys(seen), sdf.CompareVersions)
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// sdfFlags is the flag group that says what a system description is
// checked against.
type sdfFlags struct {
	boards      boardFlags
	board       string
	config      string
	microkit    string
	searchPaths stringList
	policy      string
}

func (f *sdfFlags) add(fs *flag.FlagSet, boardRequired bool) {
	f.boards.add(fs)
	help := "the board to check against (its cores, hypervisor, IOMMU, SMC support)"
	if !boardRequired {
		help += "; without it, only rules that need no board are checked"
	}
	fs.StringVar(&f.board, "board", "", help+" (`BOARD`)")
	fs.StringVar(&f.config, "config", "debug", "the kernel configuration (`CONFIG`)")
	fs.StringVar(&f.microkit, "microkit", "", "check as Microkit `VERSION` (2.0.1 has fewer elements and attributes than 2.3.0; default: the version the board's shipped recipes use, else "+latestMicrokit+")")
	fs.Var(&f.searchPaths, "search-path", "where prefill files are looked for (`DIR`, repeatable; default: the file's directory)")
	fs.StringVar(&f.policy, "policy", "", "a one-way information-flow policy to enforce (`FILE`, YAML)")
}

// load parses the file against the chosen target; diagnostics go to d.
func (f *sdfFlags) load(e *env, file string, d *diag.List) (*sdf.System, *sdf.Policy, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", e.path, err)
		return nil, nil, false
	}
	var t sdf.Target
	if f.board != "" {
		set, ok := f.boards.load(e, f.board)
		if !ok {
			return nil, nil, false
		}
		b, found := set.Get(f.board)
		if !found {
			fmt.Fprintf(e.stderr, "%s: %s\n", e.path, set.UnknownError(f.board))
			return nil, nil, false
		}
		if f.microkit == "" {
			versions := shippedVersions(b.Name)
			switch len(versions) {
			case 0:
				f.microkit = latestMicrokit
			case 1:
				f.microkit = versions[0]
			default:
				// The newest, as the upstream tool of the day would check
				// it; said, since the file itself names no version.
				f.microkit = versions[len(versions)-1]
				fmt.Fprintf(e.stderr, "%s: checking against Microkit %s, the newest of board %s's shipped recipes (%s); choose with --microkit\n", e.path, f.microkit, b.Name, strings.Join(versions, ", "))
			}
		}
		// As plinth check says it: a board Microkit added later is not
		// there in an earlier version.
		if b.Since != "" && b.Since != "dev" && sdf.CompareVersions(b.Since, f.microkit) > 0 {
			fmt.Fprintf(e.stderr, "%s: %s needs Microkit %s or later; --microkit is %s\n", e.path, b.Name, b.Since, f.microkit)
			return nil, nil, false
		}
		if t, err = sdf.TargetFor(b, f.config, f.microkit); err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", e.path, err)
			return nil, nil, false
		}
	} else {
		if f.microkit == "" {
			f.microkit = latestMicrokit
		}
		t = sdf.Permissive(guessArch(data))
		t.Version = f.microkit
	}
	t.SearchPaths = f.searchPaths
	if len(t.SearchPaths) == 0 {
		t.SearchPaths = []string{filepath.Dir(file)}
	}
	s := sdf.Parse(file, data, t, d)
	var pol *sdf.Policy
	if f.policy != "" {
		pdata, err := os.ReadFile(f.policy)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: %v\n", e.path, err)
			return nil, nil, false
		}
		pol = sdf.ParsePolicy(f.policy, pdata, d)
		if s != nil && pol != nil {
			sdf.CheckPolicy(s, pol, d)
		}
	}
	return s, pol, true
}

// guessArch reads x86 from the elements only x86 systems have.
func guessArch(data []byte) string {
	for _, marker := range []string{"<ioport", " pin=", " pcidev=", "<io_address_space"} {
		if bytes.Contains(data, []byte(marker)) {
			return "x86_64"
		}
	}
	return "aarch64"
}

func sdfCommand() *command {
	return &command{
		name:    "sdf",
		summary: "check, format and draw Microkit system descriptions",
		sub:     []*command{sdfCheckCommand(), sdfFmtCommand(), sdfGraphCommand()},
	}
}

func sdfCheckCommand() *command {
	return &command{
		name:    "check",
		args:    "FILE",
		summary: "check a system description against a board: every rule, every problem",
		help: `Check a Microkit system description the way the Microkit tool does, before a
build: every element and attribute, every whole-system rule, and the rules that
depend on the board and configuration. All problems are reported, each as
FILE:LINE:COL: error: MESSAGE. With --policy, also enforce a one-way
information-flow policy. Exits 0 when valid (warnings allowed), 1 otherwise.`,
		setup: func(fs *flag.FlagSet) run {
			var f sdfFlags
			f.add(fs, true)
			asJSON := fs.Bool("json", false, "print the result and diagnostics as JSON")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one system description")
				}
				if f.board == "" {
					return usageError(e, "--board is required (plinth boards lists them)")
				}
				var d diag.List
				s, _, ok := f.load(e, args[0], &d)
				if !ok {
					return ExitFail
				}
				if !reportDiagnostics(e, &d, *asJSON, nil) {
					return ExitFail
				}
				if !*asJSON {
					fmt.Fprintf(e.stdout, "%s: ok (%d protection domains, %d channels, %d memory regions; %s %s, Microkit %s)\n",
						args[0], len(s.AllPDs()), len(s.Channels), len(s.MRs), f.board, f.config, f.microkit)
				}
				return ExitOK
			}
		},
	}
}

func sdfFmtCommand() *command {
	return &command{
		name:    "fmt",
		args:    "FILE",
		summary: "print a system description in canonical form",
		help: `Print the system description in plinth's canonical form: stable element and
attribute order, hex addresses and sizes, four-space indentation, comments
kept. Parsing the output gives the same system. With -w, rewrite the file in
place (through a temporary file, so an interrupted write loses nothing).
A file with errors is not formatted.`,
		setup: func(fs *flag.FlagSet) run {
			var f sdfFlags
			f.add(fs, false)
			write := fs.Bool("w", false, "write the result to the file instead of standard output")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one system description")
				}
				var d diag.List
				s, _, ok := f.load(e, args[0], &d)
				if !ok {
					return ExitFail
				}
				d.Write(e.stderr)
				if d.HasErrors() || s == nil {
					return ExitFail
				}
				out := sdf.Format(s)
				if *write {
					if err := atomicfile.Write(args[0], out, 0o644); err != nil {
						return e.fail(err)
					}
					return ExitOK
				}
				e.stdout.Write(out)
				return ExitOK
			}
		},
	}
}

func sdfGraphCommand() *command {
	return &command{
		name:    "graph",
		args:    "FILE",
		summary: "draw a system: PDs, channels, shared memory, IRQs",
		help: `Draw the system as SVG, PNG or DOT: each protection domain with its
priority, core, passive flag and IRQs, drawn with the other parts of its
sDDF class (or, with --policy, in its zone); a region two protection
domains share as one labelled line between them (a queue's halves and its
data together); each channel with who may notify whom and the direction of
protected calls. Graphviz's dot lays it out where it is installed (PNG needs
it); otherwise plinth draws the SVG itself. Nothing is drawn, and nothing
written, when the system has errors.`,
		setup: func(fs *flag.FlagSet) run {
			var f sdfFlags
			f.add(fs, false)
			out := fs.String("o", "", "write to `FILE` instead of standard output")
			format := fs.String("format", "", "`FORMAT`: svg, png or dot (default: from the -o file name's extension, else svg)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one system description")
				}
				form := *format
				if form == "" {
					switch ext := filepath.Ext(*out); ext {
					case "", ".svg":
						form = "svg"
					case ".dot", ".gv":
						form = "dot"
					case ".png":
						form = "png"
					default:
						return usageError(e, fmt.Sprintf("-o %s: plinth draws .svg, .png or .dot; name the file so, or give --format", *out))
					}
				}
				if form != "svg" && form != "dot" && form != "png" {
					return usageError(e, fmt.Sprintf("--format %q: give svg, png or dot", form))
				}
				if isDeployment(args[0]) {
					return drawDeployment(e, args[0], form, *out)
				}
				var d diag.List
				s, pol, ok := f.load(e, args[0], &d)
				if !ok {
					return ExitFail
				}
				d.Write(e.stderr)
				if s == nil || d.HasErrors() {
					return ExitFail
				}
				var opt sdf.GraphOptions
				if pol != nil {
					opt.Zones = pol.Zones
				}
				pic, err := drawSystem(s, opt, form)
				if err != nil {
					return e.fail(err)
				}
				if *out == "" {
					e.stdout.Write(pic)
				} else if err := atomicfile.Write(*out, pic, 0o644); err != nil {
					return e.fail(err)
				}
				return ExitOK
			}
		},
	}
}

// drawSystem renders a system: DOT as it is; SVG and PNG laid out by
// Graphviz's dot where it is installed, SVG by plinth's own drawing
// otherwise.
func drawSystem(s *sdf.System, opt sdf.GraphOptions, form string) ([]byte, error) {
	return renderDOT(sdf.DOT(s, opt), form, func() []byte { return sdf.SVG(s, opt) })
}

// drawDeployment draws a deployment's systems in their zones and the links
// between them; nothing when it has errors.
func drawDeployment(e *env, file, form, out string) int {
	var d diag.List
	data, err := os.ReadFile(file)
	if err != nil {
		return e.fail(err)
	}
	dep := deployment.Parse(file, data, &d)
	if dep != nil {
		deployment.Check(dep, &d)
	}
	d.Write(e.stderr)
	if dep == nil || d.HasErrors() {
		return ExitFail
	}
	pic, err := renderDOT(deployment.DOT(dep), form, nil)
	if err != nil {
		return e.fail(err)
	}
	if out == "" {
		e.stdout.Write(pic)
	} else if err := atomicfile.Write(out, pic, 0o644); err != nil {
		return e.fail(err)
	}
	return ExitOK
}

// renderDOT lays a DOT graph out with Graphviz as form (svg, png; dot is
// the graph itself); without Graphviz, svg is plinth's own drawing when
// there is one.
func renderDOT(dot []byte, form string, ownSVG func() []byte) ([]byte, error) {
	if form == "dot" {
		return dot, nil
	}
	bin, err := exec.LookPath("dot")
	if err != nil {
		if form == "png" || ownSVG == nil {
			return nil, fmt.Errorf("a %s needs Graphviz's dot (apt-get install graphviz); DOT does not", strings.ToUpper(form))
		}
		return ownSVG(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-T"+form)
	proc.Bind(cmd)
	cmd.Stdin = bytes.NewReader(dot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pic, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dot -T%s: %v: %s", form, err, strings.TrimSpace(stderr.String()))
	}
	return pic, nil
}
