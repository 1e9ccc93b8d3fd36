package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	godigest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/pointsav/plinth/publish"
)

// registry is distribution's registry (PLINTH_REGISTRY names its binary;
// .ci/run builds v3.1.2) on 127.0.0.1 with a store of its own, followed by
// its process id and stopped when the test ends.
type registry struct {
	t      testing.TB
	bin    string
	addr   string
	config string
	log    string
	cmd    *exec.Cmd
	client *http.Client
	scheme string
}

// startRegistry starts a registry and returns its host:port.
func startRegistry(t testing.TB) string { return newRegistry(t).addr }

func newRegistry(t testing.TB) *registry { return newRegistryWith(t, "", "", nil) }

// newRegistryWith starts a registry with more configuration: of its HTTP
// server (TLS) and besides (auth); client is what checks it is up (nil:
// plain HTTP).
func newRegistryWith(t testing.TB, httpMore, more string, client *http.Client) *registry {
	t.Helper()
	bin := os.Getenv("PLINTH_REGISTRY")
	if bin == "" {
		t.Skip("PLINTH_REGISTRY not set: no OCI registry binary (go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &registry{t: t, bin: bin, addr: l.Addr().String(), client: client, scheme: "http"}
	if client == nil {
		r.client = http.DefaultClient
	} else {
		r.scheme = "https"
	}
	l.Close()
	dir := t.TempDir()
	r.config, r.log = filepath.Join(dir, "config.yml"), filepath.Join(dir, "registry.log")
	os.WriteFile(r.config, []byte(fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s, secret: plinth-test%s}\n%s", filepath.Join(dir, "store"), r.addr, httpMore, more)), 0o644)
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start runs the registry and waits until it answers.
func (r *registry) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "serve", r.config)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	log, _ := os.OpenFile(r.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	err := r.cmd.Start()
	log.Close()
	if err != nil {
		r.t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if resp, err := r.client.Get(r.scheme + "://" + r.addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
	}
	data, _ := os.ReadFile(r.log)
	r.t.Fatalf("the registry did not come up:\n%s", data)
}

// stop kills the registry it started (by its process id) and waits for it.
func (r *registry) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// A signed build with its bundles goes to a real registry as one artifact
// and its referrers; the registry's referrers API lists the SBOM, the
// provenance, every signature and the bundles; publishing it again uploads
// nothing; and cosign verifies the image pulled from the registry with its
// signature pulled from there too.
func TestPublishPushesABuildWithItsReferrersOnce(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	addr := startRegistry(t)
	sdk := updateSDK(t)
	key, pub, pw := releaseKey(t)
	cache := t.TempDir()
	v1 := updateRelease(t, sdk, key, cache, 1, pw)
	v2 := updateRelease(t, sdk, key, cache, 2, pw)
	if _, stderr, code := plinthWith(t, pw, "sign", v2, "--key", key); code != 0 {
		t.Fatal(stderr)
	}
	create := bundleMaker(t, key, pw)
	full, delta := create("full.plb", v2), create("delta.plb", v2, "--from", v1)
	ref := addr + "/fleet/hello:v2"
	stdout, stderr, code := plinth(t, "publish", v2, "--to", ref, "--plain-http", "--bundle", full, "--bundle", delta)
	if code != 0 {
		t.Fatalf("publish: %s%s", stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	again, stderr, code := plinth(t, "publish", v2, "--to", ref, "--plain-http", "--bundle", full, "--bundle", delta)
	if code != 0 || !strings.Contains(again, "uploaded 0 blobs and manifests (0 B)") {
		t.Errorf("publishing again: %s%s", again, stderr)
	}
	// A bundle on its own, its manifest's signature as its referrer.
	if out, stderr, code := plinth(t, "publish", delta, "--to", addr+"/fleet/hello-bundles:2-from-1", "--plain-http"); code != 0 || !strings.Contains(out, "1 files, 1 referrers") {
		t.Errorf("publishing a bundle: %s%s", out, stderr)
	}
	at := strings.Fields(stdout)[3]
	digest := at[strings.Index(at, "@")+1 : len(at)-1]

	ctx := context.Background()
	repo, err := remote.NewRepository(addr + "/fleet/hello")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	types, err := publish.Referrers(ctx, publish.Target{Reference: ref, PlainHTTP: true}, godigest.Digest(digest))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ty := range types {
		count[ty]++
	}
	if count[publish.SPDXType] != 1 || count[publish.InTotoType] != 2 || count[publish.BundleArtifactType] != 2 || count[publish.SigstoreBundleType] < 4 {
		t.Errorf("the registry lists referrers %v", count)
	}

	// Pull the image and its signature, and let cosign judge them.
	cosign := os.Getenv("PLINTH_COSIGN")
	if cosign == "" {
		return
	}
	root, err := repo.Resolve(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	fetchJSON(t, ctx, repo, root, &manifest)
	pulled := t.TempDir()
	for _, l := range manifest.Layers {
		if l.MediaType == publish.ImageType {
			data, err := content.FetchAll(ctx, repo, l)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(pulled, "loader.img"), data, 0o644)
		}
	}
	err = repo.Referrers(ctx, root, publish.SigstoreBundleType, func(refs []ocispec.Descriptor) error {
		for _, r := range refs {
			if r.Annotations[publish.AnnotationSigns] != "loader.img" {
				continue
			}
			var m ocispec.Manifest
			fetchJSON(t, ctx, repo, r, &m)
			data, err := content.FetchAll(ctx, repo, m.Layers[0])
			if err != nil {
				return err
			}
			os.WriteFile(filepath.Join(pulled, "loader.img.sigstore.json"), data, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(pulled, "trusted_root.json")
	os.WriteFile(trust, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	out, err := exec.Command(cosign, "verify-blob", "--key", pub, "--bundle", filepath.Join(pulled, "loader.img.sigstore.json"), "--new-bundle-format",
		"--trusted-root", trust, "--insecure-ignore-tlog=true", filepath.Join(pulled, "loader.img")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Errorf("cosign on the pulled image: %v\n%s", err, out)
	}
}

func fetchJSON(t *testing.T, ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, v any) {
	t.Helper()
	data, err := content.FetchAll(ctx, repo, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
