package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies a build directory, to tamper with a fresh copy each time.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// plinth verify fails (exit 1, naming the check) on every tampering of
// every file the build lists or signs: flipped, emptied, swapped with
// another build's, deleted; on a missing signature; and on statements from
// another build of the same image by a different recipe. --only verifies a
// subset on purpose.
func TestVerifyFailsOnEveryTampering(t *testing.T) {
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "k"))
	pub := filepath.Join(keys, "k.pub")
	signed := func(dir string) string {
		if _, stderr, code := plinthWith(t, pw, "sign", dir, "--key", filepath.Join(keys, "k.key")); code != 0 {
			t.Fatalf("sign: %s", stderr)
		}
		return dir
	}
	image := bytes.Repeat([]byte("seL4 image "), 300)
	good := signed(fakeBuildOfRecipe(t, "qemu_virt_aarch64", image, "hello"))
	// The same image from another recipe: valid signatures, other statements.
	other := signed(fakeBuildOfRecipe(t, "qemu_virt_aarch64", image, "hello-again"))
	if out, stderr, code := plinth(t, "verify", good, "--key", pub); code != 0 {
		t.Fatalf("the untouched build: exit %d\n%s%s", code, out, stderr)
	}
	files := []string{"image/loader.img", "pd-hello/hello.elf", "report.json", "manifest.json", "sbom.spdx.json", "sbom.intoto.json", "provenance.intoto.json",
		"signatures/loader.img.sigstore.json", "signatures/manifest.json.sigstore.json", "signatures/sbom.intoto.json.sigstore.json", "signatures/provenance.intoto.json.sigstore.json"}
	tamperings := map[string]func(dir, file string){
		"flipped": func(dir, file string) {
			b, _ := os.ReadFile(filepath.Join(dir, file))
			b[len(b)/2] ^= 1
			os.WriteFile(filepath.Join(dir, file), b, 0o644)
		},
		"emptied": func(dir, file string) { os.WriteFile(filepath.Join(dir, file), nil, 0o644) },
		"deleted": func(dir, file string) { os.Remove(filepath.Join(dir, file)) },
		"swapped with another build's": func(dir, file string) {
			b, _ := os.ReadFile(filepath.Join(other, file))
			os.WriteFile(filepath.Join(dir, file), b, 0o644)
		},
	}
	for _, file := range files {
		for how, tamper := range tamperings {
			if how == "swapped with another build's" && (file == "image/loader.img" || file == "pd-hello/hello.elf" || file == "report.json" || file == "signatures/loader.img.sigstore.json") {
				continue // the same bytes (or an equally valid signature of them) in both builds
			}
			dir := copyDir(t, good)
			tamper(dir, file)
			_, stderr, code := plinth(t, "verify", dir, "--key", pub)
			base := strings.TrimSuffix(filepath.Base(file), ".sigstore.json")
			if code != 1 || !strings.Contains(stderr, base) {
				t.Errorf("%s %s: exit %d\n%s", file, how, code, stderr)
			}
		}
	}
	// Both statements (and their signatures) of the other build: signed by
	// the same key, about the same image, but not this build's.
	dir := copyDir(t, good)
	for _, f := range []string{"sbom.intoto.json", "provenance.intoto.json", "signatures/sbom.intoto.json.sigstore.json", "signatures/provenance.intoto.json.sigstore.json"} {
		b, _ := os.ReadFile(filepath.Join(other, f))
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 1 || !strings.Contains(stderr, "not the one the signed manifest gives") {
		t.Errorf("another build's statements: exit %d\n%s", code, stderr)
	}
	// SBOM and provenance swapped, with their signatures.
	dir = copyDir(t, good)
	for _, pair := range [][2]string{{"sbom.intoto.json", "provenance.intoto.json"}, {"signatures/sbom.intoto.json.sigstore.json", "signatures/provenance.intoto.json.sigstore.json"}} {
		a, _ := os.ReadFile(filepath.Join(good, pair[0]))
		b, _ := os.ReadFile(filepath.Join(good, pair[1]))
		os.WriteFile(filepath.Join(dir, pair[0]), b, 0o644)
		os.WriteFile(filepath.Join(dir, pair[1]), a, 0o644)
	}
	if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 1 || !strings.Contains(stderr, "not the one the signed manifest gives") {
		t.Errorf("statements swapped: exit %d\n%s", code, stderr)
	}
	// A missing signature fails, unless a subset is asked for.
	dir = copyDir(t, good)
	os.Remove(filepath.Join(dir, "signatures", "provenance.intoto.json.sigstore.json"))
	if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 1 || !strings.Contains(stderr, "provenance.intoto.json: not signed") {
		t.Errorf("missing signature: exit %d\n%s", code, stderr)
	}
	if out, stderr, code := plinth(t, "verify", dir, "--key", pub, "--only", "image,manifest,sbom"); code != 0 || strings.Contains(out, "provenance") {
		t.Errorf("--only image,manifest,sbom: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := plinth(t, "verify", dir, "--key", pub, "--only", "imagee"); code != 2 || !strings.Contains(stderr, `no item "imagee"`) {
		t.Errorf("--only with a typo: exit %d\n%s", code, stderr)
	}
}

// Predicted measurements are bound to the build: another build's (signed
// by the same key) fail, and so does removing them with their signatures
// (the signed index lists them), or removing the index.
func TestVerifyBindsTheMeasurements(t *testing.T) {
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "k"))
	pub := filepath.Join(keys, "k.pub")
	uimage := func(payload string) []byte {
		return append(append([]byte{0x27, 0x05, 0x19, 0x56}, make([]byte, 60)...), []byte(payload)...)
	}
	measured := func(payload string) string {
		dir := fakeBuildOf(t, "star64", uimage(payload))
		if _, stderr, code := plinth(t, "measure", dir, "--uboot-version", "U-Boot 2024.01"); code != 0 {
			t.Fatal(stderr)
		}
		if _, stderr, code := plinthWith(t, pw, "sign", dir, "--key", filepath.Join(keys, "k.key")); code != 0 {
			t.Fatal(stderr)
		}
		return dir
	}
	good, other := measured("payload"), measured("another payload")
	if out, stderr, code := plinth(t, "verify", good, "--key", pub); code != 0 {
		t.Fatalf("untouched: exit %d\n%s%s", code, out, stderr)
	}
	for _, c := range []struct {
		name string
		do   func(dir string)
		want string
	}{
		{"another build's measurements", func(dir string) {
			for _, f := range []string{"measurements.json", "eventlog.cel.json", "signatures/measurements.json.sigstore.json", "signatures/eventlog.cel.json.sigstore.json"} {
				b, _ := os.ReadFile(filepath.Join(other, f))
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
		}, "the measurements are not of this image"},
		{"another build's event log", func(dir string) {
			for _, f := range []string{"eventlog.cel.json", "signatures/eventlog.cel.json.sigstore.json"} {
				b, _ := os.ReadFile(filepath.Join(other, f))
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
		}, "is not the event log these measurements name"},
		{"measurements removed with their signatures", func(dir string) {
			for _, f := range []string{"measurements.json", "eventlog.cel.json", "signatures/measurements.json.sigstore.json", "signatures/eventlog.cel.json.sigstore.json"} {
				os.Remove(filepath.Join(dir, f))
			}
		}, "measurements.json: missing"},
		{"the index removed", func(dir string) { os.Remove(filepath.Join(dir, "signatures", "index.json")) }, "signatures/index.json: missing"},
		{"the index's signature removed", func(dir string) { os.Remove(filepath.Join(dir, "signatures", "index.json.sigstore.json")) }, "signatures/index.json: not signed"},
	} {
		dir := copyDir(t, good)
		c.do(dir)
		if _, stderr, code := plinth(t, "verify", dir, "--key", pub); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want %q\n%s", c.name, code, c.want, stderr)
		}
	}
}

// A file the manifest does not list is named, though it cannot fail the
// build it was added to.
func TestVerifyNamesUnlistedFiles(t *testing.T) {
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	plinthWith(t, pw, "keygen", "-o", filepath.Join(keys, "k"))
	dir := fakeBuild(t)
	plinthWith(t, pw, "sign", dir, "--key", filepath.Join(keys, "k.key"))
	os.WriteFile(filepath.Join(dir, "image", "evil.bin"), []byte("x"), 0o644)
	if _, stderr, code := plinth(t, "verify", dir, "--key", filepath.Join(keys, "k.pub")); code != 0 || !strings.Contains(stderr, "warning: image/evil.bin is not in the manifest") || strings.Contains(stderr, "logs/") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
