package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testDisk() Disk {
	return Disk{
		BootFiles: map[string][]byte{"boot.scr": []byte("a boot script"), "firmware.bin": bytes.Repeat([]byte{7}, 100000)},
		SlotFiles: map[string][]byte{"image.fit": bytes.Repeat([]byte("a FIT "), 200000)},
		BootMiB:   16, SlotMiB: 16, StateMiB: 1, Time: 1700000000,
	}
}

// The disk has the layout U-Boot and Linux read (sfdisk agrees), its files
// read back, and it is the same bytes every time.
func TestADiskImageIsItsLayoutAndTheSameBytes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	if err := testDisk().Write(a); err != nil {
		t.Fatal(err)
	}
	if err := testDisk().Write(b); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("the same disk written twice differs")
	}
	if len(da) != (1+16+16+16+1)*MiB {
		t.Errorf("%d bytes", len(da))
	}
	got, err := ReadFile(a, SlotAPartition, "image.fit")
	if err != nil || !bytes.Equal(got, testDisk().SlotFiles["image.fit"]) {
		t.Errorf("slot A's image.fit does not read back: %v", err)
	}
	if got, err := ReadFile(a, BootPartition, "boot.scr"); err != nil || string(got) != "a boot script" {
		t.Errorf("boot.scr: %q %v", got, err)
	}
	if sfdisk, err := exec.LookPath("sfdisk"); err == nil {
		out, err := exec.Command(sfdisk, "-d", a).CombinedOutput()
		if err != nil {
			t.Fatalf("sfdisk: %v\n%s", err, out)
		}
		for _, want := range []string{"start=        2048, size=       32768, type=e, bootable", "start=       34816, size=       32768, type=e", "start=       67584, size=       32768, type=e", "start=      100352, size=        2048, type=83"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("sfdisk -d lacks %q:\n%s", want, out)
			}
		}
	}
	if fsck, err := exec.LookPath("fsck.fat"); err == nil {
		for i := range 3 {
			part := filepath.Join(dir, "part.fat")
			os.WriteFile(part, da[(1+16*i)*MiB:(17+16*i)*MiB], 0o644)
			if out, err := exec.Command(fsck, "-n", part).CombinedOutput(); err != nil {
				t.Errorf("fsck.fat of partition %d: %v\n%s", i+1, err, out)
			}
		}
	}
}

// Files that do not fit are refused before anything is written.
func TestADiskTooSmallIsRefused(t *testing.T) {
	d := testDisk()
	d.SlotFiles["image.fit"] = make([]byte, 20*MiB)
	path := filepath.Join(t.TempDir(), "d.img")
	if err := d.Write(path); err == nil || !strings.Contains(err.Error(), "slot's files need about") {
		t.Errorf("%v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a disk was written")
	}
}
