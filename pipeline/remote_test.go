package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/builder/reapi"
	"github.com/pointsav/plinth/internal/testbazel"
)

// The same through the Remote Execution API's cache (gRPC) on the same
// server: a second machine gets every step from it, byte for byte.
func TestRemoteCacheOverREAPISharesBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	target := testbazel.Start(t).GRPCURL()
	sharesBuilds(t, func() builder.RemoteStore {
		c, err := reapi.Dial(target, reapi.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// sharesBuilds builds the fixture on machine A with a client of a remote
// cache, then on machine B (a fresh local cache) with another: B must take
// all four steps from the cache and make the same bundle. It returns B's
// work directory.
func sharesBuilds(t *testing.T, client func() builder.RemoteStore) string {
	t.Helper()
	f := newFixture(t, "ay\n")
	first := t.TempDir()
	cacheA, fetcherA := newEngine(t, filepath.Join(first, "cache"), client())
	res, err := build(t, f.recipeText, first, cacheA, fetcherA)
	if err != nil || len(res.Ran) != 4 {
		t.Fatalf("machine A: %v, ran %v", err, res.Ran)
	}
	second := t.TempDir()
	cacheB, fetcherB := newEngine(t, filepath.Join(second, "cache"), client())
	res, err = build(t, f.recipeText, second, cacheB, fetcherB)
	if err != nil || len(res.Ran) != 0 || res.Hits != 4 {
		t.Fatalf("machine B: %v, ran %v, %d hits", err, res.Ran, res.Hits)
	}
	a, _ := os.ReadFile(filepath.Join(first, "out", "engine-demo", "qemu_virt_aarch64", "debug", "bundle", "bundle.tar"))
	b, _ := os.ReadFile(filepath.Join(second, "out", "engine-demo", "qemu_virt_aarch64", "debug", "bundle", "bundle.tar"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("machine B's bundle differs from machine A's")
	}
	return second
}

// A second machine (a fresh cache) pointed at the same bazel-remote gets
// every step from it.
func TestRemoteCacheSharesBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	url := testbazel.Start(t).HTTP
	second := sharesBuilds(t, func() builder.RemoteStore { return builder.NewRemote(url) })
	if log, _ := os.ReadFile(filepath.Join(second, "out", "engine-demo", "qemu_virt_aarch64", "debug", "logs", "compile.log")); !strings.Contains(string(log), "-c src/app/main.c") {
		t.Errorf("machine B lacks the log: %q", log)
	}
	// The server refuses a blob that does not hash to its name.
	wrong := filepath.Join(t.TempDir(), "x")
	os.WriteFile(wrong, []byte("x"), 0o644)
	if err := builder.NewRemote(url).PutCAS(builder.Digest(strings.Repeat("0", 64)), wrong); err == nil {
		t.Error("bazel-remote took a blob under the wrong digest")
	}
}
