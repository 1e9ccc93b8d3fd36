package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realRelease builds Microkit's hello from source (through the mirrors)
// as release N for qemu_virt_aarch64 with U-Boot's artifacts signed by
// key: with sDDF 0.6.0 and update.confirm, plinth's confirming PD rides
// along; release.c gives hello a line of data that differs per release.
func realRelease(t testing.TB, mirrors, key, cache string, version int, confirm bool) string {
	t.Helper()
	dir := t.TempDir()
	text := string(mustRead(t, "../../recipes/microkit-hello/recipe.yaml"))
	text = strings.Replace(text, "name: microkit-hello\n", "name: hello-release\n", 1)
	start := strings.Index(text, "boards: [")
	end := strings.Index(text[start:], "]\n")
	text = text[:start] + "boards: [qemu_virt_aarch64]" + text[start+end+1:]
	text = strings.Replace(text, "sources:\n", "sources:\n  sddf: {git: https://github.com/au-ts/sddf, ref: 0.6.0, commit: 50c4eb17a7dfc65b4111e4770227c3919bdaa1c3, license: BSD-2-Clause}\n", 1)
	text = strings.Replace(text, "    srcs: [hello.c]\n", "    srcs: [hello.c]\n    recipe_srcs: [release.c]\n", 1)
	text += fmt.Sprintf("\nsddf: {source: sddf, release: 0.6.0}\nupdate: {version: %d, confirm: %v}\n", version, confirm)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(text), 0o644)
	os.WriteFile(filepath.Join(dir, "release.c"), []byte(fmt.Sprintf("const char plinth_release[] = \"release %d%s\";\n", version, strings.Repeat(", fixed", version))), 0o644)
	out := t.TempDir()
	if _, stderr, code := plinthWith(t, map[string]string{"PLINTH_PASSWORD": "pw"}, "build", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", key, "--mirror", mirrors, "--offline", "--cache-dir", cache, "-o", out); code != 0 {
		t.Fatalf("build release %d: %s", version, stderr)
	}
	return filepath.Join(out, "hello-release", "qemu_virt_aarch64", "debug")
}

// The proof with real images: Microkit's hello, built from source, with
// plinth's confirming protection domain reading and writing the state
// partition through sDDF's virtio block driver. v1 boots from A; a v2
// delta boots from B on trial and confirms itself; v3, built without the
// confirming PD, boots its three attempts and U-Boot falls back to v2; v1
// again is refused.
func TestRealImagesUpdateAndConfirmThemselves(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no upstream sources to build Microkit images from (the stand-ins' test runs in CI)")
	}
	uboot := ubootForQEMU(t)
	key, pub, pw := releaseKey(t)
	cache := t.TempDir()
	v1 := realRelease(t, mirrors, key, cache, 1, true)
	v2 := realRelease(t, mirrors, key, cache, 2, true)
	v3 := realRelease(t, mirrors, key, cache, 3, false)
	create := bundleMaker(t, key, pw)
	b2, b3, b1 := create("v2.plb", v2, "--from", v1), create("v3.plb", v3, "--from", v2), create("v1.plb", v1)

	dev := newDevice(t, uboot, v1)
	apply := func(bundle string) (string, string, int) {
		return plinth(t, "update", "apply", bundle, "--target", dev.disk, "--key", pub)
	}
	dev.boot("plinth: slot a: loading", "sha256,rsa3072:release+ OK", "hello, world", "UPDATE|INFO: slot a is the good one")
	if stdout, stderr, code := apply(b2); code != 0 {
		t.Fatalf("apply v2: %s%s", stdout, stderr)
	}
	dev.boot("slot b is on trial: 2 attempts left", "plinth: slot b: loading", "hello, world", "UPDATE|INFO: the system is up: confirming slot b (version 0x2)", "UPDATE|INFO: confirmed")
	if c := dev.boot("plinth: slot b: loading", "hello, world", "UPDATE|INFO: slot b is the good one"); strings.Contains(c, "is on trial:") {
		t.Errorf("a slot that confirmed itself is still on trial")
	}
	if stdout, stderr, code := apply(b3); code != 0 {
		t.Fatalf("apply v3: %s%s", stdout, stderr)
	}
	for left := 2; left >= 0; left-- {
		dev.boot(fmt.Sprintf("slot a is on trial: %d attempts left", left), "plinth: slot a: loading", "hello, world")
	}
	dev.boot("slot a was never confirmed; falling back to slot b", "plinth: slot b: loading", "hello, world", "UPDATE|INFO: slot b is the good one")
	if stdout, stderr, code := apply(b1); code != 1 || !strings.Contains(stderr, "version check failed") {
		t.Errorf("v1 again: exit %d\n%s%s", code, stdout, stderr)
	}
}
