package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/cargolock"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
)

// DefaultCratesURL is crates.io's download prefix.
const DefaultCratesURL = "https://static.crates.io/crates"

// cratePrefix names the sources a Cargo.lock's crates.io packages become:
// crate-NAME-VERSION.
const cratePrefix = "crate-"

// WithLockedCrates fetches the sources that hold Cargo.locks (Rust
// components' cargo_lock, the Microkit tool's tool_lock), reads each lock
// and returns a copy of the recipe in which every locked package is a
// pinned source of its own: a crates.io package an archive pinned by the
// lock's checksum, a git package a git source at the locked commit. Those
// are fetched too (into fetched), so a checksum mismatch or a crate that
// cannot be had is found before any step runs, named with its lock line.
// The manifest and SBOM then list every crate like any other source.
func WithLockedCrates(ctx context.Context, r *recipe.Recipe, fetched map[string]builder.Fetched, f *builder.Fetcher) (*recipe.Recipe, error) {
	type lockUse struct {
		file   string // as diagnostics name it
		path   string // on disk
		vendor *[]string
		git    map[string]string
	}
	out := *r
	out.Sources = maps.Clone(r.Sources)
	out.Components = slices.Clone(r.Components)
	var uses []lockUse
	need := func(src string) (builder.Fetched, error) {
		if got, ok := fetched[src]; ok {
			return got, nil
		}
		got, err := FetchSources(ctx, r, []string{src}, f)
		if err != nil {
			return builder.Fetched{}, err
		}
		fetched[src] = got[src]
		return got[src], nil
	}
	lockFile := func(src, rel string) (lockUse, error) {
		got, err := need(src)
		if err != nil {
			return lockUse{}, err
		}
		u := lockUse{path: filepath.Join(got.Dir, filepath.FromSlash(rel)), file: src + "/" + rel}
		if s := r.Sources[src]; s != nil && s.Kind() == "path" {
			u.file = filepath.Join(r.Dir, s.Path, filepath.FromSlash(rel))
		}
		return u, nil
	}
	if b := r.SDK.Build; b != nil && b.Tool && b.ToolLock != "" {
		sdk := *b
		sdk.ToolGit = map[string]string{}
		out.SDK.Build = &sdk
		u, err := lockFile(b.Microkit, b.ToolLock)
		if err != nil {
			return nil, err
		}
		u.vendor, u.git = &sdk.ToolVendor, sdk.ToolGit
		uses = append(uses, u)
	}
	for i := range out.Components {
		c := &out.Components[i]
		if c.Lang != "rust" || c.CargoLock == "" {
			continue
		}
		c.LockedGit = map[string]string{}
		u, err := lockFile(c.Source, filepath.ToSlash(filepath.Join(c.Dir, c.CargoLock)))
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		u.vendor, u.git = &c.Vendor, c.LockedGit
		uses = append(uses, u)
	}
	if len(uses) == 0 {
		return r, nil
	}
	prefix := r.CratesURL
	if prefix == "" {
		prefix = DefaultCratesURL
	}
	var problems diag.List
	missing := 0
	for _, u := range uses {
		data, err := os.ReadFile(u.path)
		if err != nil {
			problems.Errorf(diag.Pos{File: u.file}, "the Cargo.lock cannot be read: %v", errors.Unwrap(err))
			continue
		}
		pkgs, err := cargolock.Parse(u.file, data)
		if err != nil {
			var de *diag.Errors
			if errors.As(err, &de) {
				problems.Add(de.List)
			} else {
				problems.Errorf(diag.Pos{File: u.file}, "%v", err)
			}
			continue
		}
		for _, p := range pkgs {
			name, s := lockedSource(p, prefix)
			if prev, ok := out.Sources[name]; ok && (prev.Archive != s.Archive || prev.SHA256 != s.SHA256 || prev.Git != s.Git || prev.Commit != s.Commit) {
				problems.Errorf(p.Pos, "%s %s: the recipe's source %s pins something else; rename that source", p.Name, p.Version, name)
				continue
			}
			got, err := fetchLocked(ctx, f, s)
			if err != nil {
				if errors.Is(err, builder.ErrUnavailable) && !f.Mirrored(s.Archive+s.Git) {
					missing++
					problems.Errorf(p.Pos, "crate %s %s could not be had: %v", p.Name, p.Version, err)
				} else if mm := (*builder.MismatchError)(nil); errors.As(err, &mm) {
					problems.Errorf(p.Pos, "crate %s %s: %s: sha256 mismatch: the lock's checksum is %s, the archive's %s; nothing of it was kept", p.Name, p.Version, mm.URL, mm.Want, mm.Got)
				} else {
					problems.Errorf(p.Pos, "crate %s %s: %v", p.Name, p.Version, err)
				}
				continue
			}
			if p.Registry() {
				s.License = crateLicense(got.Dir)
				*u.vendor = append(*u.vendor, name)
			} else {
				dir, err := findCrate(got.Dir, p.Name)
				if err != nil {
					problems.Errorf(p.Pos, "crate %s %s: %s at %s: %v", p.Name, p.Version, p.Git, p.Commit, err)
					continue
				}
				u.git[p.Git+"#"+p.Name] = name + "/" + dir
			}
			out.Sources[name] = s
			fetched[name] = got
		}
		slices.Sort(*u.vendor)
		*u.vendor = slices.Compact(*u.vendor)
	}
	if problems.HasErrors() {
		// Every problem, each on its line (the error's own text names
		// only the first).
		var all strings.Builder
		problems.Write(&all)
		if missing > 0 {
			fmt.Fprintf(&all, "%d locked crate(s) could not be had. Provide them either way: a mirror (plinth mirror RECIPE -o DIR on a machine that can reach them, then --mirror DIR/mirrors.yaml), or network access to %s\n", missing, prefix)
		}
		return nil, errors.New(strings.TrimSpace(all.String()))
	}
	return &out, nil
}

// lockedSource is the pinned source a locked package becomes.
func lockedSource(p cargolock.Package, cratesURL string) (string, *recipe.Source) {
	if p.Registry() {
		return cratePrefix + p.Dir(), &recipe.Source{Archive: cargolock.CrateURL(cratesURL, p), SHA256: p.Checksum, Strip: 1, Ref: p.Name + " " + p.Version}
	}
	base := strings.TrimSuffix(filepath.Base(p.Git), ".git")
	if base == "" || base == "." || base == "/" {
		base = "repo"
	}
	return "git-" + base + "-" + p.Commit[:12], &recipe.Source{Git: p.Git, Commit: p.Commit}
}

func fetchLocked(ctx context.Context, f *builder.Fetcher, s *recipe.Source) (builder.Fetched, error) {
	if s.Git != "" {
		return f.Git(ctx, s.Git, s.Commit)
	}
	return f.Archive(ctx, s.Archive, s.SHA256, s.Strip)
}

type cargoManifest struct {
	Package struct {
		Name    string `toml:"name"`
		License any    `toml:"license"`
	} `toml:"package"`
}

// crateLicense is the licence a crate's Cargo.toml declares ("" when it
// declares none or inherits it).
func crateLicense(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "Cargo.toml"))
	if err != nil {
		return ""
	}
	var m cargoManifest
	if toml.Unmarshal(data, &m) != nil {
		return ""
	}
	if s, ok := m.Package.License.(string); ok {
		return s
	}
	return ""
}

// findCrate is the directory (slash-separated, relative to the tree) whose
// Cargo.toml is the package's, as cargo finds a crate in a git repository.
func findCrate(tree, name string) (string, error) {
	var found []string
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "target") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "Cargo.toml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m cargoManifest
		if toml.Unmarshal(data, &m) == nil && m.Package.Name == name {
			rel, _ := filepath.Rel(tree, filepath.Dir(p))
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no Cargo.toml in the repository names package %s", name)
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	return "", fmt.Errorf("package %s is in %d places (%s): cargo would refuse it too", name, len(found), strings.Join(found, ", "))
}

// writeVendor lays crate archive sources out as a cargo vendor directory:
// each crate in NAME-VERSION with the .cargo-checksum.json naming its
// archive's sha256 (which cargo checks against the Cargo.lock).
func writeVendor(dir string, vendor []string, fetched map[string]builder.Fetched) error {
	for _, s := range vendor {
		dst := filepath.Join(dir, strings.TrimPrefix(s, cratePrefix))
		if err := builder.CopyTree(fetched[s].Dir, dst); err != nil {
			return err
		}
		sum, err := json.Marshal(map[string]any{"files": map[string]string{}, "package": string(fetched[s].Digest)})
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, ".cargo-checksum.json"), sum, 0o644); err != nil {
			return err
		}
	}
	return nil
}
