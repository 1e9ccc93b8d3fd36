package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/swtpm"
)

// The real verifier: cosign (PLINTH_COSIGN names its binary; .ci/run and
// `make interop` build v2.6.5) verifies plinth's bundles offline with the
// public key, for a file key of each type cosign handles and for a
// TPM-held key: the image's and manifest's signatures and the SBOM and
// provenance attestations; and refuses a changed image.
func TestCosignVerifiesPlinthSignatures(t *testing.T) {
	cosign := os.Getenv("PLINTH_COSIGN")
	if cosign == "" {
		t.Skip("PLINTH_COSIGN not set: no cosign binary to verify with")
	}
	keys := t.TempDir()
	root := filepath.Join(keys, "trusted_root.json")
	// No certificate authority or log: keys only, verified offline.
	os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	signers := map[string]string{}
	for _, kind := range []string{"ecdsa-p256", "rsa-3072"} {
		prefix := filepath.Join(keys, kind)
		if _, stderr, code := plinthWith(t, pw, "keygen", "--type", kind, "-o", prefix); code != 0 {
			t.Fatal(stderr)
		}
		signers[kind] = prefix
	}
	prefix := filepath.Join(keys, "tpm")
	if _, stderr, code := plinth(t, "keygen", "--tpm", swtpm.Start(t), "-o", prefix); code != 0 {
		t.Fatal(stderr)
	}
	signers["tpm"] = prefix
	for kind, prefix := range signers {
		dir := fakeBuild(t)
		key := prefix + ".key"
		if kind == "tpm" {
			key = prefix + ".tpmkey"
		}
		if _, stderr, code := plinthWith(t, pw, "sign", dir, "--key", key); code != 0 {
			t.Fatalf("%s: %s", kind, stderr)
		}
		verify := func(artifact, bundle string) (string, error) {
			out, err := exec.Command(cosign, "verify-blob", "--key", prefix+".pub", "--bundle", bundle, "--new-bundle-format",
				"--trusted-root", root, "--insecure-ignore-tlog=true", artifact).CombinedOutput()
			return string(out), err
		}
		for _, a := range []string{"image/loader.img", "manifest.json"} {
			out, err := verify(filepath.Join(dir, a), filepath.Join(dir, "signatures", filepath.Base(a)+".sigstore.json"))
			if err != nil || !strings.Contains(out, "Verified OK") {
				t.Errorf("%s: cosign on %s: %v\n%s", kind, a, err, out)
			}
		}
		img := filepath.Join(dir, "image", "loader.img")
		for typ, st := range map[string]string{"slsaprovenance1": "provenance", "spdxjson": "sbom"} {
			out, err := exec.Command(cosign, "verify-blob-attestation", "--key", prefix+".pub", "--bundle", filepath.Join(dir, "signatures", st+".intoto.json.sigstore.json"),
				"--new-bundle-format", "--trusted-root", root, "--insecure-ignore-tlog=true", "--type", typ, img).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verified OK") {
				t.Errorf("%s: cosign on the %s statement: %v\n%s", kind, st, err, out)
			}
		}
		data, _ := os.ReadFile(img)
		data[len(data)/2] ^= 1
		os.WriteFile(img, data, 0o644)
		if out, err := verify(img, filepath.Join(dir, "signatures", "loader.img.sigstore.json")); err == nil {
			t.Errorf("%s: cosign accepted a changed image:\n%s", kind, out)
		}
	}
}
