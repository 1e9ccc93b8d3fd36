package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/proc"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/recipe"
)

// Mismatch is where two builds of the same inputs first differ: the first
// step (in dependency order) whose outputs differ although its
// dependencies' do not, or, when every step agrees, the build's own files.
type Mismatch struct {
	Step  string   // a step's name, or "" for the files the build itself writes
	Files []string // the differing files, relative to the build directory
	Dir1  string   // the two build directories
	Dir2  string
	// Diffoscope is where diffoscope's report on the first differing file
	// was written ("" when diffoscope is not installed).
	Diffoscope string
}

func (m *Mismatch) Error() string {
	what := "the build's own files"
	if m.Step != "" {
		what = "step " + m.Step
	}
	msg := fmt.Sprintf("not reproducible: %s gave different bytes in the second build: %s (first build %s, second %s)", what, strings.Join(m.Files, ", "), m.Dir1, m.Dir2)
	if m.Diffoscope != "" {
		msg += "; diffoscope's report: " + m.Diffoscope
	}
	return msg
}

// ReproOptions says how the second build differs from the first.
type ReproOptions struct {
	Root  string // a new directory for the second build's cache and outputs
	Path  string // the PATH it sees
	Umask int
	TZ    string
	Lang  string
}

// VariedEnvironment is the second build's environment: a new directory
// (whose path has a different length) holding its own cache and outputs,
// another umask, time zone and locale, and PATH's directories in another
// order (reversed, where that finds the same tools; else behind an empty
// directory of its own).
func VariedEnvironment(base string, tools []builder.Tool) (ReproOptions, error) {
	root, err := os.MkdirTemp(base, "second-build-of-another-length-")
	if err != nil {
		return ReproOptions{}, err
	}
	path := os.Getenv("PATH")
	dirs := filepath.SplitList(path)
	slices.Reverse(dirs)
	reversed := strings.Join(dirs, string(filepath.ListSeparator))
	if !sameTools(tools, reversed) {
		empty := filepath.Join(root, "empty-bin")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return ReproOptions{}, err
		}
		reversed = empty + string(filepath.ListSeparator) + path
	}
	return ReproOptions{Root: root, Path: reversed, Umask: 0o027, TZ: "Pacific/Chatham", Lang: "C.UTF-8"}, nil
}

// sameTools says whether every tool is found as the same file on path.
func sameTools(tools []builder.Tool, path string) bool {
	for _, t := range tools {
		p, err := builder.LookPathIn(t.Name, path)
		if err != nil {
			return false
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d, _, err := builder.HashFile(p); err != nil || d != t.Digest {
			return false
		}
	}
	return true
}

// Reproduce builds the recipe a second time, in the environment ro
// describes and with a cache of its own (sources fetched again, through the
// same mirrors), and compares every output with the first build's. The
// second build's umask, TZ and locale are this process's for the while.
// When the bytes agree, the first build's manifest and statements record
// the reproduction; when not, the error is a *Mismatch.
func Reproduce(ctx context.Context, r *recipe.Recipe, b *boards.Board, config string, opt Options, first *builder.Result) (*ReproOptions, error) {
	m1, err := attest.ReadManifest(filepath.Join(opt.OutRoot, r.Name, b.Name, config))
	if err != nil {
		return nil, err
	}
	ro, err := VariedEnvironment(opt.Cache.Dir, m1.Tools)
	if err != nil {
		return nil, err
	}
	return &ro, reproduce(ctx, r, b, config, opt, first, ro)
}

func reproduce(ctx context.Context, r *recipe.Recipe, b *boards.Board, config string, opt Options, first *builder.Result, ro ReproOptions) error {
	cache, err := builder.OpenCache(filepath.Join(ro.Root, "cache"), nil)
	if err != nil {
		return err
	}
	second := opt
	second.Cache = cache
	fetcher := *opt.Fetcher
	fetcher.Store = filepath.Join(ro.Root, "cache", "store")
	second.Fetcher = &fetcher
	second.OutRoot = filepath.Join(ro.Root, "out")
	second.Path = ro.Path
	restore := vary(ro)
	res, err := Build(ctx, r, b, config, second)
	restore()
	if err != nil {
		return fmt.Errorf("the second build: %w", err)
	}
	dir1 := filepath.Join(opt.OutRoot, r.Name, b.Name, config)
	dir2 := filepath.Join(second.OutRoot, r.Name, b.Name, config)
	if m := compareBuilds(first, res, dir1, dir2); m != nil {
		if report, err := runDiffoscope(ctx, dir1, dir2, m.Files[0]); err == nil && report != "" {
			m.Diffoscope = report
		}
		return m
	}
	if err := recordReproduction(dir1, dir2, ro); err != nil {
		return err
	}
	os.RemoveAll(ro.Root)
	return nil
}

// vary gives this process the second build's umask, time zone and locale
// (tool probes and plinth's own writes see them; steps run with their own
// fixed settings), and returns how to undo it.
func vary(ro ReproOptions) func() {
	old := syscall.Umask(ro.Umask)
	saved := map[string]*string{}
	for k, v := range map[string]string{"TZ": ro.TZ, "LC_ALL": ro.Lang, "LANG": ro.Lang} {
		if was, ok := os.LookupEnv(k); ok {
			saved[k] = &was
		} else {
			saved[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		syscall.Umask(old)
		for k, v := range saved {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// buildFiles are the files a build writes besides its steps' outputs.
var buildFiles = []string{"manifest.json", "report.json", "sbom.spdx.json", "sbom.intoto.json", "provenance.intoto.json"}

func compareBuilds(first, second *builder.Result, dir1, dir2 string) *Mismatch {
	for _, step := range first.Order {
		a, b := outputDigests(first.Outputs[step]), outputDigests(second.Outputs[step])
		var files []string
		// Every path either build has (the keys of both maps, once).
		paths := slices.Sorted(maps.Keys(a))
		for p := range b {
			if _, both := a[p]; !both {
				paths = append(paths, p)
			}
		}
		slices.Sort(paths)
		for _, p := range paths {
			if a[p] != b[p] {
				files = append(files, step+"/"+p)
			}
		}
		if len(files) > 0 {
			return &Mismatch{Step: step, Files: files, Dir1: dir1, Dir2: dir2}
		}
	}
	var files []string
	for _, f := range buildFiles {
		x, errX := os.ReadFile(filepath.Join(dir1, f))
		y, errY := os.ReadFile(filepath.Join(dir2, f))
		if (errX == nil) != (errY == nil) || !bytes.Equal(x, y) {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		return &Mismatch{Files: files, Dir1: dir1, Dir2: dir2}
	}
	return nil
}

func outputDigests(outs []builder.Output) map[string]builder.Digest {
	m := map[string]builder.Digest{}
	for _, o := range outs {
		m[o.Path] = o.Digest
	}
	return m
}

// runDiffoscope writes diffoscope's text report on one differing file into
// the first build's logs, where diffoscope is installed.
func runDiffoscope(ctx context.Context, dir1, dir2, file string) (string, error) {
	bin, err := exec.LookPath("diffoscope")
	if err != nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	report := filepath.Join(dir1, "logs", "repro-diffoscope.txt")
	cmd := exec.CommandContext(ctx, bin, "--text", report, "--no-progress", filepath.Join(dir1, file), filepath.Join(dir2, file))
	proc.Bind(cmd)
	if err := os.MkdirAll(filepath.Dir(report), 0o755); err != nil {
		return "", err
	}
	cmd.Run() // exits 1 when the files differ, which they do
	if _, err := os.Stat(report); err != nil {
		return "", err
	}
	return report, nil
}

// recordReproduction adds the reproduction to the first build's manifest
// and rewrites its statements from it.
func recordReproduction(dir1, dir2 string, ro ReproOptions) error {
	data, err := os.ReadFile(filepath.Join(dir1, "manifest.json"))
	if err != nil {
		return err
	}
	var m attest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m.Image == nil {
		return nil // nothing to attest
	}
	second, err := os.ReadFile(filepath.Join(dir2, "manifest.json"))
	if err != nil {
		return err
	}
	var m2 attest.Manifest
	if err := json.Unmarshal(second, &m2); err != nil || m2.Image == nil {
		return fmt.Errorf("the second build's manifest: unreadable or without an image")
	}
	m.Reproduced = &attest.Reproduction{FirstManifest: sha256Hex(data), SecondManifest: sha256Hex(second), SecondImage: m2.Image.SHA256,
		Varied: []string{"directory", "cache", fmt.Sprintf("umask %03o", ro.Umask), "TZ " + ro.TZ, "locale " + ro.Lang, "PATH order"}}
	out, err := attest.Canonical(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir1, "manifest.json"), out, 0o644); err != nil {
		return err
	}
	return attest.WriteAttestations(dir1, &m)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
