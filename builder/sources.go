package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/pointsav/plinth/internal/proc"
	"github.com/pointsav/plinth/internal/safename"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
)

// Mirrors rewrites upstream URLs to local copies: bare git repositories,
// archives (file:// or a path) or directories. A build from mirrors alone
// never touches the network.
type Mirrors struct {
	Meta    strictyaml.Meta `yaml:"-"`
	Mirrors []Mirror        `yaml:"mirrors" required:"true" doc:"Rewrites, tried in order; the longest matching prefix wins."`
	File    string          `yaml:"-"`
}

// Mirror is one rewrite: every URL starting with From is fetched from To
// followed by the rest of the URL.
type Mirror struct {
	Meta strictyaml.Meta `yaml:"-"`
	From string          `yaml:"from" required:"true" doc:"A URL or URL prefix, e.g. https://github.com/seL4/seL4"`
	To   string          `yaml:"to" required:"true" doc:"A local path or file:// URL (relative paths are relative to the mirror file)"`
}

// LoadMirrors reads a mirror map.
func LoadMirrors(file string) (*Mirrors, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d diag.List
	m := &Mirrors{File: file}
	if root := strictyaml.Parse(file, data, &d); root != nil {
		(&strictyaml.Decoder{File: file, Diags: &d}).Decode(root, m)
	}
	if !d.HasErrors() && m.Meta.Has("mirrors") && len(m.Mirrors) == 0 {
		d.Errorf(m.Meta.At("mirrors"), "mirrors: list at least one rewrite (from: URL, to: local copy)")
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	for i := range m.Mirrors {
		to := strings.TrimPrefix(m.Mirrors[i].To, "file://")
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(file), to)
		}
		m.Mirrors[i].To = to
	}
	return m, nil
}

// Rewrite returns where to fetch u from: a local path when a mirror
// matches.
func (m *Mirrors) Rewrite(u string) (string, bool) {
	if m == nil {
		return u, false
	}
	best := -1
	for i, r := range m.Mirrors {
		if strings.HasPrefix(u, r.From) && (best < 0 || len(r.From) > len(m.Mirrors[best].From)) {
			best = i
		}
	}
	if best < 0 {
		return u, false
	}
	r := m.Mirrors[best]
	return r.To + strings.TrimPrefix(u, r.From), true
}

// Fetcher brings pinned sources into a shared store, once: two recipes (or
// two builds) naming the same commit or archive share it.
type Fetcher struct {
	Store   string
	Mirrors *Mirrors
	Offline bool
	// Log receives a line for each download or fetch.
	Log func(format string, args ...any)
	// Progress hears how far a download has got (total is -1 when the
	// server does not say).
	Progress func(url string, done, total int64)
}

// Fetched is a source tree ready to use.
type Fetched struct {
	Dir    string
	Digest Digest // what the source's pin proves: the commit, the archive's sha256, the tree's hash
	Epoch  int64  // the source's own time (commit time, newest archive entry): SOURCE_DATE_EPOCH
}

func (f *Fetcher) logf(format string, args ...any) {
	if f.Log != nil {
		f.Log(format, args...)
	}
}

// Mirrored reports whether a mirror or a local path provides u.
func (f *Fetcher) Mirrored(u string) bool {
	_, local, err := f.location(u)
	return err == nil && local
}

// location resolves a URL through the mirrors and says whether it is local.
func (f *Fetcher) location(u string) (string, bool, error) {
	if to, ok := f.Mirrors.Rewrite(u); ok {
		return to, true, nil
	}
	if strings.HasPrefix(u, "file://") {
		return strings.TrimPrefix(u, "file://"), true, nil
	}
	if !strings.Contains(u, "://") {
		return u, true, nil
	}
	if f.Offline {
		return "", false, unavailable(fmt.Errorf("%s: offline, and no mirror rewrites this URL", u))
	}
	return u, false, nil
}

// ErrUnavailable marks a source that could not be had (offline without a
// mirror, a network or server failure, a commit the repository lacks), as
// opposed to one that was had and is wrong (a hash mismatch, an unsafe
// archive): only the first is helped by a mirror or the network.
var ErrUnavailable = errors.New("source unavailable")

type unavailableError struct{ err error }

func (e unavailableError) Error() string        { return e.err.Error() }
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(err error) error { return unavailableError{err} }

var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	proc.Bind(cmd)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Git fetches exactly one commit of a repository and checks it out (by
// git archive, so the tree holds nothing but the commit's files).
func (f *Fetcher) Git(ctx context.Context, repoURL, commit string) (Fetched, error) {
	if err := safename.Hex(commit, 40); err != nil {
		return Fetched{}, fmt.Errorf("%s: the pin %v", repoURL, err)
	}
	return f.git(ctx, repoURL, commit, false)
}

// GitWithSubmodules is Git, with every submodule checked out at the commit
// the superproject records (each fetched like any pinned source, through
// the mirrors).
func (f *Fetcher) GitWithSubmodules(ctx context.Context, repoURL, commit string) (Fetched, error) {
	return f.git(ctx, repoURL, commit, true)
}

func (f *Fetcher) git(ctx context.Context, repoURL, commit string, submodules bool) (Fetched, error) {
	if !fullCommit.MatchString(commit) {
		return Fetched{}, fmt.Errorf("%s: %q is not a full commit id", repoURL, commit)
	}
	name := "git-" + commit
	if submodules {
		name += "-sub"
	}
	tree := filepath.Join(f.Store, "src", name)
	if epoch, err := os.ReadFile(filepath.Join(tree, ".plinth-epoch")); err == nil {
		e, _ := strconv.ParseInt(strings.TrimSpace(string(epoch)), 10, 64)
		return Fetched{Dir: filepath.Join(tree, "tree"), Digest: Digest("git-" + commit), Epoch: e}, nil
	}
	repo, unlock, err := f.repoWith(ctx, repoURL, commit)
	if err != nil {
		return Fetched{}, err
	}
	defer unlock()
	when, err := git(ctx, repo, "show", "-s", "--format=%ct", commit)
	if err != nil {
		return Fetched{}, err
	}
	epoch, _ := strconv.ParseInt(strings.TrimSpace(string(when)), 10, 64)
	tmp, err := os.MkdirTemp(filepath.Join(f.Store, "src"), ".git-"+commit[:12]+"-*")
	if err != nil {
		if err := os.MkdirAll(filepath.Join(f.Store, "src"), 0o755); err != nil {
			return Fetched{}, err
		}
		if tmp, err = os.MkdirTemp(filepath.Join(f.Store, "src"), ".git-"+commit[:12]+"-*"); err != nil {
			return Fetched{}, err
		}
	}
	defer os.RemoveAll(tmp)
	tarball := filepath.Join(tmp, "tree.tar")
	if _, err := git(ctx, repo, "archive", "--format=tar", "-o", tarball, commit); err != nil {
		return Fetched{}, err
	}
	if err := Extract(tarball, filepath.Join(tmp, "tree"), 0); err != nil {
		return Fetched{}, err
	}
	os.Remove(tarball)
	if submodules {
		if err := f.submodules(ctx, repo, repoURL, commit, filepath.Join(tmp, "tree")); err != nil {
			return Fetched{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".plinth-epoch"), []byte(strconv.FormatInt(epoch, 10)+"\n"), 0o644); err != nil {
		return Fetched{}, err
	}
	if err := os.Rename(tmp, tree); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(filepath.Join(tree, ".plinth-epoch")); statErr != nil {
			return Fetched{}, err
		}
	}
	return Fetched{Dir: filepath.Join(tree, "tree"), Digest: Digest(name), Epoch: epoch}, nil
}

// gitCause is what git said went wrong, without the command line: the last
// "fatal:" message when there is one.
func gitCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "fatal: "); i >= 0 {
		return strings.TrimSpace(msg[i+len("fatal: "):])
	}
	return msg
}

// repoWith is the store's bare repository of a URL, holding the commit
// (fetched through the mirrors when it does not yet), locked until unlock.
func (f *Fetcher) repoWith(ctx context.Context, repoURL, commit string) (string, func(), error) {
	from, _, err := f.location(repoURL)
	if err != nil {
		return "", nil, err
	}
	repo := filepath.Join(f.Store, "git", string(HashBytes([]byte(repoURL)))[:16]+".git")
	unlock, err := lockPath(repo + ".lock")
	if err != nil {
		return "", nil, err
	}
	held := false
	defer func() {
		if !held {
			unlock()
		}
	}()
	if _, err := os.Stat(repo); err != nil {
		if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
			return "", nil, err
		}
		if _, err := git(ctx, filepath.Dir(repo), "init", "--bare", "--quiet", repo); err != nil {
			return "", nil, err
		}
	}
	if _, err := git(ctx, repo, "cat-file", "-e", commit+"^{commit}"); err != nil {
		f.logf("%s %s", repoURL, commit[:12])
		// Just the commit when the server allows it; else everything, then
		// look for the commit.
		if _, err := git(ctx, repo, "fetch", "--quiet", "--no-tags", "--depth=1", from, commit); err != nil {
			if _, err2 := git(ctx, repo, "fetch", "--quiet", "--no-tags", from, "+refs/*:refs/plinth/*"); err2 != nil {
				return "", nil, unavailable(fmt.Errorf("fetch %s: %s", repoURL, gitCause(err2)))
			}
		}
	}
	got, err := git(ctx, repo, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
	if err != nil || strings.TrimSpace(string(got)) != commit {
		return "", nil, unavailable(fmt.Errorf("%s has no commit %s (fetched from %s)", repoURL, commit, from))
	}
	held = true
	return repo, unlock, nil
}

// submodule is a gitlink of a commit: where it goes, its repository and
// the commit the superproject records.
type submodule struct {
	Path, URL, Commit string
}

// listSubmodules reads a commit's gitlinks and their URLs from its
// .gitmodules (relative URLs resolved against the superproject's URL).
func listSubmodules(ctx context.Context, repo, repoURL, commit string) ([]submodule, error) {
	links, err := git(ctx, repo, "ls-tree", "-r", commit)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	if cfg, err := git(ctx, repo, "config", "--blob", commit+":.gitmodules", "--get-regexp", `^submodule\..*\.(path|url)$`); err == nil {
		names := map[string]string{} // submodule name -> path
		for _, line := range strings.Split(strings.TrimSpace(string(cfg)), "\n") {
			key, val, _ := strings.Cut(line, " ")
			sub := strings.TrimPrefix(key, "submodule.")
			if n, ok := strings.CutSuffix(sub, ".path"); ok {
				names[n] = val
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(string(cfg)), "\n") {
			key, val, _ := strings.Cut(line, " ")
			if n, ok := strings.CutSuffix(strings.TrimPrefix(key, "submodule."), ".url"); ok {
				urls[names[n]] = val
			}
		}
	}
	var out []submodule
	for _, line := range strings.Split(strings.TrimSpace(string(links)), "\n") {
		// <mode> <type> <object>\t<path>; submodules are commits (160000).
		meta, path, ok := strings.Cut(line, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || fields[1] != "commit" {
			continue
		}
		if err := safename.RelPath(path); err != nil {
			return nil, fmt.Errorf("%s: submodule path %v", repoURL, err)
		}
		u, ok := urls[path]
		if !ok {
			return nil, fmt.Errorf("%s: submodule %s has no url in .gitmodules", repoURL, path)
		}
		if strings.HasPrefix(u, "../") || strings.HasPrefix(u, "./") {
			u = strings.TrimSuffix(repoURL, "/") + "/" + u // git resolves it the same way
			u = cleanURL(u)
		}
		out = append(out, submodule{Path: path, URL: u, Commit: fields[2]})
	}
	return out, nil
}

// submodules checks out, into tree, each submodule at the commit the
// superproject's commit records.
func (f *Fetcher) submodules(ctx context.Context, repo, repoURL, commit, tree string) error {
	subs, err := listSubmodules(ctx, repo, repoURL, commit)
	if err != nil {
		return err
	}
	for _, sm := range subs {
		sub, err := f.git(ctx, sm.URL, sm.Commit, true)
		if err != nil {
			return fmt.Errorf("submodule %s: %w", sm.Path, err)
		}
		dst := filepath.Join(tree, filepath.FromSlash(sm.Path))
		os.RemoveAll(dst)
		if err := CopyTree(sub.Dir, dst); err != nil {
			return err
		}
	}
	return nil
}

// cleanURL resolves ./ and ../ in a URL's path.
func cleanURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return filepath.Clean(u)
	}
	host, p, _ := strings.Cut(rest, "/")
	return scheme + "://" + host + filepath.Clean("/"+p)
}

// ResolveRef asks a repository which commit a tag or branch names.
func (f *Fetcher) ResolveRef(ctx context.Context, repoURL, ref string) (string, error) {
	from, _, err := f.location(repoURL)
	if err != nil {
		return "", err
	}
	out, err := git(ctx, "", "ls-remote", from, ref, ref+"^{}", "refs/tags/"+ref+"^{}", "refs/heads/"+ref, "refs/tags/"+ref)
	if err != nil {
		return "", err
	}
	best := ""
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		if strings.HasSuffix(fields[1], "^{}") || best == "" {
			best = fields[0] // a peeled tag names the commit itself
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s has no tag or branch %q", repoURL, ref)
	}
	return best, nil
}

// Archive downloads an archive (or takes it from a mirror), checks its
// sha256 and unpacks it.
func (f *Fetcher) Archive(ctx context.Context, archiveURL, sha256 string, strip int) (Fetched, error) {
	if err := safename.Hex(sha256, 64); err != nil {
		return Fetched{}, fmt.Errorf("%s: the pin %v", archiveURL, err)
	}
	tree := filepath.Join(f.Store, "src", fmt.Sprintf("archive-%s-%d", sha256, strip))
	if epoch, err := os.ReadFile(filepath.Join(tree, ".plinth-epoch")); err == nil {
		e, _ := strconv.ParseInt(strings.TrimSpace(string(epoch)), 10, 64)
		return Fetched{Dir: filepath.Join(tree, "tree"), Digest: Digest(sha256), Epoch: e}, nil
	}
	file, err := f.Download(ctx, archiveURL, sha256)
	if err != nil {
		return Fetched{}, err
	}
	if err := os.MkdirAll(filepath.Join(f.Store, "src"), 0o755); err != nil {
		return Fetched{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(f.Store, "src"), ".archive-*")
	if err != nil {
		return Fetched{}, err
	}
	defer os.RemoveAll(tmp)
	epoch, err := ExtractNewest(file, filepath.Join(tmp, "tree"), strip)
	if err != nil {
		return Fetched{}, fmt.Errorf("%s: %w", archiveURL, err)
	}
	os.WriteFile(filepath.Join(tmp, ".plinth-epoch"), []byte(strconv.FormatInt(epoch, 10)+"\n"), 0o644)
	if err := os.Rename(tmp, tree); err != nil {
		if _, statErr := os.Stat(filepath.Join(tree, ".plinth-epoch")); statErr != nil {
			return Fetched{}, err
		}
	}
	return Fetched{Dir: filepath.Join(tree, "tree"), Digest: Digest(sha256), Epoch: epoch}, nil
}

// Download stores a file in the shared store under its sha256 and returns
// its path. With want empty it is downloaded and hashed (for plinth lock);
// otherwise a mismatch is an error and nothing is kept.
func (f *Fetcher) Download(ctx context.Context, u, want string) (string, error) {
	dir := filepath.Join(f.Store, "archives")
	if want != "" {
		if err := safename.Hex(want, 64); err != nil {
			return "", fmt.Errorf("%s: the pin %v", u, err)
		}
		if _, err := os.Stat(filepath.Join(dir, want)); err == nil {
			return filepath.Join(dir, want), nil
		}
	}
	from, local, err := f.location(u)
	if err != nil {
		return "", err
	}
	var body io.ReadCloser
	if local {
		fh, err := os.Open(from)
		if err != nil {
			return "", fmt.Errorf("%s: %w", u, err)
		}
		body = fh
	} else {
		f.logf("%s", u)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
		if err != nil {
			return "", err
		}
		resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
		if err != nil {
			return "", unavailable(fmt.Errorf("download %s: %w", u, err))
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return "", unavailable(fmt.Errorf("download %s: %s", u, resp.Status))
		}
		body = resp.Body
		if f.Progress != nil {
			body = &counting{ReadCloser: resp.Body, report: func(n int64) { f.Progress(u, n, resp.ContentLength) }}
		}
	}
	defer body.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	got, _, err := HashReader(io.TeeReader(body, tmp))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", unavailable(fmt.Errorf("download %s: %w", u, err))
	}
	if want != "" && string(got) != want {
		return "", &MismatchError{URL: u, Want: want, Got: string(got)}
	}
	dst := filepath.Join(dir, string(got))
	return dst, os.Rename(tmp.Name(), dst)
}

// MismatchError is a download whose sha256 is not its pin's; nothing of it
// was kept.
type MismatchError struct{ URL, Want, Got string }

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: the recipe pins %s, the file is %s; nothing was kept", e.URL, e.Want, e.Got)
}

// Path uses a local directory as it is, hashed.
//
// Its symbolic links must stay inside it: the tree's hash holds a link's
// target, not what lies outside, so a link out would let a file the key
// does not hold reach the build.
func (f *Fetcher) Path(dir string) (Fetched, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return Fetched{}, err
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 {
			return err
		}
		real, err := filepath.EvalSymlinks(p)
		rel, rerr := filepath.Rel(root, real)
		if err != nil || rerr != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			target, _ := os.Readlink(p)
			inside, _ := filepath.Rel(root, p)
			return fmt.Errorf("%s: symbolic link %s points outside the source (%s): copy the file in, or make the link point inside", dir, inside, target)
		}
		return nil
	})
	if err != nil {
		return Fetched{}, err
	}
	d, err := HashTree(root)
	if err != nil {
		return Fetched{}, err
	}
	return Fetched{Dir: root, Digest: d}, nil
}

func lockPath(p string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(fh); err != nil {
		fh.Close()
		return nil, err
	}
	return func() { funlock(fh); fh.Close() }, nil
}

// counting reports the bytes read through it, every MiB and at the end.
type counting struct {
	io.ReadCloser
	n, last int64
	report  func(int64)
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	if c.n-c.last >= 1<<20 || err == io.EOF {
		c.last = c.n
		c.report(c.n)
	}
	return n, err
}
