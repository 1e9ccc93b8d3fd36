package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/internal/testrepo"
)

// A mirror directory made from the sources' own places builds offline,
// with a fresh cache and the originals gone; making it again changes
// nothing; a mirror that does not hold what the recipe pins is refused.
func TestMirrorDirBuildsOffline(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	dir := t.TempDir()
	r, _ := checkedRecipe(t, f.recipeText, dir)
	_, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)
	mirrorDir := filepath.Join(dir, "mirrors")
	mirror := func() *builder.MirrorDir {
		m, err := builder.OpenMirrorDir(mirrorDir, fetcher)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		app, _ := r.PinOf("app")
		assets, _ := r.PinOf("assets")
		if err := m.Git(ctx, r.Sources["app"].Git, app, false); err != nil {
			t.Fatal(err)
		}
		if err := m.Archive(ctx, r.Sources["assets"].Archive, assets); err != nil {
			t.Fatal(err)
		}
		if err := m.WriteMap(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	mirror()
	before := testrepo.Paths(mirrorDir)
	var logged []string
	m := mirror()
	m.Log = func(format string, args ...any) { logged = append(logged, format) }
	if after := testrepo.Paths(mirrorDir); len(after) != len(before) || len(logged) != 0 {
		t.Errorf("mirroring again changed the directory (%d paths, then %d) or fetched %v", len(before), len(after), logged)
	}
	// The originals go; a fresh machine builds from the mirrors alone.
	os.RemoveAll(f.repo)
	*f.downloads = 0
	mirrors, err := builder.LoadMirrors(filepath.Join(mirrorDir, "mirrors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	build2 := t.TempDir()
	cache2, _ := newEngine(t, filepath.Join(build2, "cache"), nil)
	offline := &builder.Fetcher{Store: filepath.Join(build2, "cache", "store"), Mirrors: mirrors, Offline: true}
	res, err := build(t, f.recipeText, build2, cache2, offline)
	if err != nil || len(res.Ran) != 4 || *f.downloads != 0 {
		t.Fatalf("offline build from the mirrors: %v, ran %v, %d downloads", err, res, *f.downloads)
	}
	// An archive that is not the pinned one, and a mirror that does not
	// hold the pinned commit, are refused (in that order: the git source
	// is fetched first, so its case comes last).
	for _, c := range []struct {
		name, want string
		spoil      func()
	}{
		{"archive", "sha256 mismatch", func() {
			file := filepath.Join(mirrorDir, filepath.FromSlash(m.Path(r.Sources["assets"].Archive)))
			os.WriteFile(file, []byte("not the archive"), 0o644)
		}},
		{"git", "has no commit", func() {
			repo := filepath.Join(mirrorDir, "git")
			os.RemoveAll(repo)
			other, _ := testrepo.Git(t, map[string]string{"x": "y"})
			testrepo.Run(t, t.TempDir(), "git", "clone", "--quiet", "--bare", other, filepath.Join(mirrorDir, filepath.FromSlash(m.Path(r.Sources["app"].Git))))
		}},
	} {
		c.spoil()
		fresh := t.TempDir()
		cache3, _ := newEngine(t, filepath.Join(fresh, "cache"), nil)
		_, err := build(t, f.recipeText, fresh, cache3, &builder.Fetcher{Store: filepath.Join(fresh, "cache", "store"), Mirrors: mirrors, Offline: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("a spoilt %s mirror: %v", c.name, err)
		}
	}
}
