package builder

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/testrepo"
)

// entry is one member of a hand-made archive.
type entry struct {
	name, body, link string
	kind             byte // tar type flag
}

func tarOf(t *testing.T, entries []entry, endBlocks bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.kind, Linkname: e.link, Mode: 0o644}
		if e.kind == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.kind == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	if endBlocks {
		tw.Close()
	} else {
		tw.Flush() // pad the last entry, but write no end-of-archive blocks
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name}
		switch e.kind {
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte(e.link))
		default:
			h.SetMode(0o644)
			w, _ := zw.CreateHeader(h)
			w.Write([]byte(e.body))
		}
	}
	zw.Close()
	return buf.Bytes()
}

// Every archive that tries to escape is refused with ErrUnsafeArchive and
// leaves nothing outside the directory it was unpacked into.
func TestExtractRefusesEveryEscape(t *testing.T) {
	chain := []entry{
		{name: "a", link: ".", kind: tar.TypeSymlink},
		{name: "a/b", link: "..", kind: tar.TypeSymlink},
		{name: "b/pwned", body: "x", kind: tar.TypeReg},
	}
	cases := map[string][]byte{
		"tar: chained symbolic links":       tarOf(t, chain, true),
		"zip: chained symbolic links":       zipOf(t, chain),
		"tar: link to a link that climbs":   tarOf(t, []entry{{name: "d", kind: tar.TypeDir}, {name: "d/up", link: "..", kind: tar.TypeSymlink}, {name: "out", link: "d/up/..", kind: tar.TypeSymlink}}, true),
		"tar: write through a link to /":    tarOf(t, []entry{{name: "l", link: "/", kind: tar.TypeSymlink}, {name: "l/tmp/pwned", body: "x", kind: tar.TypeReg}}, true),
		"tar: hard link outside":            tarOf(t, []entry{{name: "h", link: "../../etc/passwd", kind: tar.TypeLink}}, true),
		"tar: hard link through a link":     tarOf(t, []entry{{name: "up", link: "..", kind: tar.TypeSymlink}, {name: "h", link: "up/secret", kind: tar.TypeLink}}, true),
		"tar: hard link to nothing yet":     tarOf(t, []entry{{name: "h", link: "later", kind: tar.TypeLink}, {name: "later", body: "x", kind: tar.TypeReg}}, true),
		"tar: hard link to a directory":     tarOf(t, []entry{{name: "d", kind: tar.TypeDir}, {name: "h", link: "d", kind: tar.TypeLink}}, true),
		"tar: cut at an entry boundary":     tarOf(t, []entry{{name: "f", body: "x", kind: tar.TypeReg}}, false),
		"tar: empty":                        tarOf(t, nil, true),
		"zip: empty":                        zipOf(t, nil),
		"tar: nothing at all":               {},
		"tar: dotdot":                       tarOf(t, []entry{{name: "a/../../evil", body: "x", kind: tar.TypeReg}}, true),
		"tar: link made safe, then escapes": tarOf(t, []entry{{name: "x", link: "y/..", kind: tar.TypeSymlink}, {name: "y", link: "..", kind: tar.TypeSymlink}}, true),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			os.WriteFile(filepath.Join(base, "secret"), []byte("host secret"), 0o644)
			archive := filepath.Join(base, "archive")
			os.WriteFile(archive, data, 0o644)
			before := testrepo.Paths(base)
			tree := filepath.Join(base, "deep", "tree")
			err := Extract(archive, tree, 0)
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("accepted (%v)", err)
			}
			for p := range testrepo.Paths(base) {
				if !before[p] && p != filepath.Join(base, "deep") && !strings.HasPrefix(p, tree) {
					t.Errorf("%s appeared outside the tree", p)
				}
			}
			if _, err := os.Stat("/tmp/pwned"); err == nil {
				t.Errorf("/tmp/pwned was written")
			}
		})
	}
}

// A bomb: more bytes than the limit is refused, naming the limit.
func TestExtractRefusesABomb(t *testing.T) {
	old := MaxUnpacked
	MaxUnpacked = 1 << 20
	defer func() { MaxUnpacked = old }()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarOf(t, []entry{{name: "big", body: strings.Repeat("\x00", 2<<20), kind: tar.TypeReg}}, true))
	zw.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bomb.tar.gz"), gz.Bytes(), 0o644)
	err := Extract(filepath.Join(dir, "bomb.tar.gz"), filepath.Join(dir, "x"), 0)
	if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), "more than 1048576 bytes") {
		t.Fatalf("bomb: %v", err)
	}
}

// Links that stay inside, hard links to files already unpacked, and modes
// normalised whatever the umask.
func TestExtractKeepsSafeLinksAndNormalisesModes(t *testing.T) {
	data := tarOf(t, []entry{
		{name: "d/f", body: "eff", kind: tar.TypeReg},
		{name: "d/same", link: "f", kind: tar.TypeSymlink},
		{name: "top", link: "d/../d/f", kind: tar.TypeSymlink},
		{name: "hard", link: "d/f", kind: tar.TypeLink},
	}, true)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.tar"), data, 0o644)
	out := filepath.Join(dir, "x")
	if err := Extract(filepath.Join(dir, "ok.tar"), out, 0); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d/same", "top", "hard"} {
		if b, err := os.ReadFile(filepath.Join(out, p)); string(b) != "eff" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if info, _ := os.Stat(filepath.Join(out, "d")); info.Mode().Perm() != 0o755 {
		t.Errorf("d is %v", info.Mode())
	}
}

// A tar.bz2 (as Debian ships upstream sources) unpacks like the others.
func TestExtractUnpacksBzip2(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "u-boot-1", "tools"), 0o755)
	os.WriteFile(filepath.Join(src, "u-boot-1", "tools", "a.c"), []byte("int a;\n"), 0o644)
	archive := filepath.Join(dir, "a.tar.bz2")
	if out, err := exec.Command("tar", "-cjf", archive, "-C", src, "u-boot-1").CombinedOutput(); err != nil {
		t.Skipf("tar -j: %v %s", err, out)
	}
	if err := Extract(archive, filepath.Join(dir, "out"), 1); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "out", "tools", "a.c")); err != nil || string(data) != "int a;\n" {
		t.Errorf("%q %v", data, err)
	}
}
