package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"github.com/pointsav/plinth/builder/reapi"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/pipeline"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/recipes"
)

// engineFlags is the flag group of verbs that fetch or build.
type engineFlags struct {
	cacheDir string
	mirror   string
	offline  bool
	remote   string
	repro    bool
	boot     string
	bootKey  string
}

func (f *engineFlags) add(fs *flag.FlagSet, build bool) {
	fs.StringVar(&f.cacheDir, "cache-dir", "", "the cache and download store (`DIR`; default $PLINTH_CACHE, else ~/.cache/plinth)")
	fs.StringVar(&f.mirror, "mirror", "", "a mirror map (`FILE`) rewriting upstream URLs to local copies (default $PLINTH_MIRRORS)")
	fs.BoolVar(&f.offline, "offline", false, "never touch the network: everything must come from mirrors, the store or local paths")
	if build {
		fs.StringVar(&f.remote, "remote-cache", "", "share the cache through a server at `URL`: http://HOST:PORT (bazel-remote's HTTP protocol) or grpc[s]://HOST:PORT (the Remote Execution API's cache) (default $PLINTH_REMOTE_CACHE)")
		fs.BoolVar(&f.repro, "verify-repro", false, "build a second time in another directory with another umask, TZ, locale and PATH order, into a cache of its own, and compare every output")
		fs.StringVar(&f.boot, "boot", "", "also make the artifacts the board's boot loader takes: `uboot` (a FIT, boot.scr and a disk image with A/B slots)")
		fs.StringVar(&f.bootKey, "boot-key", "", "sign the FIT's configuration with this RSA key (`FILE`: a private key, or a TPM-held key's file); its name without extension is the key-name-hint U-Boot looks up")
	}
}

func (f *engineFlags) dir(e *env) string {
	switch {
	case f.cacheDir != "":
		return f.cacheDir
	case e.getenv("PLINTH_CACHE") != "":
		return e.getenv("PLINTH_CACHE")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "plinth")
	}
	return filepath.Join(os.TempDir(), "plinth-cache")
}

func (f *engineFlags) open(e *env) (*builder.Cache, *builder.Fetcher, error) {
	if f.boot != "" && f.boot != pipeline.BootUBoot {
		return nil, nil, fmt.Errorf("--boot %s: plinth makes %s boot artifacts", f.boot, pipeline.BootUBoot)
	}
	if f.bootKey != "" && f.boot == "" {
		return nil, nil, fmt.Errorf("--boot-key signs boot artifacts: give --boot %s too", pipeline.BootUBoot)
	}
	dir := f.dir(e)
	remote := f.remote
	if remote == "" {
		remote = e.getenv("PLINTH_REMOTE_CACHE")
	}
	var rc builder.RemoteStore
	switch {
	case strings.HasPrefix(remote, "grpc://") || strings.HasPrefix(remote, "grpcs://"):
		compression := e.getenv("PLINTH_REMOTE_CACHE_COMPRESSION")
		if compression != "" && compression != "zstd" && compression != "none" {
			return nil, nil, fmt.Errorf("PLINTH_REMOTE_CACHE_COMPRESSION=%q: zstd (the default, where the server offers it) or none", compression)
		}
		c, err := reapi.Dial(remote, reapi.Options{CAFile: e.getenv("PLINTH_REMOTE_CACHE_CA"), Username: e.getenv("PLINTH_REMOTE_CACHE_USERNAME"),
			Password: e.getenv("PLINTH_REMOTE_CACHE_PASSWORD"), Instance: e.getenv("PLINTH_REMOTE_CACHE_INSTANCE"), Plain: compression == "none"})
		if err != nil {
			return nil, nil, err
		}
		rc = c
	case remote != "":
		rc = builder.NewRemote(remote)
	}
	cache, err := builder.OpenCache(dir, rc)
	if err != nil {
		return nil, nil, err
	}
	mirror := f.mirror
	if mirror == "" {
		mirror = e.getenv("PLINTH_MIRRORS")
	}
	if v := e.getenv("PLINTH_MAX_UNPACKED"); v != "" {
		n, err := parseSize(v)
		if err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("PLINTH_MAX_UNPACKED=%q: give a size like 64G", v)
		}
		builder.MaxUnpacked = n
	}
	// Absolute (as the cache is): git runs in the store with another working
	// directory, where a relative path would name nothing.
	fetcher := &builder.Fetcher{Store: filepath.Join(cache.Dir, "store"), Offline: f.offline}
	if mirror != "" {
		m, err := builder.LoadMirrors(mirror)
		if err != nil {
			return nil, nil, err
		}
		fetcher.Mirrors = m
	}
	return cache, fetcher, nil
}

// signalContext is cancelled by Ctrl-C or SIGTERM, so steps stop and
// partial outputs are removed.
// After the first signal the default action is back, so a second Ctrl-C
// ends plinth at once (its steps die with it, by their parent-death
// signal).
func signalContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// loadCheckedRecipe reads a recipe with its lock and checks it; problems
// are printed.
func loadCheckedRecipe(e *env, arg string, bf *boardFlags) (*recipe.Recipe, bool) {
	var d diag.List
	r, rfs := loadRecipe(e, arg, &d)
	if r != nil {
		attachLock(r, &d)
		set, ok := bf.load(e, r.Boards...)
		if !ok {
			return nil, false
		}
		recipe.Check(r, set, rfs, &d)
		if _, shipped := rfs.(shippedFS); shipped && !d.HasErrors() {
			// A build reads the recipe's own files from disk.
			dir, err := extractShipped(r.Dir)
			if err != nil {
				d.Errorf(diag.Pos{File: r.File}, "%v", err)
			}
			r.Dir = dir
		}
	}
	d.Write(e.stderr)
	return r, r != nil && !d.HasErrors()
}

// attachLock reads the recipe's lock (RECIPE.lock), as check and build
// both must: a pin there counts as a pin.
func attachLock(r *recipe.Recipe, d *diag.List) {
	lock, err := recipe.ReadLock(r.File)
	if err != nil {
		d.Errorf(diag.Pos{File: recipe.LockPath(r.File), Line: 1, Col: 1}, "%s", strings.TrimPrefix(err.Error(), recipe.LockPath(r.File)+": "))
	}
	r.Lock = lock
}

// extractShipped writes the shipped recipes (all of them: a recipe may
// take a sibling directory as a source, as the OS family's take its
// crates) to the temporary directory, named by their contents (so
// concurrent builds share it and a changed plinth gets a new one), and
// returns where the named one is.
func extractShipped(name string) (string, error) {
	root, err := extractShippedTree()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

func extractShippedTree() (string, error) {
	sub := recipes.FS()
	name := "recipes"
	var err error
	files := map[string][]byte{}
	h := sha256.New()
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, p)
		files[p] = data
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return err
	})
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "plinth-recipes", fmt.Sprintf("%s-%x", name, h.Sum(nil)[:8]))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), name+".tmp")
	if err != nil {
		return "", err
	}
	for p, data := range files {
		target := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, statErr := os.Stat(dir); statErr == nil {
			return dir, nil // another build placed it first
		}
		return "", err
	}
	return dir, nil
}

func buildCommand() *command {
	return &command{
		name:     "build",
		args:     "RECIPE|DEPLOYMENT.yaml|RELEASE.yaml",
		summary:  "fetch a recipe's pinned sources and run its build steps, cached",
		complete: recipeNames,
		help: `Build a recipe for its boards and configurations (or those given): fetch its
pinned sources into the shared store (through mirrors when given), then run its
steps in dependency order, at most -j at a time, each in a hermetic work
directory. A step whose inputs (commands, tools, sources, board, the outputs it
needs, plinth itself) were seen before is taken from the cache — local, or a
bazel-remote server shared by a team. Artifacts go to out/RECIPE/BOARD/CONFIG/,
each step's log to its logs/ folder.

A deployment file (deployments/NAME.yaml) builds each of its systems into
out/deployments/NAME/SYSTEM/, checks the Diode across them (commands only
down the zones, telemetry only up) and the code its absent rules forbid
against every protection domain's ELF of the zones they name, and writes
out/deployments/NAME/deployment.json with every PD's digest.

A release file (YAML with jobs: recipes, each for its boards and
configurations) builds every job, each into out/RECIPE/BOARD/CONFIG/, and
writes the release's index, out/release.json; with --shard K/N only the jobs
of shard K of N (see plinth plan), for a runner of a farm sharing
--remote-cache, whose release plinth release assemble gathers.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			var ef engineFlags
			ef.add(fs, true)
			board := fs.String("board", "", "build only for `BOARD`")
			config := fs.String("config", "", "build only `CONFIG`")
			jobs := fs.Int("j", 0, "run at most `N` steps at once (default: the number of cores)")
			out := fs.String("o", "out", "where artifacts go (`DIR`)")
			asJSON := fs.Bool("json", false, "print progress as JSON events, one a line")
			shard := fs.String("shard", "", "build only shard `K/N` of a release (plinth plan RELEASE.yaml --shards N shows them; 0/N: the steps several shards need, first)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one recipe")
				}
				if isRelease(args[0]) {
					if *board != "" || *config != "" || ef.boot != "" || ef.repro {
						return usageError(e, "a release file names its jobs' boards and configurations; --boot and --verify-repro are for one recipe")
					}
					rep := builder.NewReporter(e.stdout, *asJSON)
					defer rep.Close()
					ctx, stop := signalContext()
					defer stop()
					return buildRelease(e, ctx, args[0], &bf, &ef, *shard, *jobs, *out, rep)
				}
				if *shard != "" {
					return usageError(e, "--shard K/N builds part of a release file (YAML with jobs)")
				}
				if isDeployment(args[0]) {
					if *board != "" || *config != "" {
						return usageError(e, "a deployment names each system's board and configuration")
					}
					if ef.boot != "" || ef.repro {
						return usageError(e, "--boot and --verify-repro are not there yet for a deployment (docs/family.md): build its systems' recipes with them")
					}
					rep := builder.NewReporter(e.stdout, *asJSON)
					defer rep.Close()
					ctx, stop := signalContext()
					defer stop()
					return buildDeployment(e, ctx, args[0], &bf, &ef, *jobs, *out, rep)
				}
				r, ok := loadCheckedRecipe(e, args[0], &bf)
				if !ok {
					return ExitFail
				}
				set, _ := bf.load(e, r.Boards...)
				boardsToBuild, configs := r.Boards, r.Configs
				if *board != "" {
					if !slices.Contains(r.Boards, *board) {
						fmt.Fprintf(e.stderr, "%s: the recipe does not list board %s (it lists: %s)\n", e.path, *board, strings.Join(r.Boards, ", "))
						return ExitFail
					}
					boardsToBuild = []string{*board}
				}
				if *config != "" {
					if !slices.Contains(r.Configs, *config) {
						fmt.Fprintf(e.stderr, "%s: the recipe does not list config %s (it lists: %s)\n", e.path, *config, strings.Join(r.Configs, ", "))
						return ExitFail
					}
					configs = []string{*config}
				}
				cache, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				rep := builder.NewReporter(e.stdout, *asJSON)
				defer rep.Close()
				attachFetchEvents(fetcher, rep)
				ctx, stop := signalContext()
				defer stop()
				for _, bn := range boardsToBuild {
					b, _ := set.Get(bn)
					for _, c := range configs {
						if !buildOne(e, ctx, r, b, c, cache, fetcher, *jobs, *out, rep, &ef) {
							return ExitFail
						}
					}
				}
				return ExitOK
			}
		},
	}
}

// buildOne builds a recipe for one board and configuration, printing the
// failure if there is one.
func buildOne(e *env, ctx context.Context, r *recipe.Recipe, b *boards.Board, config string, cache *builder.Cache, fetcher *builder.Fetcher, jobs int, out string, rep *builder.Reporter, ef *engineFlags) bool {
	opt := engineOptions(cache, fetcher, jobs, out, rep)
	opt.Boot = ef.boot
	verifyRepro := ef.repro
	fail := func(err error) bool {
		rep.Close()
		fmt.Fprintf(e.stderr, "%s: %s/%s: %v\n", e.path, b.Name, config, err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(e.stderr, "%s: interrupted; finished steps are cached, the next run goes on from them\n", e.path)
		}
		return false
	}
	if ef.bootKey != "" {
		signer, err := loadSigner(e, ef.bootKey)
		if err != nil {
			return fail(fmt.Errorf("--boot-key: %w", err))
		}
		name := strings.TrimSuffix(filepath.Base(ef.bootKey), filepath.Ext(ef.bootKey))
		opt.BootKey = &image.Key{Name: name, Signer: signer}
	}
	res, err := pipeline.Build(ctx, r, b, config, opt)
	if err != nil {
		return fail(err)
	}
	if !verifyRepro {
		return true
	}
	rep.Event(builder.Event{Time: time.Now(), Kind: "fetch", Message: "second build, to verify that the bytes reproduce"})
	ro, err := pipeline.Reproduce(ctx, r, b, config, opt, res)
	if err != nil {
		return fail(err)
	}
	rep.Close()
	fmt.Fprintf(e.stdout, "reproducible: %s/%s: every output of %d steps and the build's own files are identical in a second build (in %s, umask %03o, TZ %s, LC_ALL %s, PATH reordered, its own cache); the manifest and provenance record both\n",
		b.Name, config, len(res.Order), ro.Root, ro.Umask, ro.TZ, ro.Lang)
	return true
}

// attachFetchEvents sends the fetcher's lines and download progress to the
// reporter.
func attachFetchEvents(fetcher *builder.Fetcher, rep *builder.Reporter) {
	fetcher.Log = func(format string, args ...any) {
		rep.Event(builder.Event{Time: time.Now(), Kind: "fetch", Message: fmt.Sprintf(format, args...)})
	}
	fetcher.Progress = func(url string, done, total int64) {
		rep.Event(builder.Event{Time: time.Now(), Kind: "download", Message: url, Bytes: done, Size: total})
	}
}

func runCommand() *command {
	return &command{
		name:     "run",
		args:     "RECIPE",
		summary:  "build a recipe for a board and boot it in the board's emulator",
		complete: recipeNames,
		help: `Build the recipe (cached) for one board and configuration, boot the image in
the board's emulator, and stream its serial console here and to the run log.
Passes when the recipe's expected texts appear in order within the timeout;
fails with the end of the console otherwise. The emulator is always stopped.
A board without an emulator is built only.

With --boot uboot the board boots as it would in the field: QEMU starts
U-Boot (--uboot) with the build's disk image attached and a software TPM;
U-Boot runs boot.scr, loads the FIT from slot A, verifies it against the key
(--boot-key; put in U-Boot's control device tree) and measures it, then
starts the image. The run passes when the expected texts appear and the
TPM's PCRs equal plinth's prediction in every bank.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			var ef engineFlags
			ef.add(fs, true)
			board := fs.String("board", "", "the board to boot (`BOARD`; required when the recipe lists several)")
			config := fs.String("config", "", "the configuration (`CONFIG`; default: the recipe's first)")
			timeout := fs.Duration("timeout", 0, "how long the boot may take (`DURATION`; default: the recipe's expect.boot.timeout, else 30s)")
			jobs := fs.Int("j", 0, "run at most `N` steps at once")
			out := fs.String("o", "out", "where artifacts go (`DIR`)")
			uboot := fs.String("uboot", "", "U-Boot's binary for the emulated board, with --boot uboot (`FILE`; default: the one the recipe builds, else $PLINTH_UBOOT)")
			disk := fs.String("disk", "", "with --boot uboot, boot this disk image (`FILE`, e.g. one an update wrote) instead of the build's")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one recipe")
				}
				if isDeployment(args[0]) {
					if *board != "" || *config != "" || ef.boot != "" {
						return usageError(e, "a deployment names each system's board and configuration, and boots each with its board's emulator")
					}
					ctx, stop := signalContext()
					defer stop()
					return runDeployment(e, ctx, args[0], &bf, &ef, *jobs, *out, *timeout)
				}
				r, ok := loadCheckedRecipe(e, args[0], &bf)
				if !ok {
					return ExitFail
				}
				bn, c := *board, *config
				if bn == "" {
					if len(r.Boards) != 1 {
						set, _ := bf.load(e, r.Boards...)
						var booted []string
						for _, name := range r.Boards {
							if b, ok := set.Get(name); ok && b.Emulator != nil {
								booted = append(booted, name)
							}
						}
						msg := fmt.Sprintf("the recipe lists %d boards: choose one with --board", len(r.Boards))
						if len(booted) > 0 {
							msg += fmt.Sprintf(" (QEMU boots %s; the others are built only)", strings.Join(booted, ", "))
						}
						return usageError(e, msg)
					}
					bn = r.Boards[0]
				}
				if c == "" {
					c = r.Configs[0]
				}
				if !slices.Contains(r.Boards, bn) || !slices.Contains(r.Configs, c) {
					fmt.Fprintf(e.stderr, "%s: the recipe builds boards %s and configs %s\n", e.path, strings.Join(r.Boards, ", "), strings.Join(r.Configs, ", "))
					return ExitFail
				}
				set, _ := bf.load(e, bn)
				b, _ := set.Get(bn)
				cache, fetcher, err := ef.open(e)
				if err != nil {
					return e.fail(err)
				}
				rep := builder.NewReporter(e.stderr, false)
				attachFetchEvents(fetcher, rep)
				ctx, stop := signalContext()
				defer stop()
				if !buildOne(e, ctx, r, b, c, cache, fetcher, *jobs, *out, rep, &ef) {
					return ExitFail
				}
				rep.Close()
				dir := filepath.Join(*out, r.Name, b.Name, c)
				if b.Emulator == nil {
					fmt.Fprintf(e.stdout, "%s has no emulator: built only (%s)\n", b.Name, dir)
					return ExitOK
				}
				image := r.Outputs.ImageName()
				imagePath, _ := filepath.Abs(filepath.Join(dir, "image", image))
				if _, err := os.Stat(imagePath); err != nil {
					fmt.Fprintf(e.stderr, "%s: no image to boot: %v\n", e.path, err)
					return ExitFail
				}
				var expect []recipe.Pattern
				limit := 30 * time.Second
				if r.Expect != nil && r.Expect.Boot != nil {
					expect, limit = r.Expect.Boot.Serial, time.Duration(r.Expect.Boot.Timeout)
				}
				if *timeout > 0 {
					limit = *timeout
				}
				logPath := filepath.Join(dir, "logs", "run.log")
				os.MkdirAll(filepath.Dir(logPath), 0o755)
				logFile, err := os.Create(logPath)
				if err != nil {
					return e.fail(err)
				}
				defer logFile.Close()
				if ef.boot == pipeline.BootUBoot {
					// U-Boot: --uboot; else the one the recipe built (with
					// the key in it, where it carries its device tree);
					// else PLINTH_UBOOT.
					bin := *uboot
					for _, built := range []string{pipeline.UBootSignedBin, pipeline.UBootBin} {
						if p := filepath.Join(dir, "u-boot", built); bin == "" && fileExists(p) {
							bin = p
						}
					}
					if bin == "" {
						bin = e.getenv("PLINTH_UBOOT")
					}
					return runThroughUBoot(e, ctx, b, c, dir, imagePath, bin, *disk, expect, limit, logFile, logPath)
				}
				emuArgs, err := emulatorArgs(r, b, dir)
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stderr, "boot %s: %s %s\n", b.Name, b.Emulator.Command, strings.Join(emuArgs, " "))
				res, err := pipeline.Boot(ctx, b.Emulator.Command, emuArgs, imagePath, "", expect, limit, io.MultiWriter(e.stdout, logFile))
				if err != nil {
					fmt.Fprintf(e.stderr, "\n%s: %v\n", e.path, err)
					return ExitFail
				}
				if !res.Passed && res.Exited {
					status := "exit status 0"
					if res.ExitErr != nil {
						status = res.ExitErr.Error()
					}
					fmt.Fprintf(e.stderr, "\n%s: %s/%s: the emulator exited (%s) after %s, with %d of %d expected texts seen; waiting for %s. The console ended with:\n%s\n(full console in %s)\n",
						e.path, b.Name, c, status, res.Elapsed.Round(time.Millisecond), res.Matched, len(expect), res.Missing, indentLines(res.Tail(15)), logPath)
					return ExitFail
				}
				if !res.Passed {
					fmt.Fprintf(e.stderr, "\n%s: %s/%s: %d of %d expected texts seen in %s; waiting for %s. The console ended with:\n%s\n(full console in %s)\n",
						e.path, b.Name, c, res.Matched, len(expect), res.Elapsed.Round(time.Millisecond), res.Missing, indentLines(res.Tail(15)), logPath)
					return ExitFail
				}
				fmt.Fprintf(e.stderr, "\n%s: %s/%s: all %d expected texts seen in %s\n", e.path, b.Name, c, len(expect), res.Elapsed.Round(time.Millisecond))
				return ExitOK
			}
		},
	}
}

// emulatorArgs is the board's emulator arguments plus those attaching the
// recipe's devices: a network device (QEMU's user-mode network); for a disk, a fresh copy of the built disk.img (the
// guest writes to it; the built one stays as built).
func emulatorArgs(r *recipe.Recipe, b *boards.Board, dir string) ([]string, error) {
	args := slices.Clone(b.Emulator.Args)
	if r.SDDF == nil {
		return args, nil
	}
	if r.SDDF.Network != nil {
		attach, ok := b.Emulator.Devices["network"]
		if !ok {
			return nil, fmt.Errorf("board %s's emulator does not say how to attach a network device (emulator.devices.network in its board file)", b.Name)
		}
		args = append(args, attach...)
	}
	if r.SDDF.Blk == nil || r.SDDF.Blk.Disk == nil {
		return args, nil
	}
	attach, ok := b.Emulator.Devices["blk"]
	if !ok {
		return nil, fmt.Errorf("board %s's emulator does not say how to attach a disk (emulator.devices.blk in its board file)", b.Name)
	}
	built := filepath.Join(dir, "disk", "disk.img")
	data, err := os.ReadFile(built)
	if err != nil {
		return nil, fmt.Errorf("no disk to attach: %w", err)
	}
	disk, _ := filepath.Abs(filepath.Join(dir, "run", "disk.img"))
	os.MkdirAll(filepath.Dir(disk), 0o755)
	if err := os.WriteFile(disk, data, 0o644); err != nil {
		return nil, err
	}
	for _, a := range attach {
		args = append(args, strings.ReplaceAll(a, "{disk}", disk))
	}
	return args, nil
}

func indentLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}
