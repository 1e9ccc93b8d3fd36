package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/internal/doctor"
	"github.com/pointsav/plinth/internal/swtpm"
	"github.com/pointsav/plinth/measure"
)

// plinthWith runs plinth with environment variables.
func plinthWith(t testing.TB, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }, host: doctor.HostEnv()}
	code = e.main(args)
	return out.String(), errb.String(), code
}

// fakeBuild makes a build directory as plinth build leaves one: an image,
// another output and the manifest describing both.
func fakeBuild(t *testing.T) string {
	t.Helper()
	return fakeBuildOf(t, "qemu_virt_aarch64", bytes.Repeat([]byte("seL4 image "), 300))
}

// fakeBuildOf is fakeBuild for a board and an image.
func fakeBuildOf(t *testing.T, board string, image []byte) string {
	t.Helper()
	return fakeBuildOfRecipe(t, board, image, "hello")
}

// fakeBuildOfRecipe is fakeBuildOf for a recipe of another name.
func fakeBuildOfRecipe(t *testing.T, board string, image []byte, recipeName string) string {
	t.Helper()
	recipeSHA := fmt.Sprintf("%x", sha256.Sum256([]byte(recipeName)))
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "image"), 0o755)
	os.MkdirAll(filepath.Join(dir, "pd-hello"), 0o755)
	os.WriteFile(filepath.Join(dir, "image", "loader.img"), image, 0o644)
	os.WriteFile(filepath.Join(dir, "pd-hello", "hello.elf"), []byte("\x7fELF hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "report.json"), []byte(`{"pds":[{"name":"hello"}]}`), 0o644)
	img, _ := attest.DescribeFile(dir, "image/loader.img")
	elf, _ := attest.DescribeFile(dir, "pd-hello/hello.elf")
	report, _ := attest.DescribeFile(dir, "report.json")
	m := attest.Manifest{Type: attest.ManifestType, Board: board, Config: "debug", Image: &img, Report: &report, Recipe: attest.ManifestRecipe{Name: recipeName, SHA256: recipeSHA},
		Sources: []attest.ManifestSource{{Name: "microkit", Git: "https://github.com/seL4/microkit", Digest: "git-3f71a5e4effed7551a02fda77151223822060c46"}}, Components: []attest.ManifestFile{elf}, Outputs: []attest.ManifestFile{img, elf}}
	data, err := attest.Canonical(m)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644)
	files, err := attest.Attestations(&m)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	return dir
}

// keygen, sign, verify; then any one flipped byte of the image, the
// manifest, a bundle or another output fails verification, naming the
// check; a wrong key and a wrong passphrase are refused.
func TestSignAndVerifyABuild(t *testing.T) {
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "correct horse"}
	if out, stderr, code := plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "release")); code != 0 || strings.Contains(out+stderr, "correct horse") {
		t.Fatalf("keygen: %d %s %s", code, out, stderr)
	}
	if _, stderr, code := plinth(t, "keygen", "-o", filepath.Join(keys, "nopw")); code != 1 || !strings.Contains(stderr, "set PLINTH_PASSWORD") {
		t.Errorf("keygen without a passphrase: %d %s", code, stderr)
	}
	dir := fakeBuild(t)
	if _, stderr, code := plinthWith(t, map[string]string{"PLINTH_PASSWORD": "wrong"}, "sign", dir, "--key", filepath.Join(keys, "release.key")); code != 1 || !strings.Contains(stderr, "wrong passphrase") {
		t.Errorf("wrong passphrase: %d %s", code, stderr)
	}
	if _, stderr, code := plinthWith(t, pw, "sign", dir, "--key", filepath.Join(keys, "release.key")); code != 0 {
		t.Fatalf("sign: %s", stderr)
	}
	pub := filepath.Join(keys, "release.pub")
	if out, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 0 || !strings.Contains(out, "3 files match the signed manifest") || !strings.Contains(out, "provenance.intoto.json: signed statement about the image verified") {
		t.Fatalf("verify: %d %s %s", code, out, stderr)
	}
	plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "other"))
	if _, stderr, code := plinth(t, "verify", dir, "--key", filepath.Join(keys, "other.pub")); code != 1 || !strings.Contains(stderr, "the bundle was signed by key") {
		t.Errorf("another key: %d %s", code, stderr)
	}
	for _, tc := range []struct{ file, want string }{
		{"image/loader.img", "image/loader.img: the artifact's SHA-256 is"},
		{"manifest.json", "manifest.json: the artifact's SHA-256 is"},
		{"pd-hello/hello.elf", "pd-hello/hello.elf: sha256"},
		{"signatures/loader.img.sigstore.json", "image/loader.img:"},
		{"sbom.intoto.json", "sbom.intoto.json: the file differs from the statement that was signed"},
		{"signatures/provenance.intoto.json.sigstore.json", "provenance.intoto.json:"},
	} {
		path := filepath.Join(dir, tc.file)
		orig, _ := os.ReadFile(path)
		for _, at := range []int{0, len(orig) / 2, len(orig) - 2} {
			flipped := append([]byte(nil), orig...)
			flipped[at] ^= 0x01
			os.WriteFile(path, flipped, 0o644)
			if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s byte %d flipped: exit %d\n%s", tc.file, at, code, stderr)
			}
		}
		os.WriteFile(path, orig, 0o644)
	}
	if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 0 {
		t.Errorf("restored: %s", stderr)
	}
}

// Two passes: the digests exported, signed by another tool (openssl
// here, standing in for an offline HSM), attached; the result verifies.
func TestSignInTwoPasses(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	keys := t.TempDir()
	// A plain PEM key openssl can use, and its public half.
	key := filepath.Join(keys, "hsm.pem")
	if out, err := exec.Command(openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	pub := filepath.Join(keys, "hsm.pub")
	if out, err := exec.Command(openssl, "ec", "-in", key, "-pubout", "-out", pub).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	dir := fakeBuild(t)
	digests := filepath.Join(keys, "digests.json")
	if _, stderr, code := plinth(t, "sign", dir, "--pub", pub, "--export-digests", digests); code != 0 {
		t.Fatal(stderr)
	}
	// The HSM signs each exported digest as it is (openssl pkeyutl signs a
	// pre-hashed digest), image, manifest and both statements alike.
	var exported []struct{ Name, Hash, Digest string }
	data, _ := os.ReadFile(digests)
	if err := json.Unmarshal(data, &exported); err != nil || len(exported) != 5 { // image, manifest, both statements, the index
		t.Fatalf("exported digests: %v\n%s", err, data)
	}
	var attach []string
	sigOf := map[string]string{}
	for _, x := range exported {
		raw, _ := hex.DecodeString(x.Digest)
		in, sig := filepath.Join(keys, x.Name+".digest"), filepath.Join(keys, x.Name+".sig")
		os.WriteFile(in, raw, 0o644)
		if out, err := exec.Command(openssl, "pkeyutl", "-sign", "-inkey", key, "-in", in, "-out", sig).CombinedOutput(); err != nil || x.Hash != "SHA256" {
			t.Fatalf("%s: %v %s", x.Name, err, out)
		}
		attach = append(attach, "--attach", x.Name+"="+sig)
		sigOf[x.Name] = sig
	}
	if _, stderr, code := plinth(t, append([]string{"sign", dir, "--pub", pub}, attach...)...); code != 0 {
		t.Fatal(stderr)
	}
	if out, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 0 || !strings.Contains(out, "provenance.intoto.json: signed statement about the image verified") {
		t.Fatalf("%s %s", out, stderr)
	}
	// A signature of the wrong file is refused and nothing is written.
	os.RemoveAll(filepath.Join(dir, "signatures"))
	if _, stderr, code := plinth(t, "sign", dir, "--pub", pub, "--attach", "image="+sigOf["manifest"], "--attach", "manifest="+sigOf["manifest"],
		"--attach", "sbom="+sigOf["sbom"], "--attach", "provenance="+sigOf["provenance"]); code != 1 || !strings.Contains(stderr, "does not verify") {
		t.Errorf("wrong signature: %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "signatures")); err == nil {
		t.Error("a refused attach wrote signatures")
	}
}

// A TPM-held key (a software TPM here): made by keygen --tpm, signs with
// no passphrase, verifies with its .pub; the key file holds no private key.
func TestSignWithATPMKey(t *testing.T) {
	tpm := swtpm.Start(t)
	keys := t.TempDir()
	prefix := filepath.Join(keys, "tpm")
	if out, stderr, code := plinth(t, "keygen", "--tpm", tpm, "-o", prefix); code != 0 || !strings.Contains(out, "the key stays in TPM") {
		t.Fatalf("keygen --tpm: %d %s %s", code, out, stderr)
	}
	if data, _ := os.ReadFile(prefix + ".tpmkey"); strings.Contains(string(data), "PRIVATE KEY") || !strings.Contains(string(data), `"tpm": "`+tpm) {
		t.Errorf("key file:\n%s", data)
	}
	dir := fakeBuild(t)
	if _, stderr, code := plinth(t, "sign", dir, "--key", prefix+".tpmkey"); code != 0 {
		t.Fatalf("sign: %s", stderr)
	}
	if out, stderr, code := plinth(t, "verify", dir, "--key", prefix+".pub"); code != 0 {
		t.Fatalf("verify: %s %s", out, stderr)
	}
}

// measure predicts a uboot-bootm board's PCRs from the image's uImage
// payload, and refuses a board whose boot measures nothing.
func TestMeasureABuild(t *testing.T) {
	dir := fakeBuild(t)
	if _, stderr, code := plinth(t, "measure", dir, "--uboot-version", "U-Boot 2024.01"); code != 1 || !strings.Contains(stderr, "board qemu_virt_aarch64 boots by qemu-loader") {
		t.Errorf("qemu: %d %s", code, stderr)
	}
	// A uImage: bootm measures the payload after the 64-byte header.
	img := append(append([]byte{0x27, 0x05, 0x19, 0x56}, make([]byte, 60)...), []byte("payload")...)
	dir = fakeBuildOf(t, "star64", img)
	out, stderr, code := plinth(t, "measure", dir, "--uboot-version", "U-Boot 2024.01")
	if code != 0 {
		t.Fatal(stderr)
	}
	pred := measure.Predict(measure.UBootBootm{Version: "U-Boot 2024.01", Image: []byte("payload")}.Events())
	if !strings.Contains(out, pred.Values()["sha256"]["8"]) {
		t.Errorf("PCR 8 is not the payload's: %s", out)
	}
	for _, f := range []string{"measurements.json", "eventlog.cel.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// With Microkit 2.0.1 the same board gets a raw binary started with
	// go, which measures nothing: said, not predicted.
	old := fakeBuildOf(t, "star64", []byte("raw loader"))
	var m attest.Manifest
	data, _ := os.ReadFile(filepath.Join(old, "manifest.json"))
	json.Unmarshal(data, &m)
	m.Microkit = "2.0.1"
	data, _ = attest.Canonical(m)
	os.WriteFile(filepath.Join(old, "manifest.json"), data, 0o644)
	if _, stderr, code := plinth(t, "measure", old, "--uboot-version", "U-Boot 2024.01"); code != 1 || !strings.Contains(stderr, "board star64 with Microkit 2.0.1 boots by uboot-go, which measures nothing") {
		t.Errorf("star64 with 2.0.1: %d %s", code, stderr)
	}
	// Signed with the rest, so the predicted PCRs travel with the image.
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "k"))
	if _, stderr, code := plinthWith(t, pw, "sign", dir, "--key", filepath.Join(keys, "k.key")); code != 0 {
		t.Fatal(stderr)
	}
	if out, stderr, code := plinth(t, "verify", dir, "--key", filepath.Join(keys, "k.pub")); code != 0 || !strings.Contains(out, "measurements.json: signature verified") || !strings.Contains(out, "eventlog.cel.json: signature verified") {
		t.Errorf("verify: %d %s %s", code, out, stderr)
	}
}
