package image

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ubootTool finds a U-Boot host tool: in PLINTH_UBOOT_TOOLS (the tools
// directory of a U-Boot build, as .ci/run makes one), else on PATH.
func ubootTool(t *testing.T, name string) string {
	t.Helper()
	if dir := os.Getenv("PLINTH_UBOOT_TOOLS"); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s (PLINTH_UBOOT_TOOLS names a U-Boot build's tools/; .ci/run builds one)", name)
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func testFIT() FIT {
	return FIT{Description: "plinth test image", Arch: "arm64", Kernel: bytes.Repeat([]byte("a Microkit loader "), 3000), Load: 0x70000000, Entry: 0x70000000, Time: 1700000000}
}

// U-Boot's own image lister reads plinth's FIT: its image, addresses and
// hash.
func TestMkimageListsTheFIT(t *testing.T) {
	mkimage := ubootTool(t, "mkimage")
	blob, err := testFIT().Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "image.fit")
	os.WriteFile(file, blob, 0o644)
	out, err := exec.Command(mkimage, "-l", file).CombinedOutput()
	if err != nil {
		t.Fatalf("mkimage -l: %v\n%s", err, out)
	}
	for _, want := range []string{"FIT description: plinth test image", "Image 0 (kernel-1)", "Type:         Kernel Image", "Architecture: AArch64", "Load Address: 0x70000000", "Hash algo:    sha256", "Default Configuration: 'conf-1'"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mkimage -l lacks %q:\n%s", want, out)
		}
	}
}

// fit_check_sign, built from U-Boot's source, accepts a FIT whose
// configuration plinth signed with the key in the control device tree,
// and refuses one with a byte of its image flipped, one whose hash was
// rewritten to match, and one signed by another key.
func TestFitCheckSignVerifiesPlinthsSignature(t *testing.T) {
	check := ubootTool(t, "fit_check_sign")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	dir := t.TempDir()
	run := func(fit []byte, pub any) (string, error) {
		f, k := filepath.Join(dir, "image.fit"), filepath.Join(dir, "control.dtb")
		ctl, err := SignatureDTB(pub, "plinth")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(f, fit, 0o644)
		os.WriteFile(k, ctl, 0o644)
		out, err := exec.Command(check, "-f", f, "-k", k).CombinedOutput()
		return string(out), err
	}
	fit, err := testFIT().Build(&Key{Name: "plinth", Signer: rsaKey})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(fit, &rsaKey.PublicKey); err != nil || !strings.Contains(out, "sha256,rsa2048:plinth+") {
		t.Fatalf("a FIT plinth signed is refused: %v\n%s", err, out)
	}
	again, _ := testFIT().Build(&Key{Name: "plinth", Signer: rsaKey})
	if !bytes.Equal(fit, again) {
		t.Error("the same FIT signed twice with the same key differs")
	}
	flipped := bytes.Clone(fit)
	i := bytes.Index(flipped, []byte("a Microkit loader"))
	flipped[i+5] ^= 1
	if out, err := run(flipped, &rsaKey.PublicKey); err == nil {
		t.Errorf("a FIT with a flipped byte is accepted:\n%s", out)
	}
	if out, err := run(fit, &other.PublicKey); err == nil {
		t.Errorf("a FIT signed by another key is accepted:\n%s", out)
	}
	// A different image with its hash made to match is still refused: the
	// hash is under the configuration's signature.
	f2 := testFIT()
	f2.Kernel = append(f2.Kernel, "more"...)
	unsigned, _ := f2.Build(nil)
	if out, err := run(unsigned, &rsaKey.PublicKey); err == nil {
		t.Errorf("an unsigned FIT is accepted with a required key:\n%s", out)
	}
}

// A key U-Boot cannot verify with is refused, saying which can.
func TestAnECDSAKeyIsRefusedForFITs(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := testFIT().Build(&Key{Name: "plinth", Signer: key}); err == nil || !strings.Contains(err.Error(), "sign boot images with an RSA key") {
		t.Errorf("%v", err)
	}
}

// A boot script and an environment are byte for byte what U-Boot's own
// mkimage and mkenvimage write.
func TestBootScriptAndEnvAreWhatUBootsToolsWrite(t *testing.T) {
	mkimage, mkenv := ubootTool(t, "mkimage"), ubootTool(t, "mkenvimage")
	dir := t.TempDir()
	script := "echo plinth\nload virtio 0:1 ${loadaddr} image.fit\nbootm ${loadaddr}#conf-1\n"
	os.WriteFile(filepath.Join(dir, "boot.cmd"), []byte(script), 0o644)
	cmd := exec.Command(mkimage, "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-n", "plinth boot", "-d", filepath.Join(dir, "boot.cmd"), filepath.Join(dir, "boot.scr"))
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "boot.scr"))
	got, err := BootScript("arm64", "plinth boot", script, 1700000000)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("boot.scr differs from mkimage's (%v):\n got %x\nwant %x", err, got[:80], want[:min(80, len(want))])
	}
	vars := map[string]string{"bootcount": "0", "bootlimit": "3", "altbootcmd": "run boot_b", "bootcmd": "run boot_a"}
	var text strings.Builder
	for _, k := range []string{"altbootcmd", "bootcmd", "bootcount", "bootlimit"} {
		text.WriteString(k + "=" + vars[k] + "\n")
	}
	os.WriteFile(filepath.Join(dir, "env.txt"), []byte(text.String()), 0o644)
	for _, redundant := range []bool{false, true} {
		args := []string{"-s", "8192", "-o", filepath.Join(dir, "env.bin"), filepath.Join(dir, "env.txt")}
		if redundant {
			args = append([]string{"-r"}, args...)
		}
		if out, err := exec.Command(mkenv, args...).CombinedOutput(); err != nil {
			t.Fatalf("mkenvimage: %v\n%s", err, out)
		}
		want, _ := os.ReadFile(filepath.Join(dir, "env.bin"))
		got, err := Env(vars, 8192, redundant)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("redundant=%v: the environment differs from mkenvimage's (%v):\n got %x\nwant %x", redundant, err, got[:64], want[:64])
		}
	}
	if _, err := Env(map[string]string{"big": strings.Repeat("x", 9000)}, 8192, false); err == nil {
		t.Error("an environment larger than its area is accepted")
	}
}
