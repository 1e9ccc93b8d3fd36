package cli

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/swtpm"
	"github.com/pointsav/plinth/sign"
)

// A bundle's manifest is signed by a key held in a TPM, and cosign checks
// that signature from the bundle's own entries (taken out with tar); and a
// key that never meets the build machine signs in two passes: the digest
// exported, signed elsewhere, attached; the same manifest is made again
// and the bundle installs.
func TestBundlesAreSignedInATPMAndInTwoPasses(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	sdk := updateSDK(t)
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	fitKey := filepath.Join(keys, "fit")
	if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "rsa-3072", "-o", fitKey); code != 0 {
		t.Fatal(stderr)
	}
	v1 := updateRelease(t, sdk, fitKey+".key", t.TempDir(), 1, pw)
	v2 := updateRelease(t, sdk, fitKey+".key", t.TempDir(), 2, pw)
	disk := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(disk, mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img")), 0o644)

	tpmKey := filepath.Join(keys, "tpm")
	if _, stderr, code := plinth(t, "keygen", "--tpm", swtpm.Start(t), "-o", tpmKey); code != 0 {
		t.Fatal(stderr)
	}
	bundle := filepath.Join(t.TempDir(), "v2.plb")
	if _, stderr, code := plinth(t, "bundle", "create", v2, "--from", v1, "--key", tpmKey+".tpmkey", "-o", bundle); code != 0 {
		t.Fatal(stderr)
	}
	if stdout, stderr, code := plinth(t, "bundle", "verify", bundle, "--key", tpmKey+".pub"); code != 0 || !strings.Contains(stdout, "verified") {
		t.Fatalf("verify: %s%s", stdout, stderr)
	}
	if cosign := os.Getenv("PLINTH_COSIGN"); cosign != "" {
		x := t.TempDir()
		if out, err := exec.Command("tar", "-xf", bundle, "-C", x).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
		root := filepath.Join(x, "trusted_root.json")
		os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
		out, err := exec.Command(cosign, "verify-blob", "--key", tpmKey+".pub", "--bundle", filepath.Join(x, "manifest.sigstore.json"), "--new-bundle-format",
			"--trusted-root", root, "--insecure-ignore-tlog=true", filepath.Join(x, "manifest.json")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verified OK") {
			t.Errorf("cosign: %v\n%s", err, out)
		}
	}

	// Two passes: the offline key is an ECDSA key this test holds as an
	// HSM would, signing only the digest it is shown.
	if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "ecdsa-p256", "-o", filepath.Join(keys, "offline")); code != 0 {
		t.Fatal(stderr)
	}
	hsm, err := sign.LoadPrivateKey(filepath.Join(keys, "offline.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(keys, "offline.pub")
	digestFile, out := filepath.Join(t.TempDir(), "digest.json"), filepath.Join(t.TempDir(), "offline.plb")
	args := []string{"bundle", "create", v2, "--from", v1, "--issued", "2026-12-01T00:00:00Z", "--pub", pub, "-o", out}
	if _, stderr, code := plinth(t, append(args, "--export-digest", digestFile)...); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the first pass wrote a bundle")
	}
	var entries []map[string]string
	json.Unmarshal(mustRead(t, digestFile), &entries)
	digest, err := hex.DecodeString(entries[0]["digest"])
	if err != nil || len(digest) != sha256.Size {
		t.Fatalf("the exported digest: %v %v", entries, err)
	}
	sig, err := hsm.Sign(rand.Reader, digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(t.TempDir(), "sig")
	os.WriteFile(sigFile, sig, 0o644)
	if _, stderr, code := plinth(t, append(args, "--attach", sigFile)...); code != 0 {
		t.Fatal(stderr)
	}
	if stdout, stderr, code := plinth(t, "update", "apply", out, "--target", disk, "--key", pub); code != 0 {
		t.Fatalf("apply: %s%s", stdout, stderr)
	}
	// A signature over another manifest (another issue time) is refused
	// before anything is written.
	if _, stderr, code := plinth(t, "bundle", "create", v2, "--issued", "2026-12-02T00:00:00Z", "--pub", pub, "-o", out+"2", "--attach", sigFile); code != 1 || !strings.Contains(stderr, "signature") {
		t.Errorf("a signature of another manifest: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(out + "2"); err == nil {
		t.Error("a bundle with a bad signature was written")
	}
}
