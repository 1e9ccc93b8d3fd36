package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/internal/safename"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/sdf"
)

// Options are the settings of a build.
type Options struct {
	Cache   *builder.Cache
	Fetcher *builder.Fetcher
	Jobs    int
	OutRoot string // artifacts go to OutRoot/<recipe>/<board>/<config>/
	Version string // plinth's identity
	Path    string // the PATH steps see (default: the host's)
	Events  func(builder.Event)
	// Boot names boot artifacts to make beside the image (BootUBoot), and
	// BootKey signs them.
	Boot    string
	BootKey *image.Key
	// CacheOnly takes every step from the cache and runs none (a release
	// assembled from what its runners built).
	CacheOnly bool
}

// neededSources are the sources the build's steps use: only those are
// fetched.
func neededSources(r *recipe.Recipe) []string {
	seen := map[string]bool{}
	var out []string
	for _, st := range r.Steps {
		for _, s := range st.Sources {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// FetchSources brings the named sources of a recipe into the store. It
// tries every source, and names each one it could not get with the two ways
// to provide it.
func FetchSources(ctx context.Context, r *recipe.Recipe, names []string, f *builder.Fetcher) (map[string]builder.Fetched, error) {
	out := map[string]builder.Fetched{}
	var missing []string
	for _, name := range names {
		s := r.Sources[name]
		if s == nil {
			return nil, fmt.Errorf("no source %q", name)
		}
		var got builder.Fetched
		var err error
		var where string
		switch s.Kind() {
		case "git":
			where = s.Git
			pin, perr := r.PinOf(name)
			if perr != nil {
				return nil, perr
			}
			if s.Submodules {
				got, err = f.GitWithSubmodules(ctx, s.Git, pin)
			} else {
				got, err = f.Git(ctx, s.Git, pin)
			}
		case "archive":
			where = s.Archive
			pin, perr := r.PinOf(name)
			if perr != nil {
				return nil, perr
			}
			got, err = f.Archive(ctx, s.Archive, pin, s.Strip)
		case "path":
			got, err = f.Path(filepath.Join(r.Dir, s.Path))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			if where != "" && !f.Mirrored(where) && errors.Is(err, builder.ErrUnavailable) {
				missing = append(missing, fmt.Sprintf("  %s (%s): %s", name, where, strings.TrimPrefix(err.Error(), where+": ")))
				continue
			}
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
		out[name] = got
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d source(s) could not be had:\n%s\nProvide them either way: a mirror map rewriting their URLs to local copies (--mirror FILE or PLINTH_MIRRORS; see docs/build.md), or network access to their URLs (without --offline)", len(missing), strings.Join(missing, "\n"))
	}
	return out, nil
}

// Graph turns a recipe's steps into the build graph for one board and
// configuration.
func Graph(r *recipe.Recipe, b *boards.Board, config string, fetched map[string]builder.Fetched, opt Options) ([]*builder.Step, error) {
	opts, err := b.KernelOptions(config)
	if err != nil {
		return nil, err
	}
	boardKey := map[string]any{"name": b.Name, "arch": b.Arch, "cpu": b.CPU, "config": config, "kernel_options": opts}
	path := opt.Path
	if path == "" {
		path = os.Getenv("PATH")
	}
	tools := &builder.Tools{Path: path, Cache: opt.Cache}
	steps := map[string]*builder.Step{}
	var order []*builder.Step
	for _, rs := range r.Steps {
		st := &builder.Step{Name: rs.Name, Outputs: rs.Outputs}
		steps[rs.Name] = st
		order = append(order, st)
	}
	for _, rs := range r.Steps {
		rs := rs
		st := steps[rs.Name]
		for _, n := range rs.Needs {
			st.Deps = append(st.Deps, steps[n])
		}
		var epoch int64
		srcDigests := map[string]builder.Digest{}
		for _, s := range rs.Sources {
			srcDigests[s] = fetched[s].Digest
			epoch = max(epoch, fetched[s].Epoch)
		}
		var ids []builder.Tool
		for _, name := range append([]string{rs.Run[0]}, rs.Tools...) {
			t, err := tools.Identify(name)
			if err != nil {
				return nil, fmt.Errorf("step %s: %w", rs.Name, err)
			}
			ids = append(ids, t)
		}
		h := builder.Hermetic{Path: path, Epoch: epoch}
		st.Key = map[string]any{"run": rs.Run, "env": h.KeyEnv(rs.Env), "tools": ids, "sources": srcDigests, "board": boardKey}
		vars := map[string]string{"board": b.Name, "config": config, "arch": string(b.Arch), "out": "out"}
		// As an REAPI action the command runs in its input root, where
		// the work directory is "." already.
		spec := &builder.Spec{Argv: expandAll(rs.Run, vars, builder.PrefixMap(".")), Env: h.KeyEnv(rs.Env), Inputs: map[string]string{}}
		for _, s := range rs.Sources {
			spec.Inputs["src/"+s] = fetched[s].Dir
		}
		st.Spec = spec
		st.Run = func(ctx context.Context, sc *builder.StepContext) error {
			for _, s := range rs.Sources {
				if err := builder.CopyTree(fetched[s].Dir, filepath.Join(sc.Work, "src", s)); err != nil {
					return err
				}
			}
			for name, dir := range sc.Deps {
				if err := builder.CopyTree(dir, filepath.Join(sc.Work, "in", name)); err != nil {
					return err
				}
			}
			return h.RunCommand(ctx, sc.Work, sc.Work, expandAll(rs.Run, vars, builder.PrefixMap(sc.Work)), rs.Env, sc.Log)
		}
	}
	return order, nil
}

// expandAll expands a command line's placeholders, {prefix_map} as given.
func expandAll(run []string, vars map[string]string, prefixMap string) []string {
	stepVars := map[string]string{"prefix_map": prefixMap}
	for k, v := range vars {
		stepVars[k] = v
	}
	argv := make([]string, len(run))
	for i, a := range run {
		argv[i] = expand(a, stepVars)
	}
	return argv
}

var placeholderRe = regexp.MustCompile(`\{[^}]*\}`)

// expand replaces {out}, {board}, {config}, {arch}, {prefix_map},
// {src:NAME} and {in:STEP} with what they stand for in the work directory.
func expand(arg string, vars map[string]string) string {
	return placeholderRe.ReplaceAllStringFunc(arg, func(ph string) string {
		inner := strings.Trim(ph, "{}")
		if kind, name, ok := strings.Cut(inner, ":"); ok {
			switch kind {
			case "src":
				return "src/" + name
			case "in":
				return "in/" + name
			}
		}
		if v, ok := vars[inner]; ok {
			return v
		}
		return ph
	})
}

// Prepared is a build ready to run: its steps, sources and tools.
type Prepared struct {
	Recipe  *recipe.Recipe // with its locked crates as sources
	Board   *boards.Board
	Config  string
	Steps   []*builder.Step
	Fetched map[string]builder.Fetched
	Tools   *builder.Tools
	Dir     string // where its artifacts go
}

// Prepare fetches a recipe's sources and makes its steps for one board and
// configuration: the Microkit steps (SDK, protection domains, image), the
// recipe's own and the boot artifacts'.
func Prepare(ctx context.Context, r *recipe.Recipe, b *boards.Board, config string, opt Options) (*Prepared, error) {
	names := append(microkitSources(r), neededSources(r)...)
	seen := map[string]bool{}
	var unique []string
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			unique = append(unique, n)
		}
	}
	fetched, err := FetchSources(ctx, r, unique, opt.Fetcher)
	if err != nil {
		return nil, err
	}
	// Crates pinned by Cargo.locks become sources of their own.
	if r, err = WithLockedCrates(ctx, r, fetched, opt.Fetcher); err != nil {
		return nil, err
	}
	if rel := r.SDK.Release; rel != nil {
		f, err := opt.Fetcher.Archive(ctx, rel.URL, rel.SHA256, 1)
		if err != nil {
			return nil, fmt.Errorf("the SDK release: %w", err)
		}
		fetched["sdk-release"] = f
	}
	if err := checkPathSources(r, fetched, opt); err != nil {
		return nil, err
	}
	if err := checkSystem(r, b, config, fetched); err != nil {
		return nil, err
	}
	steps, err := Graph(r, b, config, fetched, opt)
	if err != nil {
		return nil, err
	}
	path := opt.Path
	if path == "" {
		path = os.Getenv("PATH")
	}
	tools := &builder.Tools{Path: path, Cache: opt.Cache}
	mk, err := MicrokitSteps(r, b, config, fetched, builder.Hermetic{Path: path}, tools)
	if err != nil {
		return nil, err
	}
	steps = append(mk, steps...)
	boot, err := ubootSteps(r, b, fetched, mk, tools, path, opt)
	if err != nil {
		return nil, err
	}
	steps = append(steps, boot...)
	outRoot, err := filepath.Abs(opt.OutRoot)
	if err != nil {
		return nil, err
	}
	return &Prepared{Recipe: r, Board: b, Config: config, Steps: steps, Fetched: fetched, Tools: tools, Dir: filepath.Join(outRoot, r.Name, b.Name, config)}, nil
}

// Runner is the build's runner, its events labelled with the build.
func (p *Prepared) Runner(opt Options, events func(builder.Event)) *builder.Runner {
	return &builder.Runner{Cache: opt.Cache, Jobs: opt.Jobs, Out: p.Dir, Logs: filepath.Join(p.Dir, "logs"), Version: opt.Version, Events: events,
		Recipe: p.Recipe.Name, Board: p.Board.Name, Config: p.Config, CacheOnly: opt.CacheOnly}
}

// Build fetches a recipe's sources and runs its steps for one board and
// configuration (Prepare), then writes the build's manifest.
func Build(ctx context.Context, r *recipe.Recipe, b *boards.Board, config string, opt Options) (*builder.Result, error) {
	p, err := Prepare(ctx, r, b, config, opt)
	if err != nil {
		return nil, err
	}
	r, dir := p.Recipe, p.Dir
	// Every event says which build it is of; the runner's finish waits
	// for the manifest, to carry the build's directory and image.
	var finish *builder.Event
	events := func(e builder.Event) {
		if opt.Events == nil {
			return
		}
		e.Recipe, e.Board, e.Config = r.Name, b.Name, config
		if e.Kind == "finish" && finish == nil {
			finish = &e
			return
		}
		opt.Events(e)
	}
	res, err := p.Runner(opt, events).Run(ctx, p.Steps)
	defer func() {
		if finish != nil {
			opt.Events(*finish)
		}
	}()
	if err != nil {
		return res, err
	}
	// What went in and what came out, for signing and for auditors.
	if err := attest.WriteManifest(dir, r, b, config, opt.Version, p.Fetched, p.Tools.Identified(), res); err != nil {
		return res, fmt.Errorf("manifest: %w", err)
	}
	if finish != nil {
		finish.Dir = dir
		if m, err := attest.ReadManifest(dir); err == nil && m.Image != nil {
			finish.Image = m.Image.SHA256
		}
	}
	return res, nil
}

// checkPathSources refuses a local source that holds the output or cache
// directory: each build's outputs would become the next one's inputs (and a
// copy of the tree would hold itself).
func checkPathSources(r *recipe.Recipe, fetched map[string]builder.Fetched, opt Options) error {
	var dirs []string
	for _, d := range []string{opt.OutRoot, cacheDirOf(opt)} {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		dirs = append(dirs, abs)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
		s := r.Sources[name]
		f, ok := fetched[name]
		if s == nil || !ok || s.Kind() != "path" {
			continue
		}
		for _, d := range dirs {
			if rel, err := filepath.Rel(f.Dir, d); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				return fmt.Errorf("source %s (path %s) holds %s, where this build writes: its outputs would become its inputs; build with -o and --cache-dir outside it, or make the source a narrower directory", name, s.Path, d)
			}
		}
	}
	return nil
}

// RecipeFile is a file of the recipe's own (a system description beside
// it, recipe_srcs), checked to resolve, links followed, inside the recipe's
// directory: what a step reads must be what the key holds, and a link out
// of the directory would read a file of the host's.
func RecipeFile(r *recipe.Recipe, rel string) (string, error) {
	if err := safename.RelPath(rel); err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(r.Dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(filepath.Join(r.Dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	if inside, err := filepath.Rel(root, real); err != nil || inside == ".." || strings.HasPrefix(inside, "../") {
		return "", fmt.Errorf("%s resolves to %s, outside the recipe's directory: copy the file in", rel, real)
	}
	return real, nil
}

func cacheDirOf(opt Options) string {
	if opt.Cache == nil {
		return ""
	}
	return opt.Cache.Dir
}

// checkSystem checks the system description, now that its source is here,
// before anything is built: a mistake costs seconds, not a build.
func checkSystem(r *recipe.Recipe, b *boards.Board, config string, fetched map[string]builder.Fetched) error {
	if r.System.SDF == "" {
		return nil
	}
	file := filepath.Join(r.Dir, filepath.FromSlash(r.System.SDF))
	if r.System.Source != "" {
		file = filepath.Join(fetched[r.System.Source].Dir, filepath.FromSlash(r.System.SDF))
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("system description: %w", err)
	}
	t, err := sdf.TargetFor(b, config, r.SDK.Version)
	if err != nil {
		return err
	}
	t.SearchPaths = []string{filepath.Dir(file)}
	var d diag.List
	sdf.Parse(file, data, t, &d)
	if d.HasErrors() {
		var msgs []string
		for _, x := range d.Items() {
			msgs = append(msgs, x.String())
		}
		return fmt.Errorf("the system description has errors:\n%s", strings.Join(msgs, "\n"))
	}
	return nil
}
