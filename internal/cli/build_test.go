package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/testrepo"
)

// engineRecipe writes a recipe whose sources are a local git repository
// (named by tag: plinth lock pins it) and a local archive.
func engineRecipe(t *testing.T) (dir string) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	repo, _ := testrepo.Git(t, map[string]string{"main.c": "int main(void) { return 0; }\n"})
	dir = t.TempDir()
	arch := testrepo.TarGz(t, map[string]string{"a/notes.txt": "notes\n"})
	os.WriteFile(filepath.Join(dir, "notes.tar.gz"), arch, 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(fmt.Sprintf(`name: cli-demo
description: built by plinth build
boards: [qemu_virt_aarch64]
configs: [debug, release]
sources:
  app: {git: %s, ref: v1}
  notes: {archive: "file://%s/notes.tar.gz", sha256: %s, strip: 1}
steps:
  - name: compile
    sources: [app]
    run: [cc, "-DCONFIG_{config}", -c, "{src:app}/main.c", -o, "{out}/main.o"]
    outputs: [main.o]
  - name: notes
    sources: [notes]
    run: [cp, "{src:notes}/notes.txt", "{out}/notes.txt"]
    outputs: [notes.txt]
`, repo, dir, builder.HashBytes(arch))), 0o644)
	return dir
}

func TestLockBuildAndCache(t *testing.T) {
	dir := engineRecipe(t)
	cache := filepath.Join(t.TempDir(), "cache")
	out := filepath.Join(t.TempDir(), "out")

	// Unpinned until locked.
	_, stderr, code := plinth(t, "build", dir, "--cache-dir", cache, "-o", out)
	if code != 1 || !strings.Contains(stderr, "sources.app: git source is not pinned") {
		t.Fatalf("build before lock: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := plinth(t, "lock", dir, "--cache-dir", cache)
	if code != 0 || !strings.Contains(stdout, "wrote "+filepath.Join(dir, "recipe.yaml.lock")) {
		t.Fatalf("lock: exit %d\n%s%s", code, stdout, stderr)
	}
	var lock struct {
		Sources map[string]struct{ Commit, Ref, Date string }
	}
	b, _ := os.ReadFile(filepath.Join(dir, "recipe.yaml.lock"))
	if json.Unmarshal(b, &lock) != nil || len(lock.Sources["app"].Commit) != 40 || lock.Sources["app"].Ref != "v1" || lock.Sources["app"].Date == "" {
		t.Fatalf("lock file: %s", b)
	}

	stdout, stderr, code = plinth(t, "build", dir, "--cache-dir", cache, "-o", out)
	if code != 0 || strings.Count(stdout, "done  ") != 4 {
		t.Fatalf("first build: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"debug/compile/main.o", "release/notes/notes.txt", "debug/logs/compile.log"} {
		if _, err := os.Stat(filepath.Join(out, "cli-demo", "qemu_virt_aarch64", f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	// Everything cached: quiet, one line a configuration.
	stdout, _, code = plinth(t, "build", dir, "--cache-dir", cache, "-o", out)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "all 2 steps cached") {
		t.Errorf("second build: exit %d\n%s", code, stdout)
	}
	// Machines get one JSON event a line.
	stdout, _, _ = plinth(t, "build", dir, "--cache-dir", cache, "-o", out, "--config", "debug", "--json")
	kinds := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev builder.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", l)
		}
		kinds[ev.Kind]++
	}
	if kinds["plan"] != 1 || kinds["hit"] != 2 || kinds["finish"] != 1 {
		t.Errorf("events: %v", kinds)
	}

	stdout, _, code = plinth(t, "cache", "stats", "--cache-dir", cache)
	if code != 0 || !strings.Contains(stdout, "4 cached steps") || !strings.Contains(stdout, "source store: 1 repositories") {
		t.Errorf("cache stats: %s", stdout)
	}
	stdout, _, _ = plinth(t, "cache", "ls", "--cache-dir", cache)
	if strings.Count(stdout, "compile") != 2 || strings.Count(stdout, "notes") != 2 || strings.Count(stdout, "cli-demo  qemu_virt_aarch64") != 4 {
		t.Errorf("cache ls:\n%s", stdout)
	}
	stdout, _, code = plinth(t, "cache", "gc", "--cache-dir", cache, "--max-size", "0")
	if code != 0 || !strings.Contains(stdout, "removed 4 cached steps") {
		t.Errorf("cache gc: %s", stdout)
	}
	if stdout, _, _ = plinth(t, "cache", "stats", "--cache-dir", cache); !strings.Contains(stdout, "0 cached steps, 0 blobs") {
		t.Errorf("after gc: %s", stdout)
	}
}

func serveFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + path
}

func sha256hex(b []byte) string { return string(builder.HashBytes(b)) }
