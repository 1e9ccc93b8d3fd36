package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/farm"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/pipeline"
	"github.com/pointsav/plinth/recipe"
)

// isRelease says whether arg is a release file: YAML (not a recipe) whose
// top level has jobs.
func isRelease(arg string) bool { return yamlFileWith(arg, "jobs") }

// releaseBuild is one job of a release, checked.
type releaseBuild struct {
	recipe *recipe.Recipe
	board  *boards.Board
	config string
}

func (j releaseBuild) name() string { return j.recipe.Name + "/" + j.board.Name + "/" + j.config }

// loadRelease reads and checks a release file and every recipe it names;
// all problems are printed at once.
func loadRelease(e *env, file string, bf *boardFlags) (*farm.Release, []releaseBuild, bool) {
	var d diag.List
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, e.fail(err) == ExitOK
	}
	rel := farm.Parse(file, data, &d)
	if rel == nil {
		d.Write(e.stderr)
		return nil, nil, false
	}
	set, ok := bf.load(e)
	if !ok {
		return nil, nil, false
	}
	var jobs []releaseBuild
	seen := map[string]string{} // job name -> where it was asked for
	dirs := map[string]string{} // recipe name -> its directory
	for i, js := range rel.Jobs {
		if js == nil || js.Recipe == "" {
			continue
		}
		r, ok := loadCheckedRecipe(e, recipeIn(file, js.Recipe), bf)
		if !ok {
			d.Errorf(js.Meta.At("recipe"), "jobs[%d]: recipe %s has problems (above)", i, js.Recipe)
			continue
		}
		if other, ok := dirs[r.Name]; ok && other != r.Dir {
			d.Errorf(js.Meta.At("recipe"), "jobs[%d]: another recipe is named %s too (%s): their builds would share out/%s/", i, r.Name, other, r.Name)
			continue
		}
		dirs[r.Name] = r.Dir
		boardNames, configs := js.Boards, js.Configs
		if len(boardNames) == 0 {
			boardNames = r.Boards
		}
		if len(configs) == 0 {
			configs = r.Configs
		}
		for k, c := range configs {
			if !slices.Contains(r.Configs, c) {
				d.Errorf(js.Meta.At(fmt.Sprintf("configs[%d]", k)), "jobs[%d]: recipe %s does not list config %s (it lists: %s)", i, r.Name, c, strings.Join(r.Configs, ", "))
			}
		}
		for k, bn := range boardNames {
			at := js.Meta.At(fmt.Sprintf("boards[%d]", k))
			b, known := set.Get(bn)
			switch {
			case !known:
				d.Errorf(at, "jobs[%d]: %s", i, set.UnknownError(bn))
				continue
			case !slices.Contains(r.Boards, bn):
				d.Errorf(at, "jobs[%d]: recipe %s does not list board %s (it lists: %s)", i, r.Name, bn, strings.Join(r.Boards, ", "))
				continue
			}
			for _, c := range configs {
				if !slices.Contains(r.Configs, c) {
					continue
				}
				j := releaseBuild{recipe: r, board: b, config: c}
				if where, dup := seen[j.name()]; dup {
					d.Errorf(at, "jobs[%d]: %s is already a job (%s)", i, j.name(), where)
					continue
				}
				seen[j.name()] = at.String()
				jobs = append(jobs, j)
			}
		}
	}
	d.Write(e.stderr)
	return rel, jobs, !d.HasErrors()
}

// planRelease prepares every job (sources fetched, steps made) and plans
// them over n runners. With lookups, each step whose dependencies are known
// is looked up in the cache.
func planRelease(ctx context.Context, rel *farm.Release, builds []releaseBuild, opt pipeline.Options, n int, lookups bool) (*farm.Plan, []*pipeline.Prepared, error) {
	var jobs []*farm.Job
	var prepared []*pipeline.Prepared
	for _, j := range builds {
		p, err := pipeline.Prepare(ctx, j.recipe, j.board, j.config, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", j.name(), err)
		}
		runner := p.Runner(opt, nil)
		if !lookups {
			runner.Cache = nil
		}
		steps, err := runner.Plan(p.Steps)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", j.name(), err)
		}
		jobs = append(jobs, &farm.Job{Recipe: j.recipe.Name, Board: j.board.Name, Config: j.config, Steps: steps})
		prepared = append(prepared, p)
	}
	plan, err := farm.NewPlan(rel.Name, jobs, n)
	return plan, prepared, err
}

// buildShared runs, once, the steps that jobs of more than one shard need
// (shard 0/N: the Microkit tool every board's job uses), so the shards
// take them from the shared cache instead of each building them.
func buildShared(ctx context.Context, plan *farm.Plan, prepared []*pipeline.Prepared, opt pipeline.Options, rep *builder.Reporter) (int, error) {
	shared := map[builder.Digest]bool{}
	for _, s := range plan.Shared {
		if len(s.Shards) > 1 {
			shared[s.Identity] = true
		}
	}
	count := 0
	for i, p := range prepared {
		identity := map[string]builder.Digest{}
		for _, s := range plan.Jobs[i].Steps {
			identity[s.Step] = s.Identity
		}
		var steps []*builder.Step
		for _, s := range builder.Closure(p.Steps) {
			if shared[identity[s.Name]] {
				steps = append(steps, s)
				delete(shared, identity[s.Name]) // once, in the first job that has it
			}
		}
		if len(steps) == 0 {
			continue
		}
		events := func(e builder.Event) {
			e.Recipe, e.Board, e.Config = p.Recipe.Name, p.Board.Name, p.Config
			rep.Event(e)
		}
		if _, err := p.Runner(opt, events).Run(ctx, steps); err != nil {
			return count, fmt.Errorf("%s/%s/%s: %w", p.Recipe.Name, p.Board.Name, p.Config, err)
		}
		count += len(steps)
	}
	return count, nil
}

// engineOptions are the pipeline options of a build by this plinth.
func engineOptions(cache *builder.Cache, fetcher *builder.Fetcher, jobs int, out string, rep *builder.Reporter) pipeline.Options {
	v := buildVersion()
	return pipeline.Options{Cache: cache, Fetcher: fetcher, Jobs: jobs, OutRoot: out, Version: pipeline.Identity(v.Module + "@" + releaseVersion(v.Version)), Events: rep.Event}
}

func planCommand() *command {
	return &command{
		name:    "plan",
		args:    "RELEASE.yaml",
		summary: "list a release's jobs, the steps they share and their shards for N runners",
		help: `A release file names recipes, each for its boards and configurations (or
those listed). plan prepares every job (sources fetched, steps made, nothing
run) and prints, for each: its steps with their identities, their REAPI
action digests where the outputs they need are known, and whether they are
in the cache (local or --remote-cache); then the steps jobs share, and a
shard for each of --shards runners that balances the predicted cost and keeps
one board's shared steps (its SDK) on one runner.

Each runner builds its shard with plinth build RELEASE.yaml --shard K/N and
a shared --remote-cache; plinth release assemble gathers the release from
that cache. Shard 0/N, run first, builds once the steps that jobs of more
than one shard need (the Microkit tool every board uses), so the shards take
them from the cache instead of each building them. The shards are the same on every runner: they depend on the
release and the steps, not on what any cache holds.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			var ef engineFlags
			ef.add(fs, false)
			fs.StringVar(&ef.remote, "remote-cache", "", "also look steps up in this shared cache (`URL`, as plinth build's)")
			shards := fs.Int("shards", 1, "plan for `N` runners")
			asJSON := fs.Bool("json", false, "print the plan as JSON")
			return func(e *env, args []string) int {
				if len(args) != 1 || !isRelease(args[0]) {
					return usageError(e, "give one release file (YAML with jobs)")
				}
				if *shards < 1 {
					return usageError(e, "--shards: at least 1")
				}
				rel, builds, ok := loadRelease(e, args[0], &bf)
				if !ok {
					return ExitFail
				}
				cache, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				rep := builder.NewReporter(e.stderr, false)
				attachFetchEvents(fetcher, rep)
				ctx, stop := signalContext()
				defer stop()
				plan, _, err := planRelease(ctx, rel, builds, engineOptions(cache, fetcher, 0, "out", rep), *shards, true)
				rep.Close()
				if err != nil {
					return e.fail(err)
				}
				if *asJSON {
					b, _ := json.MarshalIndent(plan, "", "  ")
					fmt.Fprintf(e.stdout, "%s\n", b)
					return ExitOK
				}
				printPlan(e, plan)
				return ExitOK
			}
		},
	}
}

func printPlan(e *env, plan *farm.Plan) {
	fmt.Fprintf(e.stdout, "release %s: %s, %s\n", plan.Release, plural(len(plan.Jobs), "job"), plural(plan.Runners, "shard"))
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSHARD\tSTEPS\tCACHED\tPREDICTED")
	for _, j := range plan.Jobs {
		cached := 0
		for _, s := range j.Steps {
			if s.Cached {
				cached++
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f s\n", j.Name(), j.Shard, len(j.Steps), cached, j.Predicted)
	}
	tw.Flush()
	if len(plan.Shared) > 0 {
		fmt.Fprintln(e.stdout, "shared steps:")
		for _, s := range plan.Shared {
			fmt.Fprintf(e.stdout, "  %s (%s, %.0f s): %d jobs, shard(s) %s\n", s.Step, s.Identity[:12], s.Predicted, len(s.Jobs), joinInts(s.Shards))
		}
	}
	fmt.Fprintln(e.stdout, "shards:")
	for _, l := range plan.Shards {
		fmt.Fprintf(e.stdout, "  %d/%d: %s, predicted %.0f s\n", l.Shard, plan.Runners, plural(len(l.Jobs), "job"), l.Predicted)
	}
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, ",")
}

// buildRelease builds a release's jobs, or one shard's. The whole release
// also gets its index (release.json) in out.
func buildRelease(e *env, ctx context.Context, file string, bf *boardFlags, ef *engineFlags, shard string, jobs int, out string, rep *builder.Reporter) int {
	rel, builds, ok := loadRelease(e, file, bf)
	if !ok {
		return ExitFail
	}
	cache, fetcher, err := ef.open(e)
	if err != nil {
		return e.fail(err)
	}
	attachFetchEvents(fetcher, rep)
	defer reportTraffic(cache, rep)
	opt := engineOptions(cache, fetcher, jobs, out, rep)
	mine := builds
	if shard != "" {
		k, n, err := farm.ParseShard(shard)
		if err != nil {
			return usageError(e, err.Error())
		}
		plan, prepared, err := planRelease(ctx, rel, builds, opt, n, false)
		if err != nil {
			return e.fail(err)
		}
		if k == 0 {
			count, err := buildShared(ctx, plan, prepared, opt, rep)
			if err != nil {
				rep.Close()
				return e.fail(err)
			}
			rep.Event(builder.Event{Time: time.Now(), Kind: "fetch", Message: fmt.Sprintf("shard 0/%d of release %s: %d steps that more than one shard needs", n, rel.Name, count)})
			return ExitOK
		}
		mine = nil
		for i, j := range plan.Jobs {
			if j.Shard == k {
				mine = append(mine, builds[i])
			}
		}
	}
	for _, j := range mine {
		if !buildOne(e, ctx, j.recipe, j.board, j.config, cache, fetcher, jobs, out, rep, ef) {
			return ExitFail
		}
	}
	if shard != "" {
		rep.Event(builder.Event{Time: time.Now(), Kind: "fetch", Message: fmt.Sprintf("shard %s of release %s: %d of %d jobs built", shard, rel.Name, len(mine), len(builds))})
		return ExitOK
	}
	if err := writeReleaseIndex(rel, builds, out); err != nil {
		return e.fail(err)
	}
	return ExitOK
}

// reportTraffic says what went through the remote cache.
func reportTraffic(cache *builder.Cache, rep *builder.Reporter) {
	if cache.Remote == nil {
		return
	}
	down, up := cache.Remote.Traffic()
	rep.Event(builder.Event{Time: time.Now(), Kind: "remote", Bytes: down, Sent: up,
		Message: fmt.Sprintf("remote cache: %s down, %s up", humanBytes(down), humanBytes(up))})
}

// writeReleaseIndex writes out/release.json for builds made in out.
func writeReleaseIndex(rel *farm.Release, builds []releaseBuild, out string) error {
	idx := farm.Index{Release: rel.Name}
	for _, j := range builds {
		rel := filepath.ToSlash(filepath.Join(j.recipe.Name, j.board.Name, j.config))
		dir := filepath.Join(out, rel)
		m, err := attest.ReadManifest(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", j.name(), err)
		}
		md, _, err := builder.HashFile(filepath.Join(dir, "manifest.json"))
		if err != nil {
			return err
		}
		b := farm.Built{Recipe: j.recipe.Name, Board: j.board.Name, Config: j.config, Dir: rel, Manifest: string(md)}
		if m.Image != nil {
			b.Image = m.Image.SHA256
		}
		idx.Jobs = append(idx.Jobs, b)
	}
	return farm.WriteIndex(out, idx)
}

func releaseAssembleCommand() *command {
	return &command{
		name:    "assemble",
		args:    "RELEASE.yaml",
		summary: "gather a release its runners built from the shared cache into one directory",
		help: `Take every step of every job of the release from the cache (--remote-cache,
the one the runners shared) and write each job's build (its outputs, logs,
manifest, SBOM and provenance) and the release's index, release.json, into
-o DIR. Nothing is built: a job whose steps no runner finished is named, with
every other one missing, and DIR is not written. DIR must not exist yet; it
appears whole or not at all.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			var ef engineFlags
			ef.add(fs, false)
			fs.StringVar(&ef.remote, "remote-cache", "", "the shared cache the runners filled (`URL`, as plinth build's; default $PLINTH_REMOTE_CACHE)")
			out := fs.String("o", "", "the release directory to make (`DIR`, required)")
			asJSON := fs.Bool("json", false, "print progress as JSON events, one a line")
			return func(e *env, args []string) int {
				if len(args) != 1 || !isRelease(args[0]) {
					return usageError(e, "give one release file (YAML with jobs)")
				}
				if *out == "" {
					return usageError(e, "give the release directory: -o DIR")
				}
				if _, err := os.Lstat(*out); err == nil {
					fmt.Fprintf(e.stderr, "%s: %s exists: give a new directory\n", e.path, *out)
					return ExitFail
				}
				rel, builds, ok := loadRelease(e, args[0], &bf)
				if !ok {
					return ExitFail
				}
				cache, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				rep := builder.NewReporter(e.stdout, *asJSON)
				defer rep.Close()
				defer reportTraffic(cache, rep)
				attachFetchEvents(fetcher, rep)
				ctx, stop := signalContext()
				defer stop()
				return assembleRelease(e, ctx, rel, builds, cache, fetcher, *out, rep)
			}
		},
	}
}

func assembleRelease(e *env, ctx context.Context, rel *farm.Release, builds []releaseBuild, cache *builder.Cache, fetcher *builder.Fetcher, out string, rep *builder.Reporter) int {
	abs, err := filepath.Abs(out)
	if err != nil {
		return e.fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return e.fail(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".assembling-")
	if err != nil {
		return e.fail(err)
	}
	defer os.RemoveAll(tmp)
	opt := engineOptions(cache, fetcher, 0, tmp, rep)
	opt.CacheOnly = true
	var missing []string
	for _, j := range builds {
		if _, err := pipeline.Build(ctx, j.recipe, j.board, j.config, opt); err != nil {
			var se *builder.StepError
			if errors.As(err, &se) && errors.Is(err, builder.ErrNotCached) {
				missing = append(missing, fmt.Sprintf("%s: step %s is not in the cache (no runner finished it)", j.name(), se.Step))
				continue
			}
			return e.fail(fmt.Errorf("%s: %w", j.name(), err))
		}
	}
	rep.Close()
	if len(missing) > 0 {
		fmt.Fprintf(e.stderr, "%s: %d of %d jobs of release %s are missing; nothing was written:\n  %s\n", e.path, len(missing), len(builds), rel.Name, strings.Join(missing, "\n  "))
		return ExitFail
	}
	if err := writeReleaseIndex(rel, builds, tmp); err != nil {
		return e.fail(err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "release %s: %d jobs assembled in %s\n", rel.Name, len(builds), out)
	return ExitOK
}

// plural is "1 job", "2 jobs".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
