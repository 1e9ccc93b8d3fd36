package recipe

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

// Arbitrary recipe files never panic the loader or the checks, with or
// without files beside them.
func FuzzRecipe(f *testing.F) {
	for _, name := range []string{"microkit-hello", "sddf-blk", "sddf-echo-server"} {
		if b, err := os.ReadFile(filepath.Join("..", "recipes", name, "recipe.yaml")); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\nsources: {x: }\n"))
	f.Add([]byte("name: x\nboards: qemu_virt_aarch64\n---\nname: y\n"))
	f.Add([]byte("name: x\ndescription: d\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\nsources: {a: {path: src}}\nsystem: {sdf: ../x.system}\ncomponents: [{name: c, lang: c, source: a, srcs: [x.c], output: ../x}]\n"))
	set := boards.Load(&diag.List{}, boards.Embedded())
	f.Fuzz(func(t *testing.T, data []byte) {
		var d diag.List
		r := Parse("recipe.yaml", data, &d)
		if r == nil {
			return
		}
		fsys := fstest.MapFS{"src/x.c": &fstest.MapFile{Data: []byte("int x;\n")}, "x.system": &fstest.MapFile{Data: []byte("<system/>")}}
		Check(r, set, fsys, &d)
		for name := range r.Sources {
			r.PinOf(name)
		}
	})
}

// Arbitrary lock files never panic, and a lock that reads has only safe
// names and well-formed pins.
func FuzzLock(f *testing.F) {
	f.Add([]byte(`{"recipe": "x", "sources": {"a": {"git": "https://x", "commit": "0123456789abcdef0123456789abcdef01234567", "date": "2026-12-03"}}}`))
	f.Add([]byte(`{"recipe": "x", "sources": {"../a": {"sha256": "../../x"}}}`))
	f.Add([]byte(`{"sources": null}`))
	dir := f.TempDir()
	recipeFile := filepath.Join(dir, "recipe.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		os.WriteFile(LockPath(recipeFile), data, 0o644)
		l, err := ReadLock(recipeFile)
		if err != nil || l == nil {
			return
		}
		for name, p := range l.Sources {
			if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
				t.Errorf("accepted source name %q", name)
			}
			if p.SHA256 != "" && len(p.SHA256) != 64 || p.Commit != "" && len(p.Commit) != 40 {
				t.Errorf("accepted pin %+v", p)
			}
		}
	})
}
