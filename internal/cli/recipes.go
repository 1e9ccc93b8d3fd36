package cli

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/recipes"
)

func recipesCommand() *command {
	return &command{
		name:    "recipes",
		summary: "list the recipes shipped with plinth",
		setup: func(fs *flag.FlagSet) run {
			asJSON := fs.Bool("json", false, "print the recipes as JSON")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q", args[0]))
				}
				var list []*recipe.Recipe
				var d diag.List
				for _, name := range recipes.Names() {
					if r, _ := loadRecipe(e, name, &d); r != nil {
						list = append(list, r)
					}
				}
				if d.HasErrors() {
					d.Write(e.stderr)
					return ExitFail
				}
				if *asJSON {
					return writeJSON(e, list)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "RECIPE\tBOARDS\tCONFIGS\tMICROKIT\tDESCRIPTION")
				for _, r := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.Boards, ","), strings.Join(r.Configs, ","), r.SDK.Version, r.Description)
				}
				tw.Flush()
				return ExitOK
			}
		},
	}
}

// osFS lets the recipe checks look at files on disk by their native paths.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error)          { return os.Open(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
func (osFS) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }

// Native marks a file system whose paths are this machine's.
func (osFS) Native() {}

// loadRecipe reads a recipe named by a path (a file, or a directory holding
// recipe.yaml) or by the name of a shipped recipe. It returns the decoded
// recipe (nil if unreadable) and the file system its local paths live in.
func loadRecipe(e *env, arg string, d *diag.List) (*recipe.Recipe, fs.FS) {
	file := arg
	if info, err := os.Stat(arg); err == nil {
		if info.IsDir() {
			file = filepath.Join(arg, "recipe.yaml")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			d.Errorf(diag.Pos{File: file}, "cannot read recipe: %v", err)
			return nil, nil
		}
		return recipe.Parse(file, data, d), osFS{}
	}
	for _, name := range recipes.Names() {
		if name == arg {
			p := name + "/recipe.yaml"
			data, err := fs.ReadFile(recipes.FS(), p)
			if err != nil {
				d.Errorf(diag.Pos{File: "recipes/" + p}, "%v", err)
				return nil, nil
			}
			r := recipe.Parse("recipes/"+p, data, d)
			if r != nil {
				r.Dir = name // local paths resolve inside the embedded tree
			}
			return r, shippedFS{}
		}
	}
	msg := fmt.Sprintf("no recipe file or shipped recipe named %q", arg)
	if s, ok := diag.Closest(arg, recipes.Names()); ok {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.Errorf(diag.Pos{File: arg}, "%s; 'plinth recipes' lists the shipped ones", msg)
	return nil, nil
}

// shippedFS is the embedded recipes tree, addressed like a directory.
type shippedFS struct{}

func (shippedFS) Open(name string) (fs.File, error) { return recipes.FS().Open(name) }

func checkCommand() *command {
	return &command{
		name:     "check",
		args:     "RECIPE|DEPLOYMENT.yaml",
		summary:  "validate a recipe and its boards without building",
		complete: recipeNames,
		help: `Check a recipe (a file, a directory holding recipe.yaml, or the name of a
shipped recipe) and the boards it names, without fetching or building
anything. Every problem is reported as FILE:LINE:COL: error: MESSAGE.

A deployment file is checked with the recipe of each of its systems: names,
zones, boards and configurations, and that every link carries commands only
down the zones and telemetry only up.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			board := fs.String("board", "", "check only for `BOARD` (one of the recipe's boards)")
			asJSON := fs.Bool("json", false, "print the result and diagnostics as JSON")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one recipe")
				}
				if isDeployment(args[0]) {
					dep, plan, ok := planDeployment(e, args[0], &bf)
					if !ok {
						return ExitFail
					}
					fmt.Fprintf(e.stdout, "%s: ok: %d systems in %d zones, %d links (commands only down, telemetry only up), %d absent-code rules (checked by plinth build)\n",
						dep.Name, len(plan), len(dep.Zones), len(dep.Links), len(dep.Absent))
					for _, p := range plan {
						fmt.Fprintf(e.stdout, "  system %s (zone %s): %s for %s/%s\n", p.sys.Name, p.sys.Zone, p.recipe.Name, p.board.Name, p.config)
					}
					return ExitOK
				}
				set, ok := bf.load(e)
				if !ok {
					return ExitFail
				}
				var d diag.List
				r, rfs := loadRecipe(e, args[0], &d)
				if r != nil {
					attachLock(r, &d)
					recipe.Check(r, set, rfs, &d)
					if *board != "" && !slices.Contains(r.Boards, *board) {
						d.Errorf(r.Meta.At("boards"), "--board %s: the recipe does not list this board (it lists: %s)", *board, strings.Join(r.Boards, ", "))
					}
				}
				extra := map[string]any{}
				if r != nil {
					extra["recipe"] = r.Name
				}
				if !reportDiagnostics(e, &d, *asJSON, extra) {
					return ExitFail
				}
				if !*asJSON {
					writeCheckSummary(e, r, set, *board)
				}
				return ExitOK
			}
		},
	}
}

func writeCheckSummary(e *env, r *recipe.Recipe, set *boards.Set, only string) {
	list := r.Boards
	if only != "" {
		list = []string{only}
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", r.Name)
	for _, name := range list {
		b, _ := set.Get(name)
		boot := b.BootFor(r.SDK.Version)
		fmt.Fprintf(e.stdout, "  board %s (%s, %s): configs %s, image %s, boot %s\n", name, b.Arch, b.Kernel.Platform, strings.Join(r.Configs, ", "), imageFor(r, b), bootSummary(boot))
	}
	sdk := "Microkit " + r.SDK.Version
	switch {
	case r.SDK.Build != nil:
		sdk += " built from " + pin(r, r.SDK.Build.Microkit) + " and " + pin(r, r.SDK.Build.SeL4)
	case r.SDK.Release != nil:
		sdk += " release " + r.SDK.Release.URL
	case r.SDK.Path != "":
		sdk += " at " + r.SDK.Path
	}
	fmt.Fprintf(e.stdout, "  sdk: %s\n", sdk)
	if r.UBoot != nil {
		fmt.Fprintf(e.stdout, "  u-boot: built from %s with each board's defconfig and plinth's configuration (pipeline/uboot.config)\n", pin(r, r.UBoot.Source))
	}
	for _, c := range r.Components {
		fmt.Fprintf(e.stdout, "  component %s (%s) from %s/%s\n", c.Name, c.Lang, pin(r, c.Source), c.Dir)
	}
	if r.Expect != nil && r.Expect.Boot != nil {
		var booted, built []string
		for _, name := range list {
			if b, _ := set.Get(name); b.Emulator != nil {
				booted = append(booted, name)
			} else {
				built = append(built, name)
			}
		}
		where := "booted on " + strings.Join(booted, ", ")
		if len(booted) == 0 {
			where = "never checked: no board has an emulator"
		} else if len(built) > 0 {
			where += fmt.Sprintf("; %d other boards are built only", len(built))
		}
		fmt.Fprintf(e.stdout, "  expects %d console lines within %s (%s)\n", len(r.Expect.Boot.Serial), time.Duration(r.Expect.Boot.Timeout), where)
	}
}

func imageFor(r *recipe.Recipe, b *boards.Board) string {
	if r.Outputs.ImageType != "" {
		return r.Outputs.ImageType
	}
	def, _ := b.ImageFor(r.SDK.Version)
	return string(def)
}

func pin(r *recipe.Recipe, name string) string {
	s, ok := r.Sources[name]
	if !ok || s == nil {
		return name
	}
	switch s.Kind() {
	case "git":
		if len(s.Commit) >= 12 {
			return name + "@" + s.Commit[:12]
		}
	case "archive":
		if len(s.SHA256) >= 12 {
			return name + "@sha256:" + s.SHA256[:12]
		}
	}
	return name
}

// reportDiagnostics prints what a check found: the diagnostics and a count
// of errors on standard error, or with asJSON one object on standard output
// (ok, diagnostics and the extra fields). It reports whether there were no
// errors.
func reportDiagnostics(e *env, d *diag.List, asJSON bool, extra map[string]any) bool {
	if asJSON {
		res := map[string]any{"ok": !d.HasErrors(), "diagnostics": d.Items()}
		for k, v := range extra {
			res[k] = v
		}
		writeJSON(e, res)
		return !d.HasErrors()
	}
	d.Write(e.stderr)
	if d.HasErrors() {
		fmt.Fprintf(e.stderr, "%d error(s)\n", d.ErrorCount())
		return false
	}
	return true
}

// bootSummary is a board's boot method and address in a few words.
func bootSummary(b boards.Boot) string {
	if b.LoadAddress == 0 {
		return string(b.Method)
	}
	return fmt.Sprintf("%s at %#x", b.Method, b.LoadAddress)
}
