package pipeline

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/builder"

	"github.com/klauspost/compress/zstd"
	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/testrepo"
	"github.com/pointsav/plinth/recipe"
)

// serve serves files over HTTP on 127.0.0.1 and counts the requests.
func serve(t *testing.T, files map[string][]byte) (string, *int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hits := new(int)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*hits++
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), hits
}

type fixture struct {
	recipeText string
	repo       string
	commit     string
	archive    []byte
	url        string
	downloads  *int
}

func newFixture(t *testing.T, assets string) *fixture {
	repo, commit := testrepo.Git(t, map[string]string{
		"main.c":  "#include <stdio.h>\nint main(void) { puts(\"hello from plinth\"); return 0; }\n",
		"README":  "app\n",
		"sub/x.h": "#define X 1\n",
	})
	arch := testrepo.TarGz(t, map[string]string{"assets-1/a.txt": assets, "assets-1/b.txt": "bee\n"})
	url, hits := serve(t, map[string][]byte{"/assets.tar.gz": arch})
	f := &fixture{repo: repo, commit: commit, archive: arch, url: url, downloads: hits}
	f.recipeText = fmt.Sprintf(`name: engine-demo
description: local git and archive sources, four steps
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {git: %s, commit: %s}
  assets: {archive: %s/assets.tar.gz, sha256: %s, strip: 1}
steps:
  - name: compile
    sources: [app]
    run: [cc, -g, "{prefix_map}", -c, "{src:app}/main.c", -o, "{out}/main.o"]
    outputs: [main.o]
  - name: link
    needs: [compile]
    run: [cc, "{in:compile}/main.o", -o, "{out}/app"]
    outputs: [app]
  - name: data
    sources: [assets]
    run: [sh, -c, "cat src/assets/a.txt src/assets/b.txt > out/all.txt"]
    tools: [cat]
    outputs: [all.txt]
  - name: bundle
    needs: [link, data]
    run: [tar, --sort=name, --mtime=@0, --owner=0, --group=0, --numeric-owner, -cf, "{out}/bundle.tar", -C, in, .]
    outputs: [bundle.tar]
`, repo, commit, url, builder.HashBytes(arch))
	return f
}

// checkedRecipe writes the recipe text into dir, parses and checks it, and
// gives the board the tests build for.
func checkedRecipe(t *testing.T, text, dir string) (*recipe.Recipe, *boards.Board) {
	t.Helper()
	file := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	var d diag.List
	r := recipe.Parse(file, []byte(text), &d)
	set := boards.Load(&d, boards.Embedded())
	recipe.Check(r, set, nil, &d)
	if d.HasErrors() {
		t.Fatalf("recipe: %v", d.Items())
	}
	b, _ := set.Get("qemu_virt_aarch64")
	return r, b
}

// build parses the recipe text and builds it with the given cache and fetcher.
func build(t *testing.T, text, dir string, cache *builder.Cache, fetcher *builder.Fetcher) (*builder.Result, error) {
	t.Helper()
	r, b := checkedRecipe(t, text, dir)
	return Build(context.Background(), r, b, "debug", Options{Cache: cache, Fetcher: fetcher, Jobs: 2, OutRoot: filepath.Join(dir, "out"), Version: "test"})
}

func newEngine(t *testing.T, cacheDir string, remote builder.RemoteStore) (*builder.Cache, *builder.Fetcher) {
	t.Helper()
	c, err := builder.OpenCache(cacheDir, remote)
	if err != nil {
		t.Fatal(err)
	}
	return c, &builder.Fetcher{Store: filepath.Join(cacheDir, "store")}
}

func TestBuildCachesAndRebuildsExactlyWhatChanged(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	dir := t.TempDir()
	cache, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)

	res, err := build(t, f.recipeText, dir, cache, fetcher)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Ran, ",") != "bundle,compile,data,link" || res.Hits != 0 {
		t.Fatalf("first build ran %v, %d hits", res.Ran, res.Hits)
	}
	out := filepath.Join(dir, "out", "engine-demo", "qemu_virt_aarch64", "debug")
	if got := testrepo.Run(t, dir, filepath.Join(out, "link", "app")); got != "hello from plinth" {
		t.Errorf("the built program says %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "data", "all.txt")); string(b) != "ay\nbee\n" {
		t.Errorf("all.txt = %q", b)
	}
	if obj, _ := os.ReadFile(filepath.Join(out, "compile", "main.o")); bytes.Contains(obj, []byte(cache.Dir)) {
		t.Error("the object file names the work directory")
	}
	if log, _ := os.ReadFile(filepath.Join(out, "logs", "compile.log")); !strings.Contains(string(log), "-c src/app/main.c -o out/main.o") {
		t.Errorf("compile log: %q", log)
	}
	bundle1, _ := os.ReadFile(filepath.Join(out, "bundle", "bundle.tar"))

	// Second run: everything from the cache, nothing downloaded again.
	downloads := *f.downloads
	res, err = build(t, f.recipeText, dir, cache, fetcher)
	if err != nil || len(res.Ran) != 0 || res.Hits != 4 || *f.downloads != downloads {
		t.Fatalf("second build: %v, ran %v, %d hits, %d downloads", err, res.Ran, res.Hits, *f.downloads-downloads)
	}

	// A new archive (a new pin) reruns the steps that depend on it, and only those.
	f2 := newFixture(t, "AY\n")
	text := strings.Replace(f.recipeText, f.url, f2.url, 1)
	text = strings.Replace(text, string(builder.HashBytes(f.archive)), string(builder.HashBytes(f2.archive)), 1)
	res, err = build(t, text, dir, cache, fetcher)
	if err != nil || strings.Join(res.Ran, ",") != "bundle,data" || res.Hits != 2 {
		t.Fatalf("after changing the archive: %v, ran %v, %d hits", err, res.Ran, res.Hits)
	}
	bundle2, _ := os.ReadFile(filepath.Join(out, "bundle", "bundle.tar"))
	if bytes.Equal(bundle1, bundle2) {
		t.Error("the bundle did not change")
	}
	// Back to the first archive: all cached again.
	res, err = build(t, f.recipeText, dir, cache, fetcher)
	if err != nil || len(res.Ran) != 0 {
		t.Fatalf("back: %v, ran %v", err, res.Ran)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "bundle", "bundle.tar")); !bytes.Equal(b, bundle1) {
		t.Error("the cached bundle differs from the first build's")
	}
}

func TestHashMismatchIsRefusedAndNothingKept(t *testing.T) {
	f := newFixture(t, "ay\n")
	dir := t.TempDir()
	_, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)
	wrong := strings.Repeat("ab", 32)
	_, err := fetcher.Archive(context.Background(), f.url+"/assets.tar.gz", wrong, 1)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch: the recipe pins "+wrong+", the file is "+string(builder.HashBytes(f.archive))) {
		t.Fatalf("%v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "cache", "store", "archives", "*")); len(files) != 0 {
		t.Errorf("kept %v", files)
	}
}

func TestUnsafeArchivesAreRefused(t *testing.T) {
	for name, entries := range map[string]map[string]string{
		"dotdot":   {"a/../../evil": "x"},
		"absolute": {"/etc/evil": "x"},
		"symlink":  {"link": "->../../outside"},
		"abslink":  {"link": "->/etc/passwd"},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "a.tar.gz")
		os.WriteFile(file, testrepo.TarGz(t, entries), 0o644)
		err := builder.Extract(file, filepath.Join(dir, "x"), 0)
		if !errors.Is(err, builder.ErrUnsafeArchive) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A device file.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3})
	tw.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.tar"), buf.Bytes(), 0o644)
	if err := builder.Extract(filepath.Join(dir, "d.tar"), filepath.Join(dir, "x"), 0); !errors.Is(err, builder.ErrUnsafeArchive) {
		t.Errorf("device: %v", err)
	}
}

func TestMirrorsAndOffline(t *testing.T) {
	f := newFixture(t, "ay\n")
	dir := t.TempDir()
	bare := filepath.Join(dir, "mirrors", "app.git")
	testrepo.Run(t, dir, "git", "clone", "-q", "--bare", f.repo, bare)
	os.WriteFile(filepath.Join(dir, "mirrors", "assets.tar.gz"), f.archive, 0o644)
	mirrorFile := filepath.Join(dir, "mirrors.yaml")
	os.WriteFile(mirrorFile, []byte("mirrors:\n  - {from: https://git.example.invalid/app, to: mirrors/app.git}\n  - {from: https://dl.example.invalid/, to: \"file://"+filepath.Join(dir, "mirrors")+"/\"}\n"), 0o644)
	m, err := builder.LoadMirrors(mirrorFile)
	if err != nil {
		t.Fatal(err)
	}
	fetcher := &builder.Fetcher{Store: filepath.Join(dir, "store"), Mirrors: m, Offline: true}
	got, err := fetcher.Git(context.Background(), "https://git.example.invalid/app", f.commit)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(got.Dir, "main.c")); !strings.Contains(string(b), "hello from plinth") || got.Epoch != 1704164645 {
		t.Errorf("checkout: %q, epoch %d", b, got.Epoch)
	}
	if _, err := fetcher.Archive(context.Background(), "https://dl.example.invalid/assets.tar.gz", string(builder.HashBytes(f.archive)), 1); err != nil {
		t.Fatal(err)
	}
	c, err := fetcher.ResolveRef(context.Background(), "https://git.example.invalid/app", "v1")
	if err != nil || c != f.commit {
		t.Errorf("ResolveRef v1 = %s, %v; want %s", c, err, f.commit)
	}
	_, err = fetcher.Git(context.Background(), "https://github.com/seL4/seL4", "4b97df4c7e24fd0c297e21cae8d997a08b8952b0")
	if err == nil || !strings.Contains(err.Error(), "https://github.com/seL4/seL4: offline, and no mirror rewrites this URL") {
		t.Errorf("a source without a mirror: %v", err)
	}
}

func TestFailingStepCancelsTheRestAndShowsItsLog(t *testing.T) {
	dir := t.TempDir()
	cache, _ := newEngine(t, filepath.Join(dir, "cache"), nil)
	h := builder.Hermetic{Path: os.Getenv("PATH")}
	slowStarted := make(chan struct{})
	slow := &builder.Step{Name: "slow", Key: map[string]any{"x": 1}, Run: func(ctx context.Context, sc *builder.StepContext) error {
		close(slowStarted)
		return h.RunCommand(ctx, sc.Work, sc.Work, []string{"sleep", "30"}, nil, sc.Log)
	}}
	bad := &builder.Step{Name: "bad", Key: map[string]any{"x": 2}, Run: func(ctx context.Context, sc *builder.StepContext) error {
		<-slowStarted
		return h.RunCommand(ctx, sc.Work, sc.Work, []string{"sh", "-c", "echo compiling; echo 'error: no such thing' >&2; exit 3"}, nil, sc.Log)
	}}
	after := &builder.Step{Name: "after", Deps: []*builder.Step{bad}, Key: map[string]any{}, Run: func(ctx context.Context, sc *builder.StepContext) error { return nil }}
	r := &builder.Runner{Cache: cache, Jobs: 2, Out: filepath.Join(dir, "out"), Logs: filepath.Join(dir, "logs")}
	start := time.Now()
	_, err := r.Run(context.Background(), []*builder.Step{slow, after})
	var se *builder.StepError
	if !errors.As(err, &se) || se.Step != "bad" || !strings.Contains(se.Command, "exit 3") || !strings.Contains(se.LogTail, "error: no such thing") {
		t.Fatalf("%v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the slow step was not cancelled (%v)", time.Since(start))
	}
	if entries, _ := cache.Entries(); len(entries) != 0 {
		t.Errorf("failed or cancelled steps were cached: %v", entries)
	}
}

// A blob changed on disk is never returned: the step runs again.
func TestCorruptCacheEntryIsNotUsed(t *testing.T) {
	dir := t.TempDir()
	cache, _ := newEngine(t, filepath.Join(dir, "cache"), nil)
	runs := 0
	step := &builder.Step{Name: "s", Key: map[string]any{"v": 1}, Outputs: []string{"f"}, Run: func(ctx context.Context, sc *builder.StepContext) error {
		runs++
		return os.WriteFile(filepath.Join(sc.Out, "f"), []byte("good"), 0o644)
	}}
	r := &builder.Runner{Cache: cache, Out: filepath.Join(dir, "out"), Logs: filepath.Join(dir, "logs")}
	res, err := r.Run(context.Background(), []*builder.Step{step})
	if err != nil {
		t.Fatal(err)
	}
	blob := cache.BlobPath(res.Outputs["s"][0].Digest)
	os.Chmod(blob, 0o644)
	os.WriteFile(blob, []byte("evil"), 0o644)
	os.RemoveAll(filepath.Join(dir, "out")) // so the output must come from the cache again
	if _, err := r.Run(context.Background(), []*builder.Step{step}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out", "s", "f")); string(b) != "good" || runs != 2 {
		t.Errorf("got %q after %d runs", b, runs)
	}
}

// Two builds of different recipes share one cache at the same time.
func TestConcurrentBuildsShareACache(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f1, f2 := newFixture(t, "one\n"), newFixture(t, "two\n")
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	errs := make(chan error, 2)
	for i, f := range []*fixture{f1, f2} {
		go func() {
			cache, fetcher := newEngine(t, cacheDir, nil)
			d := filepath.Join(dir, fmt.Sprint(i))
			os.MkdirAll(d, 0o755)
			_, err := build(t, strings.Replace(f.recipeText, "engine-demo", fmt.Sprintf("demo%d", i), 1), d, cache, fetcher)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// The same recipe built in two places with two fresh caches gives the same
// bytes: the steps see nothing of where or when they run.
func TestBuildsAreReproducible(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	var bundles [2][]byte
	for i := range bundles {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("somewhere-else-%d", i))
		os.MkdirAll(dir, 0o755)
		cache, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)
		if _, err := build(t, f.recipeText, dir, cache, fetcher); err != nil {
			t.Fatal(err)
		}
		bundles[i], _ = os.ReadFile(filepath.Join(dir, "out", "engine-demo", "qemu_virt_aarch64", "debug", "bundle", "bundle.tar"))
		time.Sleep(1100 * time.Millisecond) // a different second
	}
	if len(bundles[0]) == 0 || !bytes.Equal(bundles[0], bundles[1]) {
		t.Errorf("two builds differ: sha256 %s and %s", builder.HashBytes(bundles[0]), builder.HashBytes(bundles[1]))
	}
}

func TestGitSubmodulesAtTheirRecordedCommits(t *testing.T) {
	sub, subCommit := testrepo.Git(t, map[string]string{"lib.c": "int lib;\n"})
	top, _ := testrepo.Git(t, map[string]string{"main.c": "int main;\n"})
	testrepo.Run(t, top, "git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "deps/lib")
	testrepo.Run(t, top, "git", "commit", "-q", "-m", "add lib")
	commit := testrepo.Run(t, top, "git", "rev-parse", "HEAD")
	// The submodule moves on; the superproject still records the old commit.
	os.WriteFile(filepath.Join(sub, "lib.c"), []byte("int lib2;\n"), 0o644)
	testrepo.Run(t, sub, "git", "commit", "-q", "-am", "two")
	f := &builder.Fetcher{Store: t.TempDir()}
	got, err := f.GitWithSubmodules(context.Background(), top, commit)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(got.Dir, "deps", "lib", "lib.c")); string(b) != "int lib;\n" {
		t.Errorf("submodule content %q (want the recorded commit %s)", b, subCommit)
	}
	plain, err := f.Git(context.Background(), top, commit)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plain.Dir, "deps", "lib", "lib.c")); err == nil {
		t.Error("without submodules the submodule was checked out")
	}
}

// Every archive format a source may come in unpacks to the same tree.
func TestArchiveFormats(t *testing.T) {
	dir := t.TempDir()
	tgz := testrepo.TarGz(t, map[string]string{"top/a/b.txt": "bee\n", "top/link": "->a/b.txt"})
	os.WriteFile(filepath.Join(dir, "x.tar.gz"), tgz, 0o644)
	// Plain tar, from the gzip.
	testrepo.Run(t, dir, "sh", "-c", "gzip -dc x.tar.gz > x.tar")
	raw, _ := os.ReadFile(filepath.Join(dir, "x.tar"))
	var zst bytes.Buffer
	zw, _ := zstd.NewWriter(&zst)
	zw.Write(raw)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "x.tar.zst"), zst.Bytes(), 0o644)
	if _, err := exec.LookPath("xz"); err == nil {
		testrepo.Run(t, dir, "sh", "-c", "xz -kc x.tar > x.tar.xz")
	}
	var zb bytes.Buffer
	zipw := zip.NewWriter(&zb)
	w, _ := zipw.Create("top/a/b.txt")
	w.Write([]byte("bee\n"))
	zipw.Close()
	os.WriteFile(filepath.Join(dir, "x.zip"), zb.Bytes(), 0o644)
	for _, name := range []string{"x.tar", "x.tar.gz", "x.tar.zst", "x.tar.xz", "x.zip"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			continue
		}
		out := filepath.Join(dir, "out-"+name)
		if err := builder.Extract(filepath.Join(dir, name), out, 1); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b, _ := os.ReadFile(filepath.Join(out, "a", "b.txt")); string(b) != "bee\n" {
			t.Errorf("%s: a/b.txt = %q", name, b)
		}
	}
}
