package builder

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Arbitrary mirror maps never panic the loader.
func FuzzMirrors(f *testing.F) {
	f.Add([]byte("mirrors:\n  - from: https://github.com/seL4/seL4\n    to: /srv/seL4.git\n"))
	f.Add([]byte("mirrors: ~\n"))
	f.Add([]byte("mirrors: [{from: a, to: file:///x}]\n---\nmirrors: []\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "mirrors.yaml")
		os.WriteFile(file, data, 0o644)
		if m, err := LoadMirrors(file); err == nil {
			m.Rewrite("https://github.com/seL4/seL4")
		}
	})
}

// Arbitrary archives never panic the extractor, and nothing they hold
// lands outside the directory they are unpacked into.
func FuzzExtract(f *testing.F) {
	var chain bytes.Buffer
	tw := tar.NewWriter(&chain)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeSymlink, Linkname: "."})
	tw.WriteHeader(&tar.Header{Name: "a/b", Typeflag: tar.TypeSymlink, Linkname: ".."})
	tw.WriteHeader(&tar.Header{Name: "b/pwned", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("x"))
	tw.Close()
	f.Add(chain.Bytes())
	var ok bytes.Buffer
	tw = tar.NewWriter(&ok)
	tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Size: 2, Mode: 0o755})
	tw.Write([]byte("hi"))
	tw.WriteHeader(&tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "d/f"})
	tw.WriteHeader(&tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "d/f"})
	tw.Close()
	f.Add(ok.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	old := MaxUnpacked
	MaxUnpacked = 1 << 20
	defer func() { MaxUnpacked = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		archive := filepath.Join(base, "a")
		os.WriteFile(archive, data, 0o644)
		tree := filepath.Join(base, "tree")
		Extract(archive, tree, 0)
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != base && p != archive && p != tree && !strings.HasPrefix(p, tree+string(filepath.Separator)) {
				t.Errorf("%s appeared outside the tree", p)
			}
			return nil
		})
		filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink != 0 {
				if real, err := filepath.EvalSymlinks(p); err == nil && !strings.HasPrefix(real, tree) {
					t.Errorf("link %s resolves outside the tree, to %s", p, real)
				}
			}
			return nil
		})
	})
}
