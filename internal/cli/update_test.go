package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/pipeline"
	"github.com/pointsav/plinth/recipe"
)

// updateSDK is the fake SDK with a tool whose image stands in for a
// Microkit image: a few instructions that print the text after them on
// the UART, then that text (the "plinth payload vN" line the system's one
// protection domain holds), then the protection domains' ELFs as they
// are, so a delta finds them in it.
func updateSDK(t testing.TB) string {
	t.Helper()
	sdk := fakeSDK(t)
	board := filepath.Join(sdk, "board", "qemu_virt_aarch64", "debug")
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "image.S"), []byte(`.global _start
_start:
	adr x1, text
	mov x2, #0x09000000
1:	ldrb w3, [x1], #1
	cbz w3, 2f
	strb w3, [x2]
	b 1b
2:	wfi
	b 2b
	.balign 8
text:
`), 0o644)
	runAll(t, work,
		[]string{"aarch64-linux-gnu-gcc", "-nostdlib", "-static", "-no-pie", "-Wl,-Ttext=0x70000000", "-Wl,-e,_start", "-Wl,--build-id=none", "-o", "image.elf", "image.S"},
		[]string{"aarch64-linux-gnu-objcopy", "-O", "binary", "image.elf", filepath.Join(board, "image.bin")},
	)
	tool := `#!/bin/sh
sys=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    --search-path) sp=$2; shift 2;;
    --board) board=$2; shift 2;;
    --config) config=$2; shift 2;;
    -o) out=$2; shift 2;;
    -r) report=$2; shift 2;;
    *) shift;;
  esac
done
elves=$(sed -n 's/.*program_image path="\([^"]*\)".*/\1/p' "$sys")
cp "$MICROKIT_SDK/board/$board/$config/image.bin" "$out"
for elf in $elves; do grep -a -o 'plinth payload v[0-9]*' "$sp/$elf" | head -1; done | tr '\n' ' ' >> "$out"
printf '\r\n\0' >> "$out"
for elf in $elves; do cat "$sp/$elf" >> "$out"; done
echo "fake report" > "$report"
`
	os.WriteFile(filepath.Join(sdk, "bin", "microkit"), []byte(tool), 0o755)
	return sdk
}

// updateRelease writes a recipe whose one protection domain says "plinth
// payload vN" and whose update section says version N, builds it with
// U-Boot's artifacts signed by key, and returns the build's directory.
func updateRelease(t testing.TB, sdk, key, cache string, version int, pw map[string]string) string {
	t.Helper()
	return updateReleaseText(t, sdk, key, cache, version, fmt.Sprintf("plinth payload v%d", version), pw)
}

// updateBig is version 2 whose protection domain carries 9 MiB of data:
// its slot is larger than a 16 MiB slot can hold.
func updateBig(t testing.TB, sdk, key, cache string, pw map[string]string) string {
	t.Helper()
	return updateReleaseCode(t, sdk, key, cache, 2, "static const char ballast[9 << 20] = {1};\nvoid init(void) { microkit_dbg_puts(\"plinth payload v2\\n\"); microkit_dbg_puts(ballast + 1); }\n", pw)
}

func updateReleaseText(t testing.TB, sdk, key, cache string, version int, text string, pw map[string]string) string {
	t.Helper()
	return updateReleaseCode(t, sdk, key, cache, version, fmt.Sprintf("void init(void) { microkit_dbg_puts(%q); }\n", text+"\n"), pw)
}

func updateReleaseCode(t testing.TB, sdk, key, cache string, version int, code string, pw map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte("#include <microkit.h>\n"+code), 0o644)
	os.WriteFile(filepath.Join(dir, "app", "hello.system"), []byte(`<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>`), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("payload", "a stand-in release", "qemu_virt_aarch64", sdk)+fmt.Sprintf("update: {version: %d}\n", version)), 0o644)
	out := t.TempDir()
	if _, stderr, code := plinthWith(t, pw, "build", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", key, "--cache-dir", cache, "-o", out); code != 0 {
		t.Fatalf("build v%d: %s", version, stderr)
	}
	return filepath.Join(out, "payload", "qemu_virt_aarch64", "debug")
}

// releaseKey makes an RSA-3072 key pair (U-Boot verifies RSA) that signs
// both the FITs and the bundles, and the environment that unlocks it.
func releaseKey(t testing.TB) (key, pub string, pw map[string]string) {
	t.Helper()
	keys := t.TempDir()
	pw = map[string]string{"PLINTH_PASSWORD": "pw"}
	if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "rsa-3072", "-o", filepath.Join(keys, "release")); code != 0 {
		t.Fatal(stderr)
	}
	return filepath.Join(keys, "release.key"), filepath.Join(keys, "release.pub"), pw
}

// bundleMaker returns a function that makes a bundle signed by key,
// NAME in a directory of its own, from bundle create's arguments.
func bundleMaker(t testing.TB, key string, pw map[string]string) func(name string, args ...string) string {
	bundles := t.TempDir()
	return func(name string, args ...string) string {
		t.Helper()
		file := filepath.Join(bundles, name)
		stdout, stderr, code := plinthWith(t, pw, append(append([]string{"bundle", "create"}, args...), "--key", key, "-o", file)...)
		if code != 0 {
			t.Fatalf("bundle create %s %v: %s", name, args, stderr)
		}
		t.Log(strings.TrimSpace(stdout))
		return file
	}
}

// device is a disk booted again and again by real U-Boot in QEMU, the way
// a board boots its card: what U-Boot writes (the attempts it counts) stays.
type device struct {
	t    *testing.T
	sess *pipeline.UBootSession
	disk string
}

func newDevice(t *testing.T, uboot, build string) *device {
	var d diag.List
	b, ok := boards.Load(&d, boards.Embedded()).Get("qemu_virt_aarch64")
	if !ok {
		t.Fatal("no qemu_virt_aarch64 board")
	}
	sig, err := os.ReadFile(filepath.Join(build, "boot-uboot", pipeline.SignatureFile))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	sess, err := pipeline.UBootRun{Board: b, UBoot: uboot, Build: build, Signature: sig, Work: work}.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	return &device{t: t, sess: sess, disk: filepath.Join(work, pipeline.DiskFile)}
}

// boot powers the device on until every text is seen, then off; it
// returns the console.
func (d *device) boot(texts ...string) string {
	d.t.Helper()
	var expect []recipe.Pattern
	for _, s := range texts {
		expect = append(expect, recipe.RegexPattern(regexpQuote(s)))
	}
	res, err := pipeline.BootUnless(context.Background(), d.sess.Command, d.sess.Args, "", "", expect, ubootRefusals, 60*time.Second, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	if !res.Passed {
		d.t.Fatalf("waiting for %q; the console:\n%s", res.Missing, res.Tail(40))
	}
	var said []string
	for _, l := range strings.Split(res.Console, "\n") {
		if strings.Contains(l, "plinth: ") || strings.Contains(l, "UPDATE|") || strings.Contains(l, "plinth payload") {
			said = append(said, strings.TrimSpace(l))
		}
	}
	d.t.Logf("boot:\n  %s", strings.Join(said, "\n  "))
	return res.Console
}

func regexpQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`, `(`, `\(`, `)`, `\)`, `[`, `\[`, `]`, `\]`, `*`, `\*`, `+`, `\+`, `?`, `\?`, `$`, `\$`, `^`, `\^`, `|`, `\|`, `{`, `\{`, `}`, `\}`).Replace(s)
}

// The proof: v1 boots from slot A; a v2 delta installs in slot B, boots
// on trial and is confirmed; a v3 that is never confirmed is booted its
// three attempts, then U-Boot falls back to v2 by itself; v1 again is
// refused as a rollback. Every boot is real U-Boot running plinth's boot
// script from the disk, checking the FIT's signature.
func TestAnUpdateBootsOnTrialIsConfirmedAndAnUnconfirmedOneFallsBack(t *testing.T) {
	uboot := ubootForQEMU(t)
	sdk := updateSDK(t)
	key, pub, pw := releaseKey(t)
	cache := t.TempDir()
	v1 := updateRelease(t, sdk, key, cache, 1, pw)
	v2 := updateRelease(t, sdk, key, cache, 2, pw)
	v3 := updateRelease(t, sdk, key, cache, 3, pw)
	create := bundleMaker(t, key, pw)
	b2 := create("v2.plb", v2, "--from", v1)
	b3 := create("v3.plb", v3, "--from", v2)
	b1 := create("v1.plb", v1, "--version", "1")
	if stdout, _, _ := plinth(t, "bundle", "inspect", b2); !strings.Contains(stdout, "delta against version 1") {
		t.Errorf("v2's bundle is not a delta against v1:\n%s", stdout)
	}

	dev := newDevice(t, uboot, v1)
	apply := func(bundle string) (string, string, int) {
		return plinth(t, "update", "apply", bundle, "--target", dev.disk, "--key", pub)
	}
	t.Log("boot 1: " + lastLine(dev.boot("sha256,rsa3072:release+ OK", "plinth payload v1")))

	if stdout, stderr, code := apply(b2); code != 0 || !strings.Contains(stdout, "installed version 2 in slot b") {
		t.Fatalf("apply v2: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.boot("slot b is on trial: 2 attempts left", "plinth: slot b: loading", "plinth payload v2")
	if stdout, stderr, code := plinth(t, "update", "confirm", "--target", dev.disk); code != 0 {
		t.Fatalf("confirm: %s%s", stdout, stderr)
	}
	if c := dev.boot("plinth: slot b: loading", "plinth payload v2"); strings.Contains(c, "is on trial:") {
		t.Errorf("a confirmed slot is still on trial:\n%s", c)
	}

	if stdout, stderr, code := apply(b3); code != 0 || !strings.Contains(stdout, "installed version 3 in slot a") {
		t.Fatalf("apply v3: exit %d\n%s%s", code, stdout, stderr)
	}
	for left := 2; left >= 0; left-- {
		dev.boot(fmt.Sprintf("slot a is on trial: %d attempts left", left), "plinth payload v3")
	}
	dev.boot("slot a was never confirmed; falling back to slot b", "plinth: slot b: loading", "plinth payload v2")
	stdout, _, _ := plinth(t, "update", "status", "--target", dev.disk)
	for _, want := range []string{"boots next slot b", "fell back from slot a (never confirmed)", "b active (good) 2"} {
		if !strings.Contains(strings.Join(strings.Fields(stdout), " "), want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}

	if stdout, stderr, code := apply(b1); code != 1 || !strings.Contains(stderr, "version check failed") {
		t.Errorf("v1 again: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.boot("plinth: slot b: loading", "plinth payload v2")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
