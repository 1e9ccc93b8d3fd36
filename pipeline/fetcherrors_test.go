package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/testrepo"
	"github.com/pointsav/plinth/recipe"
)

// A source that was had but is wrong says what is wrong with its bytes; only
// one that could not be had is told to use a mirror or the network.
func TestFetchErrorsSayWhatWasWrong(t *testing.T) {
	good := testrepo.TarGz(t, map[string]string{"a.txt": "a\n"})
	evil := testrepo.TarGz(t, map[string]string{"../../evil.txt": "x\n"})
	url, _ := serve(t, map[string][]byte{"/good.tar.gz": good, "/evil.tar.gz": evil})
	for _, c := range []struct{ file, sha, want, not string }{
		{"good.tar.gz", strings.Repeat("ab", 32), "sha256 mismatch", "Provide them"},
		{"evil.tar.gz", string(builder.HashBytes(evil)), "climbs out with ..", "Provide them"},
		{"missing.tar.gz", strings.Repeat("ab", 32), "Provide them either way", ""},
	} {
		dir := t.TempDir()
		text := "name: f\ndescription: d\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\nsources:\n  a: {archive: " + url + "/" + c.file + ", sha256: " + c.sha + "}\n"
		file := filepath.Join(dir, "recipe.yaml")
		os.WriteFile(file, []byte(text), 0o644)
		var d diag.List
		r := recipe.Parse(file, []byte(text), &d)
		_, err := FetchSources(context.Background(), r, []string{"a"}, &builder.Fetcher{Store: filepath.Join(dir, "store")})
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.not != "" && strings.Contains(err.Error(), c.not)) {
			t.Errorf("%s: %v", c.file, err)
		}
	}
}
