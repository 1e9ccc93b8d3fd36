package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A path source's links must stay inside it: its hash holds a link's
// target, not what lies outside, so a link out would let an input the key
// does not hold into the build.
func TestPathSourceLinksStayInside(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.h"), []byte("#define A 1\n"), 0o644)
	os.Symlink("../a.h", filepath.Join(src, "sub", "inside.h"))
	f := &Fetcher{Store: filepath.Join(dir, "store")}
	if _, err := f.Path(src); err != nil {
		t.Fatalf("a link inside: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "outside.h"), []byte("#define B 2\n"), 0o644)
	for _, target := range []string{filepath.Join(dir, "outside.h"), "../../outside.h"} {
		os.Remove(filepath.Join(src, "sub", "out.h"))
		os.Symlink(target, filepath.Join(src, "sub", "out.h"))
		_, err := f.Path(src)
		if err == nil || !strings.Contains(err.Error(), "symbolic link sub/out.h points outside the source") {
			t.Errorf("link to %s: %v", target, err)
		}
	}
}
