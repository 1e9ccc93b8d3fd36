package builder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/pointsav/plinth/internal/proc"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CommandError is a command that failed.
type CommandError struct {
	Command string
	Err     error
}

func (e *CommandError) Error() string { return e.Command + ": " + e.Err.Error() }
func (e *CommandError) Unwrap() error { return e.Err }

// Hermetic describes the environment a command step runs in: nothing of the
// host's environment but PATH. PATH is not part of any key: a step's key
// holds the identity (content hash and version) of each tool it runs.
type Hermetic struct {
	Path  string // the PATH commands see
	Epoch int64  // SOURCE_DATE_EPOCH
}

// Env is the whole environment of a command run in work, plus extra.
func (h Hermetic) Env(work string, extra map[string]string) []string {
	env := map[string]string{
		"PATH":              h.Path,
		"HOME":              filepath.Join(work, "home"),
		"TMPDIR":            filepath.Join(work, "tmp"),
		"TZ":                "UTC",
		"LC_ALL":            "C",
		"LANG":              "C",
		"SOURCE_DATE_EPOCH": strconv.FormatInt(h.Epoch, 10),
		// Compilers given these keep the work directory out of what they
		// write (GCC and Clang read no such setting from the environment,
		// but make-based builds pass CFLAGS on; steps can use {prefix_map}).
		"PLINTH_PREFIX_MAP": PrefixMap(work),
		"CFLAGS":            PrefixMap(work),
		"CXXFLAGS":          PrefixMap(work),
		"RUSTFLAGS":         "--remap-path-prefix=" + work + "=.",
		"PLINTH_WORK":       work,
	}
	for k, v := range extra {
		env[k] = v
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// PrefixMap is the compiler flag that maps the work directory out of what
// it writes.
func PrefixMap(work string) string { return "-ffile-prefix-map=" + work + "=." }

// KeyEnv is the part of the environment that goes into cache keys: the
// work-directory-dependent values are the same for every run.
func (h Hermetic) KeyEnv(extra map[string]string) map[string]string {
	env := map[string]string{"SOURCE_DATE_EPOCH": strconv.FormatInt(h.Epoch, 10), "TZ": "UTC", "LC_ALL": "C"}
	for k, v := range extra {
		if !hostOnly[k] {
			env[k] = v
		}
	}
	return env
}

// hostOnly are variables that say where this host keeps something (rustup's
// toolchains), not what a step does; the identity of the tools they lead to
// is in the key instead.
var hostOnly = map[string]bool{"RUSTUP_HOME": true}

// RunCommand runs argv in dir with the hermetic environment, umask 022,
// in its own process group (so cancelling kills everything it started),
// writing its output to log.
func (h Hermetic) RunCommand(ctx context.Context, work, dir string, argv []string, extra map[string]string, log io.Writer) error {
	for _, d := range []string{"home", "tmp"} {
		if err := makeDirs(filepath.Join(work, d)); err != nil {
			return err
		}
	}
	line := strings.Join(argv, " ")
	// A shell sets the umask for this command alone and kills its whole
	// process group when plinth dies, however it dies.
	sh, args := proc.Supervised(argv)
	cmd := exec.CommandContext(ctx, sh, args...)
	cmd.Dir = dir
	cmd.Env = h.Env(work, extra)
	cmd.Stdout, cmd.Stderr = log, log
	proc.BindSupervised(cmd)
	fmt.Fprintf(log, "+ %s\n", line)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &CommandError{Command: line, Err: err}
	}
	return nil
}

// Tool is a program's identity, for cache keys and manifests: its name,
// what it says its version is, and the hash of the file it resolves to.
// Where it was found (Path) is how to run it, not who it is: it stays out
// of keys and manifests, so a different PATH gives the same bytes.
type Tool struct {
	Name    string `json:"name"`
	Path    string `json:"-"`
	Version string `json:"version"`
	Digest  Digest `json:"digest"`
}

// Tools resolves and remembers program identities.
type Tools struct {
	Path  string
	Cache *Cache // where identities are remembered between runs (optional)
	mu    sync.Mutex
	memo  map[string]Tool
}

// toolProxies are programs that run another, chosen by settings of their
// own (rustup's cargo and rustc pick a toolchain): their version depends on
// more than their file, so it is asked every time.
var toolProxies = map[string]bool{"rustup": true}

// Identify finds a program on the hermetic PATH.
func (t *Tools) Identify(name string) (Tool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tool, ok := t.memo[name]; ok {
		return tool, nil
	}
	p, err := LookPathIn(name, t.Path)
	if err != nil {
		return Tool{}, fmt.Errorf("tool %s: not found on PATH %s (plinth doctor lists what to install)", name, t.Path)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p
	}
	identify := func() (Digest, string, error) {
		d, _, err := HashFile(real)
		if err != nil {
			return "", "", err
		}
		// Run it by the name found (multi-call binaries such as rustup's
		// proxies look at it); identify it by the file it resolves to.
		version, err := versionOf(p)
		if err != nil {
			return "", "", fmt.Errorf("tool %s (%s): %w", name, p, err)
		}
		return d, version, nil
	}
	var d Digest
	var version string
	if t.Cache != nil && !toolProxies[filepath.Base(real)] {
		d, version, err = t.Cache.tools().identity(p, real, identify)
	} else {
		d, version, err = identify()
	}
	if err != nil {
		return Tool{}, err
	}
	tool := Tool{Name: name, Path: p, Digest: d, Version: version}
	if t.memo == nil {
		t.memo = map[string]Tool{}
	}
	t.memo[name] = tool
	return tool, nil
}

// ProbeTimeout bounds each tool's `--version`: a tool that hangs must not
// hang the build.
var ProbeTimeout = 10 * time.Second

// versionOf is the first line a program prints for --version, in the C
// locale (a translated banner would change every key), with no input, and
// within ProbeTimeout.
func versionOf(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "LANGUAGE=")
	proc.Bind(cmd)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Errorf("`%s --version` did not answer within %s", filepath.Base(path), ProbeTimeout)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text()), nil
	}
	return "", nil
}

// LookPathIn finds an executable on a PATH list (not the process's).
func LookPathIn(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// CopyTree copies a source tree into a step's work directory, so a step can
// never change the shared store. Permissions are normalised (directories
// 0755, files 0644 or 0755) whatever the umask and the store's modes, so
// they cannot reach a step's outputs.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && p != src {
				return filepath.SkipDir
			}
			return makeDirs(target)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			perm := os.FileMode(0o644)
			if info.Mode()&0o111 != 0 {
				perm = 0o755
			}
			if err := CopyFile(p, target, perm); err != nil {
				return err
			}
			// Keep the source's times (its commit's, its archive's), not now.
			return os.Chtimes(target, info.ModTime(), info.ModTime())
		}
		return errors.New(p + ": not a file, directory or symlink")
	})
}

// makeDirs is os.MkdirAll with every directory it makes 0755, whatever the
// umask: a step sees the same modes in every build.
func makeDirs(dir string) error {
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := makeDirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// CopyFile copies src to a new file dst with exactly mode (not masked by
// the umask).
func CopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Identified is every tool identified so far, by name.
func (t *Tools) Identified() []Tool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Tool
	for _, tool := range t.memo {
		out = append(out, tool)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
