package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// faultyProxy stands between plinth and the registry and does to blob
// downloads what a network or a bad mirror does: cuts the first one after
// cut bytes, answers every one with 500, or swaps a blob's bytes.
type faultyProxy struct {
	cut      int64
	always   int // a status for every blob request
	swap     bool
	swapOnly string // swap only this blob (sha256:…)
	cutsDone atomic.Int32
	requests atomic.Int32 // every request that reached the proxy
}

func (f *faultyProxy) start(t testing.TB, registry string) string {
	t.Helper()
	target, _ := url.Parse("http://" + registry)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.Contains(resp.Request.URL.Path, "/blobs/sha256:") || resp.Request.Method != http.MethodGet {
			return nil
		}
		if f.swap || (f.swapOnly != "" && strings.HasSuffix(resp.Request.URL.Path, "/"+f.swapOnly)) {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(data) > 0 {
				data[len(data)/2] ^= 1
			}
			resp.Body = io.NopCloser(bytes.NewReader(data))
			return nil
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.always != 0 && strings.Contains(r.URL.Path, "/blobs/sha256:") && r.Method == http.MethodGet {
			http.Error(w, "the registry is unwell", f.always)
			return
		}
		if f.cut > 0 && strings.Contains(r.URL.Path, "/blobs/sha256:") && r.Method == http.MethodGet && r.Header.Get("Range") == "" && f.cutsDone.Load() == 0 {
			// The headers and the first bytes reach plinth; then the
			// connection drops.
			resp, err := http.Get(target.String() + r.URL.Path)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if int64(len(data)) > f.cut {
				f.cutsDone.Add(1)
				for k, v := range resp.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.StatusCode)
				w.Write(data[:f.cut])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// update fetch against a real registry: a device running v1 gets the delta
// (its base is v1's slot), one running another v1 the full bundle; a
// download cut half way continues where it stopped; a registry answering
// 500 is given up on after the attempts, and a swapped blob is refused;
// neither writes a byte.
func TestUpdateFetchPicksResumesAndRefuses(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	addr := startRegistry(t)
	rs := publishedReleases(t, addr)
	v1, v1other, pub := rs.v1, rs.v1other, rs.pub
	disk := func(build string) string {
		p := filepath.Join(t.TempDir(), "disk.img")
		os.WriteFile(p, mustRead(t, filepath.Join(build, "boot-uboot", "disk.img")), 0o644)
		return p
	}
	fetch := func(registry, target string, more ...string) (string, string, int) {
		return plinth(t, append([]string{"update", "fetch", "--from", registry + "/fleet/hello:stable", "--plain-http", "--target", target, "--key", pub}, more...)...)
	}
	if stdout, stderr, code := fetch(addr, disk(v1)); code != 0 || !strings.Contains(stdout, "fetched version 2 (delta") || !strings.Contains(stdout, "installed version 2 in slot b") {
		t.Errorf("a v1 device: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, stderr, code := fetch(addr, disk(v1other)); code != 0 || !strings.Contains(stdout, "fetched version 2 (full") {
		t.Errorf("another v1: exit %d\n%s%s", code, stdout, stderr)
	}
	cutter := &faultyProxy{cut: 1000}
	if stdout, stderr, code := fetch(cutter.start(t, addr), disk(v1other)); code != 0 || !strings.Contains(stdout, "resumed 1 times") || cutter.cutsDone.Load() == 0 {
		t.Errorf("a cut download: exit %d\n%s%s", code, stdout, stderr)
	}
	for name, proxy := range map[string]*faultyProxy{"500": {always: 500}, "swapped": {swap: true}} {
		target := disk(v1other)
		before := fileSum(t, target)
		stdout, stderr, code := fetch(proxy.start(t, addr), target, "--attempts", "3")
		want := map[string]string{"500": "gave up after 3 attempts", "swapped": "not the bytes the registry named"}[name]
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s%s", name, code, want, stdout, stderr)
		}
		if fileSum(t, target) != before {
			t.Errorf("%s: the disk changed", name)
		}
		t.Log(strings.TrimSpace(stderr))
	}
}
