package measure

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// legacyImage wraps data in a U-Boot legacy image header (image.h) for
// ARM64, of an OS U-Boot cannot start (Solaris): bootm finds it, verifies
// it, measures it, loads it, and then returns to the prompt.
func legacyImage(data []byte, load uint32) []byte {
	h := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(h[0:], 0x27051956)
	be.PutUint32(h[12:], uint32(len(data)))
	be.PutUint32(h[16:], load)
	be.PutUint32(h[20:], load)
	be.PutUint32(h[24:], crc32.ChecksumIEEE(data))
	h[28], h[29], h[30], h[31] = 8, 22, 2, 0 // IH_OS_SOLARIS, IH_ARCH_ARM64, IH_TYPE_KERNEL, IH_COMP_NONE
	copy(h[32:], "plinth measure test")
	be.PutUint32(h[4:], crc32.ChecksumIEEE(h))
	return append(h, data...)
}

// console drives U-Boot on QEMU's serial console.
type console struct {
	t   *testing.T
	in  io.Writer
	out *bytes.Buffer
	mu  chan struct{}
}

func (c *console) waitFor(re *regexp.Regexp, from int, timeout time.Duration, poke bool) []string {
	c.t.Helper()
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		<-c.mu
		text := c.out.String()
		c.mu <- struct{}{}
		if m := re.FindStringSubmatch(text[from:]); m != nil {
			return m
		}
		if poke {
			io.WriteString(c.in, "\n")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("U-Boot did not print %v; its console:\n%s", re, c.out.String())
	return nil
}

// run types a command and returns what it printed.
func (c *console) run(cmd string) string {
	c.t.Helper()
	<-c.mu
	from := c.out.Len()
	c.mu <- struct{}{}
	io.WriteString(c.in, cmd+"; echo @@done@@\n")
	c.waitFor(regexp.MustCompile(`\n@@done@@`), from, 60*time.Second, false)
	<-c.mu
	defer func() { c.mu <- struct{}{} }()
	return c.out.String()[from:]
}

type lockedWriter struct{ c *console }

func (w lockedWriter) Write(p []byte) (int, error) {
	<-w.c.mu
	defer func() { w.c.mu <- struct{}{} }()
	return w.c.out.Write(p)
}

// The prediction against the real boot loader: U-Boot built with
// CONFIG_MEASURED_BOOT (PLINTH_UBOOT_MEASURED names its u-boot.bin for
// QEMU's arm64 virt machine) boots in QEMU with a software TPM, bootm
// measures an image, and the TPM's PCRs 0, 1, 8 and 9 in the sha1, sha256
// and sha384 banks are what plinth predicted from the image and U-Boot's
// version string alone.
func TestPredictionEqualsUBootsMeasuredBoot(t *testing.T) {
	uboot := os.Getenv("PLINTH_UBOOT_MEASURED")
	if uboot == "" {
		t.Skip("PLINTH_UBOOT_MEASURED not set: no U-Boot built with CONFIG_MEASURED_BOOT")
	}
	for _, tool := range []string{"qemu-system-aarch64", "swtpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("a Microkit image, measured by U-Boot "), 5000)
	img := filepath.Join(dir, "image.uimg")
	os.WriteFile(img, legacyImage(payload, 0x60000000), 0o644)
	sock := filepath.Join(dir, "swtpm.sock")
	tpm := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+dir, "--ctrl", "type=unixio,path="+sock, "--flags", "startup-clear")
	if err := tpm.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tpm.Process.Kill(); tpm.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	q := exec.Command("qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57", "-m", "1G", "-nographic", "-bios", uboot,
		"-chardev", "socket,id=chrtpm,path="+sock, "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis-device,tpmdev=tpm0",
		"-device", "loader,file="+img+",addr=0x50000000,force-raw=on")
	c := &console{t: t, out: &bytes.Buffer{}, mu: make(chan struct{}, 1)}
	c.mu <- struct{}{}
	stdin, _ := q.StdinPipe()
	c.in = stdin
	q.Stdout, q.Stderr = lockedWriter{c}, lockedWriter{c}
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { q.Process.Kill(); q.Wait() }()

	banner := c.waitFor(regexp.MustCompile(`(U-Boot \d{4}\.\d{2}[^\r\n]*\))`), 0, 60*time.Second, false)[1]
	c.waitFor(regexp.MustCompile(`=> `), 0, 60*time.Second, true) // stop autoboot
	time.Sleep(time.Second)
	c.run("echo sync")
	// QEMU's device tree gives the TPM no event-log memory, without which
	// U-Boot's measured boot stops at its first event; give it some.
	node := "/platform-bus@c000000/tpm_tis@0"
	c.run("fdt addr ${fdtcontroladdr}; fdt resize 4096; mw.b 0x47000000 0 0x10000")
	c.run(fmt.Sprintf("fdt set %s linux,sml-base <0x0 0x47000000>; fdt set %s linux,sml-size <0x10000>", node, node))
	if out := c.run("bootm 0x50000000"); !strings.Contains(out, "is not supported") || strings.Contains(out, "tcg2") {
		t.Fatalf("bootm:\n%s", out)
	}
	want := Predict(UBootBootm{Version: banner, Image: payload, MeasureDTB: true}.Events())
	hexByte := regexp.MustCompile(`^[0-9a-f]{8}: ((?:[0-9a-f]{2} ?)+)`)
	for _, bank := range Banks {
		for _, pcr := range []int{0, 1, 8, 9} {
			c.run(fmt.Sprintf("tpm2 pcr_read %d 0x48000000 %s", pcr, bank))
			var got strings.Builder
			for _, line := range strings.Split(c.run("md.b 0x48000000 0x30"), "\n") {
				if m := hexByte.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
					got.WriteString(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", ""))
				}
			}
			w := fmt.Sprintf("%x", want.PCRs[bank][pcr])
			if g := got.String(); len(g) < len(w) || g[:len(w)] != w {
				t.Errorf("%s PCR %d: U-Boot's TPM holds %.*s, plinth predicted %s", bank, pcr, len(w), g, w)
			}
		}
	}
}
