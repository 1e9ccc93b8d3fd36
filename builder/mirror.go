package builder

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/safename"
	"github.com/pointsav/plinth/internal/strictyaml"
)

// MirrorDir makes a directory of mirrors for an air-gapped machine: bare
// git repositories holding the pinned commits (and the submodules' they
// record) and archives by sha256, with a mirror map (mirrors.yaml) that
// `plinth build --offline --mirror DIR/mirrors.yaml` reads. Adding to it is
// idempotent (what is there and verifies is kept) and resumable (each
// piece is written under a temporary name, then renamed).
type MirrorDir struct {
	Dir     string
	Fetcher *Fetcher // fetches what is not yet mirrored, into its store
	entries map[string]string
	Log     func(format string, args ...any)
}

// OpenMirrorDir opens (or starts) a mirror directory, keeping the entries
// its map already has.
func OpenMirrorDir(dir string, f *Fetcher) (*MirrorDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m := &MirrorDir{Dir: abs, Fetcher: f, entries: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(abs, "mirrors.yaml"))
	if os.IsNotExist(err) {
		return m, os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		return nil, err
	}
	var d diag.List
	var existing Mirrors
	if root := strictyaml.Parse(filepath.Join(abs, "mirrors.yaml"), data, &d); root != nil {
		(&strictyaml.Decoder{File: filepath.Join(abs, "mirrors.yaml"), Diags: &d}).Decode(root, &existing)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	for _, e := range existing.Mirrors {
		m.entries[e.From] = e.To
	}
	return m, nil
}

func (m *MirrorDir) logf(format string, args ...any) {
	if m.Log != nil {
		m.Log(format, args...)
	}
}

// place is where a URL's mirror goes under the directory: its host and
// path, made safe, with a suffix.
func place(kind, rawURL, suffix string) string {
	var parts []string
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		parts = append(parts, u.Host)
		rawURL = u.Path
	}
	for _, p := range strings.Split(strings.TrimSuffix(rawURL, ".git"), "/") {
		if safename.Name(p) == nil && !strings.HasPrefix(p, ".") {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		parts = []string{string(HashBytes([]byte(rawURL)))[:16]}
	}
	return path.Join(append([]string{kind}, parts...)...) + suffix
}

// Path is where the mirror of a URL is, relative to the directory ("" when
// it has none).
func (m *MirrorDir) Path(url string) string { return m.entries[url] }

// Git mirrors one commit of a repository (and, with submodules, each
// submodule's recorded commit).
func (m *MirrorDir) Git(ctx context.Context, repoURL, commit string, submodules bool) error {
	if err := safename.Hex(commit, 40); err != nil {
		return fmt.Errorf("%s: the pin %v", repoURL, err)
	}
	rel := m.entries[repoURL]
	if rel == "" || filepath.IsAbs(rel) {
		rel = place("git", repoURL, ".git")
	}
	dst := filepath.Join(m.Dir, filepath.FromSlash(rel))
	if _, err := git(ctx, dst, "cat-file", "-e", commit+"^{commit}"); err != nil {
		store, unlock, err := m.Fetcher.repoWith(ctx, repoURL, commit)
		if err != nil {
			return err
		}
		defer unlock()
		if _, err := os.Stat(dst); err != nil {
			// A new bare repository, made beside and renamed into place.
			tmp := dst + ".partial"
			os.RemoveAll(tmp)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if _, err := git(ctx, filepath.Dir(dst), "init", "--bare", "--quiet", tmp); err != nil {
				return err
			}
			if err := os.Rename(tmp, dst); err != nil {
				return err
			}
		}
		// A ref keeps the commit (and lets a local fetch ask for it).
		ref := "refs/plinth/pins/" + commit
		if _, err := git(ctx, store, "update-ref", ref, commit); err != nil {
			return err
		}
		if _, err := git(ctx, dst, "fetch", "--quiet", "--no-tags", store, "+"+ref+":"+ref); err != nil {
			return fmt.Errorf("mirror %s: %w", repoURL, err)
		}
		m.logf("mirrored %s %s", repoURL, commit[:12])
	}
	if got, err := git(ctx, dst, "rev-parse", "--verify", "--quiet", commit+"^{commit}"); err != nil || strings.TrimSpace(string(got)) != commit {
		return fmt.Errorf("mirror %s does not hold %s", dst, commit)
	}
	m.entries[repoURL] = rel
	if !submodules {
		return nil
	}
	subs, err := listSubmodules(ctx, dst, repoURL, commit)
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := m.Git(ctx, s.URL, s.Commit, true); err != nil {
			return fmt.Errorf("submodule %s: %w", s.Path, err)
		}
	}
	return nil
}

// Archive mirrors an archive, checked against its sha256.
func (m *MirrorDir) Archive(ctx context.Context, archiveURL, sha256 string) error {
	if err := safename.Hex(sha256, 64); err != nil {
		return fmt.Errorf("%s: the pin %v", archiveURL, err)
	}
	name := path.Base(archiveURL)
	if safename.Name(name) != nil || strings.HasPrefix(name, ".") {
		name = "archive"
	}
	rel := path.Join("archives", sha256, name)
	dst := filepath.Join(m.Dir, filepath.FromSlash(rel))
	if d, _, err := HashFile(dst); err != nil || string(d) != sha256 {
		file, err := m.Fetcher.Download(ctx, archiveURL, sha256)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		tmp := dst + ".partial"
		os.Remove(tmp)
		if err := CopyFile(file, tmp, 0o644); err != nil {
			return err
		}
		if d, _, err := HashFile(tmp); err != nil || string(d) != sha256 {
			os.Remove(tmp)
			return fmt.Errorf("%s: the copy does not hash to %s", archiveURL, sha256)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
		m.logf("mirrored %s", archiveURL)
	}
	m.entries[archiveURL] = rel
	return nil
}

// WriteMap writes DIR/mirrors.yaml: every URL mirrored, to its copy
// (relative to the directory, so it can be carried anywhere).
func (m *MirrorDir) WriteMap() error {
	var b strings.Builder
	b.WriteString("# Written by plinth mirror: upstream URLs and their copies here.\n# plinth build --offline --mirror mirrors.yaml\nmirrors:\n")
	for _, from := range slices.Sorted(maps.Keys(m.entries)) {
		fmt.Fprintf(&b, "  - from: %q\n    to: %q\n", from, m.entries[from])
	}
	return atomicfile.Write(filepath.Join(m.Dir, "mirrors.yaml"), []byte(b.String()), 0o644)
}
