package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/internal/swtpm"
)

// ubootForQEMU is U-Boot for QEMU's arm64 virt machine with FIT signatures
// and measured boot (.ci/run builds it from Debian's source).
func ubootForQEMU(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PLINTH_UBOOT_QEMU_ARM64")
	if bin == "" {
		t.Skip("PLINTH_UBOOT_QEMU_ARM64 not set: no U-Boot for QEMU (scripts/uboot/build.sh makes one)")
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Skip("no swtpm")
	}
	return bin
}

// The board's boot as in the field: real U-Boot in QEMU runs plinth's
// boot.scr from the disk image, loads the FIT from slot A, checks its
// signature with the key plinth put in the control device tree, measures
// it and boots it; the TPM's PCRs then equal plinth's prediction in every
// bank. The same FIT with one byte flipped, or signed by another key, is
// refused by U-Boot itself, and the run quotes U-Boot's line.
func TestUBootVerifiesMeasuresAndBootsTheFIT(t *testing.T) {
	uboot := ubootForQEMU(t)
	sdk := fakeSDK(t)
	dir := t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("uboot-hello", "hello booted through U-Boot", "qemu_virt_aarch64", sdk)+"expect:\n  boot:\n    timeout: 30s\n    serial: [\"hello, world\"]\n"), 0o644)
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "correct horse"}
	for _, name := range []string{"release", "other"} {
		if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "rsa-3072", "-o", filepath.Join(keys, name)); code != 0 {
			t.Fatalf("keygen: %s", stderr)
		}
	}
	cache, out := filepath.Join(t.TempDir(), "cache"), filepath.Join(t.TempDir(), "out")
	run := func(key string) (string, int) {
		_, stderr, code := plinthWith(t, pw, "run", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", filepath.Join(keys, key+".key"), "--uboot", uboot, "--cache-dir", cache, "-o", out)
		return stderr, code
	}
	build := filepath.Join(out, "uboot-hello", "qemu_virt_aarch64", "debug")
	stderr, code := run("release")
	log, _ := os.ReadFile(filepath.Join(build, "logs", "run.log"))
	if code != 0 || !strings.Contains(stderr, "U-Boot verified and booted the FIT") || !strings.Contains(stderr, "equal the prediction in sha1, sha256, sha384") {
		t.Fatalf("exit %d\n%s\nthe console:\n%s", code, stderr, log)
	}
	if !bytes.Contains(log, []byte("sha256,rsa3072:release+ OK")) {
		t.Errorf("U-Boot's console does not show the signature checked:\n%s", log)
	}

	// One byte of the FIT's image flipped in slot A of a copy of the disk;
	// then the good disk booted by a U-Boot that trusts another key.
	good, _ := os.ReadFile(filepath.Join(build, "boot-uboot", "disk.img"))
	bad := bytes.Clone(good)
	i := bytes.Index(bad, []byte("hello, world"))
	if i < 0 {
		t.Fatal("the image's text is not in the disk")
	}
	bad[i] ^= 0x20
	tampered := filepath.Join(t.TempDir(), "tampered.img")
	os.WriteFile(tampered, bad, 0o644)
	_, stderr, code = plinthWith(t, pw, "run", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", filepath.Join(keys, "release.key"), "--uboot", uboot, "--disk", tampered, "--cache-dir", cache, "-o", out)
	if code != 1 || !strings.Contains(stderr, "U-Boot did not boot the FIT") || !strings.Contains(stderr, "Bad hash value") {
		t.Errorf("a flipped byte: exit %d\n%s", code, stderr)
	}
	// Signed by release, booted by a U-Boot whose control device tree
	// holds other's key.
	other := t.TempDir()
	if _, stderr, code := plinthWith(t, pw, "build", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", filepath.Join(keys, "other.key"), "--cache-dir", cache, "-o", other); code != 0 {
		t.Fatal(stderr)
	}
	_, stderr, code = plinthWith(t, pw, "run", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", filepath.Join(keys, "other.key"), "--uboot", uboot, "--disk", filepath.Join(build, "boot-uboot", "disk.img"), "--cache-dir", cache, "-o", out+"-other")
	if code != 1 || !strings.Contains(stderr, "U-Boot did not boot the FIT") || !strings.Contains(stderr, "Failed to verify required signature") {
		t.Errorf("another key: exit %d\n%s", code, stderr)
	}
}

// A release key that never leaves a TPM signs the FIT (RSA-2048, made and
// used inside a software TPM), and U-Boot verifies it.
func TestUBootVerifiesAFITSignedInATPM(t *testing.T) {
	uboot := ubootForQEMU(t)
	tpm := swtpm.Start(t)
	sdk := fakeSDK(t)
	dir := t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("uboot-tpm", "hello signed in a TPM", "qemu_virt_aarch64", sdk)+"expect:\n  boot:\n    timeout: 30s\n    serial: [\"hello, world\"]\n"), 0o644)
	key := filepath.Join(t.TempDir(), "fleet")
	if out, stderr, code := plinth(t, "keygen", "--tpm", tpm, "--type", "rsa-2048", "-o", key); code != 0 || !strings.Contains(out, "(rsa-2048)") {
		t.Fatalf("keygen: %s%s", out, stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, stderr, code := plinth(t, "run", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", key+".tpmkey", "--uboot", uboot, "--cache-dir", t.TempDir(), "-o", out)
	log, _ := os.ReadFile(filepath.Join(out, "uboot-tpm", "qemu_virt_aarch64", "debug", "logs", "run.log"))
	if code != 0 || !bytes.Contains(log, []byte("sha256,rsa2048:fleet+ OK")) {
		t.Fatalf("exit %d\n%s\n%s", code, stderr, log)
	}
}

// A recipe builds the board's U-Boot itself, from Debian's source tarball
// pinned by sha256 (through a mirror here: PLINTH_UBOOT_SOURCE), and the run
// boots with it: it verifies, measures and starts the FIT.
func TestARecipeBuildsTheUBootThatBootsIt(t *testing.T) {
	source, mirrors := debianUBoot(t)
	sdk := fakeSDK(t)
	dir := t.TempDir()
	helloApp(t, dir)
	recipe := helloRecipe("own-uboot", "hello booted by the U-Boot it builds", "qemu_virt_aarch64", sdk)
	recipe = strings.Replace(recipe, "sources:\n", "sources:\n"+source, 1)
	recipe += "uboot: {source: u-boot}\nexpect:\n  boot:\n    timeout: 30s\n    serial: [\"hello, world\"]\n"
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipe), 0o644)
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	plinthWith(t, pw, "keygen", "--type", "rsa-3072", "-o", filepath.Join(keys, "release"))
	out := filepath.Join(t.TempDir(), "out")
	// Built twice, the second time in another directory, umask, time zone,
	// locale and PATH order: U-Boot and the boot artifacts are the same
	// bytes.
	stdout, stderr, code := plinthWith(t, pw, "run", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--boot-key", filepath.Join(keys, "release.key"), "--verify-repro", "--offline", "--mirror", mirrors, "--cache-dir", t.TempDir(), "-o", out)
	if !strings.Contains(stdout, "reproducible: qemu_virt_aarch64/debug: every output of 4 steps") {
		t.Errorf("the second build did not reproduce the first:\n%s%s", stdout, stderr)
	}
	build := filepath.Join(out, "own-uboot", "qemu_virt_aarch64", "debug")
	log, _ := os.ReadFile(filepath.Join(build, "logs", "run.log"))
	if code != 0 || !strings.Contains(stderr, "-bios "+filepath.Join(build, "u-boot", "u-boot.bin")) || !strings.Contains(stderr, "PCRs [0 1 8 9] equal the prediction") {
		t.Fatalf("exit %d\n%s\n%s", code, stderr, log)
	}
	// U-Boot runs with the environment plinth wrote (its default, plus the
	// slot to boot), from the flash bank it keeps it in.
	for _, want := range []string{"Loading Environment from Flash... OK", "plinth: slot a: loading virtio 0:2 image.fit"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the console lacks %q", want)
		}
	}
	// U-Boot's version string comes from the source's date, not the build's.
	if !bytes.Contains(log, []byte("U-Boot 2025.01 (Jan 07 2025 - 00:54:44 +0000)")) {
		t.Errorf("the banner is not the source's date:\n%s", log)
	}
}

// For a real board the disk is what its boot ROM reads: on the Raspberry
// Pi 4, the firmware files the recipe pins, the config.txt that has the
// firmware start U-Boot, U-Boot built for the Pi from Debian's source, and
// U-Boot's environment (plinth's slot included) as the file it reads from
// the boot partition. A firmware file the recipe's source lacks is named;
// a recipe that gives no firmware is refused by plinth check.
func TestARaspberryPiDiskHoldsFirmwareUBootAndItsEnvironment(t *testing.T) {
	source, mirrors := debianUBoot(t)
	sdk := fakeSDKFor(t, "rpi4b_1gb")
	dir := t.TempDir()
	helloApp(t, dir)
	fw := filepath.Join(dir, "fw")
	os.MkdirAll(fw, 0o755)
	for _, f := range []string{"start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb"} {
		os.WriteFile(filepath.Join(fw, f), []byte("firmware "+f), 0o644)
	}
	base := helloRecipe("pi-uboot", "hello on a Raspberry Pi's SD card", "rpi4b_1gb", sdk)
	base = strings.Replace(base, "sources:\n", "sources:\n"+source+"  firmware: {path: fw}\n", 1)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(base+"uboot: {source: u-boot}\n"), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, "board rpi4b_1gb boots with firmware files beside U-Boot the recipe does not give (uboot.firmware: SOURCE): start4.elf, fixup4.dat, bcm2711-rpi-4-b.dtb") {
		t.Errorf("no firmware: exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(base+"uboot: {source: u-boot, firmware: firmware}\n"), 0o644)
	cache, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	if _, stderr, code := plinth(t, "build", dir, "--boot", "uboot", "--offline", "--mirror", mirrors, "--cache-dir", cache, "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	build := filepath.Join(out, "pi-uboot", "rpi4b_1gb", "debug")
	disk := filepath.Join(build, "boot-uboot", "disk.img")
	ubootBin, _ := os.ReadFile(filepath.Join(build, "u-boot", "u-boot.bin"))
	env, _ := os.ReadFile(filepath.Join(build, "u-boot", "uboot.env"))
	for name, want := range map[string][]byte{
		"u-boot.bin": ubootBin, "uboot.env": env, "start4.elf": []byte("firmware start4.elf"), "bcm2711-rpi-4-b.dtb": []byte("firmware bcm2711-rpi-4-b.dtb"),
		"config.txt": []byte("arm_64bit=1\nenable_uart=1\nkernel=u-boot.bin\n"),
	} {
		got, err := image.ReadFile(disk, image.BootPartition, name)
		if err != nil || len(want) == 0 || !bytes.Equal(got, want) {
			t.Errorf("the boot partition's %s is not the expected one (%d bytes, %v)", name, len(got), err)
		}
	}
	if !bytes.Contains(env, []byte("board=rpi\x00")) {
		t.Errorf("uboot.env lacks the Pi's defaults")
	}
	if _, err := image.ReadFile(disk, image.SlotAPartition, "image.fit"); err != nil {
		t.Errorf("slot A: %v", err)
	}
	// A firmware file the source lacks.
	os.Remove(filepath.Join(fw, "fixup4.dat"))
	if _, stderr, code := plinth(t, "build", dir, "--boot", "uboot", "--offline", "--mirror", mirrors, "--cache-dir", cache, "-o", out); code != 1 || !strings.Contains(stderr, "lacks: fixup4.dat") {
		t.Errorf("a missing firmware file: exit %d\n%s", code, stderr)
	}
}

// A board whose U-Boot needs binaries that are not U-Boot's (TF-A, DDR
// training firmware) names each one a recipe does not give.
func TestARecipeLackingABoardsUBootBlobsIsToldWhich(t *testing.T) {
	dir := t.TempDir()
	helloApp(t, dir)
	base := helloRecipe("blobs", "U-Boot for boards with blobs", "rockpro64, imx8mm_evk", "/nonexistent")
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(base+"uboot: {source: app}\n"), 0o644)
	_, stderr, code := plinth(t, "check", dir)
	for _, want := range []string{
		"board rockpro64's U-Boot needs BL31, which the recipe does not give (uboot.blobs: {BL31: SOURCE/PATH}): TF-A's bl31.elf for the RK3399",
		"board imx8mm_evk's U-Boot needs bl31.bin, which the recipe does not give (uboot.blobs: {bl31.bin: SOURCE/PATH}): TF-A's bl31.bin for the i.MX8MM",
		"board imx8mm_evk's U-Boot needs lpddr4_pmu_train_2d_dmem.bin, which the recipe does not give (uboot.blobs: {lpddr4_pmu_train_2d_dmem.bin: SOURCE/PATH}): NXP's LPDDR4 training firmware (firmware-imx)",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want %q\n%s", code, want, stderr)
		}
	}
}

// The blobs a board's U-Boot needs reach its build (binman packs them into
// flash.bin), and what the boot ROM reads lands raw on the card where the
// board file says, before the first partition (the i.MX8MM EVK: flash.bin
// at 33 KiB, partitions from 8 MiB). The blobs here are stand-ins: the
// board would not boot, the build and the layout are what is checked.
func TestABoardsBlobsReachItsUBootAndTheCard(t *testing.T) {
	source, mirrors := debianUBoot(t)
	sdk := fakeSDKFor(t, "imx8mm_evk")
	dir := t.TempDir()
	helloApp(t, dir)
	blobs := filepath.Join(dir, "blobs")
	os.MkdirAll(blobs, 0o755)
	var names []string
	for _, n := range []string{"bl31.bin", "lpddr4_pmu_train_1d_imem.bin", "lpddr4_pmu_train_1d_dmem.bin", "lpddr4_pmu_train_2d_imem.bin", "lpddr4_pmu_train_2d_dmem.bin"} {
		os.WriteFile(filepath.Join(blobs, n), bytes.Repeat([]byte(n[:4]), 1024), 0o644)
		names = append(names, fmt.Sprintf("%q: blobs/%s", n, n))
	}
	recipe := helloRecipe("imx-uboot", "hello on an i.MX8MM EVK's SD card", "imx8mm_evk", sdk)
	recipe = strings.Replace(recipe, "sources:\n", "sources:\n"+source+"  blobs: {path: blobs}\n", 1)
	recipe += "uboot:\n  source: u-boot\n  blobs: {" + strings.Join(names, ", ") + "}\n"
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipe), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	if _, stderr, code := plinth(t, "build", dir, "--boot", "uboot", "--offline", "--mirror", mirrors, "--cache-dir", t.TempDir(), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	build := filepath.Join(out, "imx-uboot", "imx8mm_evk", "debug")
	flash, err := os.ReadFile(filepath.Join(build, "u-boot", "flash.bin"))
	if err != nil || !bytes.Contains(flash, bytes.Repeat([]byte("lpdd"), 64)) {
		t.Fatalf("flash.bin lacks the DDR firmware (%v)", err)
	}
	disk, _ := os.ReadFile(filepath.Join(build, "boot-uboot", "disk.img"))
	if len(disk) < 33*1024+len(flash) || !bytes.Equal(disk[33*1024:33*1024+len(flash)], flash) {
		t.Error("flash.bin is not on the card at 33 KiB")
	}
	if out, err := exec.Command("sfdisk", "-d", filepath.Join(build, "boot-uboot", "disk.img")).CombinedOutput(); err == nil && !strings.Contains(string(out), "start=       16384") {
		t.Errorf("the first partition does not start at 8 MiB:\n%s", out)
	}
}

// debianUBoot is the U-Boot source the recipe tests build from: Debian's
// 2025.01 tarball, pinned by sha256, served from PLINTH_UBOOT_SOURCE through
// a mirror map. It returns the source line for a recipe's sources and the
// mirror map's path, and skips where the tarball or U-Boot's build tools
// are not here.
func debianUBoot(t *testing.T) (source, mirrors string) {
	t.Helper()
	ubootForQEMU(t)
	src := os.Getenv("PLINTH_UBOOT_SOURCE")
	if src == "" {
		t.Skip("PLINTH_UBOOT_SOURCE not set: no U-Boot source tarball (scripts/uboot/build.sh keeps one)")
	}
	for _, tool := range []string{"bison", "flex", "swig"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (apt-get install bison flex bc swig python3-dev python3-setuptools python3-pyelftools)", tool)
		}
	}
	const url = "http://deb.debian.org/debian/pool/main/u/u-boot/u-boot_2025.01.orig.tar.bz2"
	mirrors = filepath.Join(t.TempDir(), "mirrors.yaml")
	os.WriteFile(mirrors, []byte("mirrors:\n  - from: "+url+"\n    to: "+src+"\n"), 0o644)
	return "  u-boot: {archive: " + url + ", sha256: cdef7d507c93f1bbd9f015ea9bc21fa074268481405501945abc6f854d5b686f, strip: 1}\n", mirrors
}

// fakeSDKFor is the stand-in SDK with its runtime also serving board (the
// stand-in tool writes the same image for any board it has).
func fakeSDKFor(t *testing.T, board string) string {
	t.Helper()
	sdk := fakeSDK(t)
	if out, err := exec.Command("cp", "-r", filepath.Join(sdk, "board", "qemu_virt_aarch64"), filepath.Join(sdk, "board", board)).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	return sdk
}
