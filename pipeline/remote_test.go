package pipeline

import (
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
	"github.com/pointsav/plinth/builder/reapi"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// bazelRemote starts a real bazel-remote on 127.0.0.1 (PLINTH_BAZEL_REMOTE
// names the binary; .ci/run builds it) and returns its URL.
func bazelRemote(t *testing.T) string {
	url, _ := bazelRemoteBoth(t)
	return url
}

// bazelRemoteBoth starts a bazel-remote and returns its HTTP URL and its
// gRPC one.
func bazelRemoteBoth(t *testing.T) (string, string) {
	t.Helper()
	bin := os.Getenv("PLINTH_BAZEL_REMOTE")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("bazel-remote"); err != nil {
			t.Skip("no bazel-remote (set PLINTH_BAZEL_REMOTE; .ci/run builds one)")
		}
	}
	httpPort, grpcPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--dir", t.TempDir(), "--max_size", "1",
		"--http_address", fmt.Sprintf("127.0.0.1:%d", httpPort), "--grpc_address", fmt.Sprintf("127.0.0.1:%d", grpcPort),
		"--disable_http_ac_validation")
	log, _ := os.Create(filepath.Join(t.TempDir(), "bazel-remote.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(url + "/status"); err == nil {
			resp.Body.Close()
			return url, fmt.Sprintf("grpc://127.0.0.1:%d", grpcPort)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(log.Name())
	t.Fatalf("bazel-remote did not start:\n%s", b)
	return "", ""
}

// The same through the Remote Execution API's cache (gRPC) on the same
// server: a second machine gets every step from it, byte for byte.
func TestRemoteCacheOverREAPISharesBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	_, target := bazelRemoteBoth(t)
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
	url := bazelRemote(t)
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
