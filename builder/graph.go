package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// Step is one node of the build graph.
type Step struct {
	Name string
	Deps []*Step
	// Key holds everything that decides the step's result besides its
	// dependencies' outputs (which the runner adds): commands, flags,
	// tools, source digests, board and recipe facts. If an input is not in
	// the key, the cache is wrong.
	Key map[string]any
	// Outputs are the files the step must produce, relative to its output
	// directory. Only they are kept.
	Outputs []string
	// Run produces the outputs in ctx.Out.
	Run func(ctx context.Context, sc *StepContext) error
	// Spec is the step as one command, when it is one (see Action).
	Spec *Spec
}

// StepContext is what a running step gets.
type StepContext struct {
	Work string            // a private, empty directory
	Out  string            // where the declared outputs go (inside Work)
	Deps map[string]string // each dependency's name -> the directory of its outputs
	Log  io.Writer
}

// Runner runs a graph: bounded parallelism, the cache, logs, progress.
type Runner struct {
	Cache   *Cache
	Jobs    int    // at most this many steps at once (default: the number of cores)
	Out     string // outputs land in Out/<step>/
	Logs    string // each step's log is Logs/<step>.log
	Version string // plinth's own identity, part of every key
	Events  func(Event)
	// The build the steps are of, recorded with each cache entry.
	Recipe, Board, Config string
	// CacheOnly takes every step from the cache and runs none: a step
	// that is not there fails with ErrNotCached (assembling a release
	// other machines built).
	CacheOnly bool
}

// ErrNotCached is a step a cache-only run did not find in the cache.
var ErrNotCached = errors.New("not in the cache (no runner has built it)")

// Event is progress, for people (a live view or lines) and machines (JSON).
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // plan, start, hit, done, fail, finish, fetch, download
	Step    string    `json:"step,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
	Total   int       `json:"total,omitempty"`
	Done    int       `json:"done,omitempty"`
	Hits    int       `json:"hits,omitempty"`
	Message string    `json:"message,omitempty"`
	Bytes   int64     `json:"bytes,omitempty"` // a download's progress (or what came down from a remote cache)
	Size    int64     `json:"size,omitempty"`  // and its size, when known
	Sent    int64     `json:"sent,omitempty"`  // what went up to a remote cache
	// Which build the event belongs to, when one run builds several.
	Recipe string `json:"recipe,omitempty"`
	Board  string `json:"board,omitempty"`
	Config string `json:"config,omitempty"`
	// A finished build's directory and image digest (finish).
	Dir   string `json:"dir,omitempty"`
	Image string `json:"image_sha256,omitempty"`
}

// StepError is a failed step: its name, what it ran and the end of its log.
type StepError struct {
	Step    string
	Command string
	LogTail string
	LogFile string
	Err     error
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %s failed: %v", e.Step, e.Err)
	if e.Command != "" {
		fmt.Fprintf(&b, "\n  command: %s", e.Command)
	}
	if e.LogTail != "" {
		fmt.Fprintf(&b, "\n  last lines of %s:\n%s", e.LogFile, indent(e.LogTail))
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// Result says what a run did.
type Result struct {
	Steps   int
	Hits    int
	Ran     []string // the steps that ran (were not cache hits), sorted
	Order   []string // every step, each after its dependencies
	Outputs map[string][]Output
}

type stepState struct {
	done    chan struct{}
	err     error
	outputs []Output
}

// Run runs every step (and its dependencies) once, in dependency order, at
// most Jobs at a time. The first failure cancels the rest; the error is a
// *StepError for the step that failed.
func (r *Runner) Run(ctx context.Context, steps []*Step) (*Result, error) {
	all := closure(steps)
	if err := checkGraph(all); err != nil {
		return nil, err
	}
	jobs := r.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	states := map[*Step]*stepState{}
	for _, s := range all {
		states[s] = &stepState{done: make(chan struct{})}
	}
	sem := make(chan struct{}, jobs)
	res := &Result{Steps: len(all), Outputs: map[string][]Output{}}
	for _, s := range all {
		res.Order = append(res.Order, s.Name)
	}
	var mu sync.Mutex
	var firstErr error
	r.emit(Event{Kind: "plan", Total: len(all)})
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := states[s]
			defer close(st.done)
			for _, d := range s.Deps {
				<-states[d].done
				if states[d].err != nil {
					st.err = fmt.Errorf("not run: %s failed", d.Name)
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				st.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				st.err = ctx.Err()
				return
			}
			outs, hit, err := r.runStep(ctx, s, states)
			mu.Lock()
			defer mu.Unlock()
			st.err, st.outputs = err, outs
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			res.Outputs[s.Name] = outs
			if hit {
				res.Hits++
			} else {
				res.Ran = append(res.Ran, s.Name)
			}
		}()
	}
	wg.Wait()
	sort.Strings(res.Ran)
	r.emit(Event{Kind: "finish", Total: len(all), Done: len(res.Outputs), Hits: res.Hits, Seconds: time.Since(start).Seconds()})
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

func (r *Runner) emit(e Event) {
	if r.Events != nil {
		e.Time = time.Now()
		r.Events(e)
	}
}

// Closure lists the steps and all their dependencies, each once, each
// after its dependencies, in a stable order.
func Closure(steps []*Step) []*Step { return closure(steps) }

// closure lists the steps and all their dependencies, each once, in a
// stable order.
func closure(steps []*Step) []*Step {
	seen := map[*Step]bool{}
	var out []*Step
	var visit func(s *Step)
	visit = func(s *Step) {
		if seen[s] {
			return
		}
		seen[s] = true
		for _, d := range s.Deps {
			visit(d)
		}
		out = append(out, s)
	}
	for _, s := range steps {
		visit(s)
	}
	return out
}

func checkGraph(all []*Step) error {
	names := map[string]bool{}
	for _, s := range all {
		if names[s.Name] {
			return fmt.Errorf("two steps are named %q", s.Name)
		}
		names[s.Name] = true
	}
	// Cycles: closure() visits depth-first; a step among its own
	// transitive dependencies is a cycle.
	state := map[*Step]int{}
	var walk func(s *Step, path []string) error
	walk = func(s *Step, path []string) error {
		switch state[s] {
		case 1:
			return fmt.Errorf("dependency cycle: %s -> %s", strings.Join(path, " -> "), s.Name)
		case 2:
			return nil
		}
		state[s] = 1
		for _, d := range s.Deps {
			if err := walk(d, append(path, s.Name)); err != nil {
				return err
			}
		}
		state[s] = 2
		return nil
	}
	for _, s := range all {
		if err := walk(s, nil); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) runStep(ctx context.Context, s *Step, states map[*Step]*stepState) ([]Output, bool, error) {
	action, err := r.actionOf(s, states)
	if err != nil {
		return nil, false, err
	}
	key := action.Key
	unlock, err := r.Cache.Lock(key)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	outDir := filepath.Join(r.Out, s.Name)
	logFile := filepath.Join(r.Logs, s.Name+".log")
	if rec, ok := r.Cache.GetAction(action, s.Name, s.Outputs); ok {
		if err := r.materialize(rec, outDir, logFile); err == nil {
			r.emit(Event{Kind: "hit", Step: s.Name})
			return rec.Outputs, true, nil
		}
		// A blob went missing or bad: run the step again.
	}
	if r.CacheOnly {
		return nil, false, &StepError{Step: s.Name, Err: ErrNotCached}
	}
	r.emit(Event{Kind: "start", Step: s.Name})
	start := time.Now()
	work, release, err := r.Cache.workDir(key)
	if err != nil {
		return nil, false, err
	}
	defer release()
	var logBuf strings.Builder
	sc := &StepContext{Work: work, Out: filepath.Join(work, "out"), Deps: map[string]string{}, Log: &logBuf}
	if err := makeDirs(sc.Out); err != nil {
		return nil, false, err
	}
	for _, d := range s.Deps {
		// Absolute: steps run their commands in their own work directory.
		dir, err := filepath.Abs(filepath.Join(r.Out, d.Name))
		if err != nil {
			return nil, false, err
		}
		sc.Deps[d.Name] = dir
	}
	runErr := s.Run(ctx, sc)
	os.MkdirAll(r.Logs, 0o755)
	atomicfile.Write(logFile, []byte(logBuf.String()), 0o644)
	if runErr != nil {
		r.emit(Event{Kind: "fail", Step: s.Name, Seconds: time.Since(start).Seconds(), Message: runErr.Error()})
		se := &StepError{Step: s.Name, LogTail: Tail(logBuf.String(), 20), LogFile: logFile, Err: runErr}
		var ce *CommandError
		if errors.As(runErr, &ce) {
			se.Command = ce.Command
			se.Err = ce.Err
		}
		return nil, false, se
	}
	var outs []Output
	for _, o := range s.Outputs {
		p := filepath.Join(sc.Out, filepath.FromSlash(o))
		info, err := os.Stat(p)
		if err != nil || !info.Mode().IsRegular() {
			return nil, false, &StepError{Step: s.Name, LogTail: Tail(logBuf.String(), 20), LogFile: logFile, Err: fmt.Errorf("it did not produce its declared output %s", o)}
		}
		d, n, err := r.Cache.PutFile(p)
		if err != nil {
			return nil, false, err
		}
		outs = append(outs, Output{Path: o, Digest: d, Size: n, Executable: info.Mode()&0o111 != 0})
	}
	logDigest, err := r.Cache.PutBytes([]byte(logBuf.String()))
	if err != nil {
		return nil, false, err
	}
	rec := &ActionRecord{Key: key, ActionSize: action.Size, Step: s.Name, Recipe: r.Recipe, Board: r.Board, Config: r.Config, Outputs: outs, Log: logDigest, Duration: time.Since(start).Seconds(), Created: time.Now().UTC().Format(time.RFC3339)}
	if err := r.Cache.PutAction(action, rec); err != nil {
		return nil, false, err
	}
	if err := r.materialize(rec, outDir, ""); err != nil {
		return nil, false, err
	}
	r.emit(Event{Kind: "done", Step: s.Name, Seconds: time.Since(start).Seconds()})
	return outs, false, nil
}

// workDir makes the step's empty work directory under the cache's private
// work/ (mode 0700: not a shared directory in /tmp, where another user could
// plant a directory or a link first) and locks it (two builds sharing a
// cache may want the same key at once); release removes it. Where the
// directory is does not reach the outputs: compilers map it to
// WorkPrefix, and keys never name it.
func (c *Cache) workDir(key Digest) (string, func(), error) {
	root := c.WorkRoot()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return "", nil, err
	}
	dir := filepath.Join(root, string(key[:24]))
	unlock, err := lockPath(dir + ".lock")
	if err != nil {
		return "", nil, err
	}
	os.RemoveAll(dir) // left by a killed run
	if err := os.Mkdir(dir, 0o700); err != nil {
		unlock()
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir); unlock() }, nil
}

// placed remembers what materialize last wrote where, so an unchanged
// output is not copied (and hashed) again: the file's size, modification
// time and inode must still be what they were.
type placed struct {
	Digest Digest `json:"digest"`
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime_ns"`
	Inode  uint64 `json:"inode"`
}

func placedOf(path string, d Digest) (placed, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return placed{}, false
	}
	p := placed{Digest: d, Size: info.Size(), MTime: info.ModTime().UnixNano()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		p.Inode = st.Ino
	}
	return p, true
}

// materialize puts a record's outputs (and log) in place, skipping files
// that are still exactly as it last left them.
func (r *Runner) materialize(rec *ActionRecord, outDir, logFile string) error {
	// The stamp lives beside the logs, not among the outputs, which later
	// steps copy.
	stampFile := filepath.Join(r.Logs, ".placed", rec.Step+".json")
	var stamp map[string]placed
	if b, err := os.ReadFile(stampFile); err == nil {
		json.Unmarshal(b, &stamp)
	}
	next := map[string]placed{}
	inPlace := func(d Digest, path string) bool {
		if old, ok := stamp[path]; ok && old.Digest == d {
			if now, ok := placedOf(path, d); ok && now == old {
				next[path] = now
				return true
			}
		}
		return false
	}
	if r.Cache.Remote != nil {
		// What must come from the remote comes together.
		var blobs []Digest
		for _, o := range rec.Outputs {
			if !inPlace(o.Digest, filepath.Join(outDir, filepath.FromSlash(o.Path))) {
				blobs = append(blobs, o.Digest)
			}
		}
		if logFile != "" && !inPlace(rec.Log, logFile) {
			blobs = append(blobs, rec.Log)
		}
		r.Cache.Prefetch(blobs)
	}
	put := func(d Digest, path string, executable bool) error {
		if inPlace(d, path) {
			return nil
		}
		if err := r.Cache.Fetch(d, path, executable); err != nil {
			return err
		}
		if now, ok := placedOf(path, d); ok {
			next[path] = now
		}
		return nil
	}
	for _, o := range rec.Outputs {
		if err := put(o.Digest, filepath.Join(outDir, filepath.FromSlash(o.Path)), o.Executable); err != nil {
			return err
		}
	}
	if logFile != "" {
		if err := put(rec.Log, logFile, false); err != nil {
			return err
		}
	}
	if maps.Equal(stamp, next) {
		return nil // nothing moved: no write at all
	}
	b, _ := json.Marshal(next)
	return atomicfile.Write(stampFile, b, 0o644)
}

// Tail is the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
