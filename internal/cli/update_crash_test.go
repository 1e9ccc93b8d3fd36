package cli

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pointsav/plinth/update"
)

// bootsIntact says which slot the disk boots next and fails the test
// unless that slot, and the active one, hold the bytes the state records.
func bootsIntact(t testing.TB, disk string) (slot string, version uint64) {
	t.Helper()
	tg, err := update.OpenTarget(disk, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	st, _, err := tg.State()
	if err != nil {
		t.Fatalf("no valid state: %v", err)
	}
	for _, s := range []string{st.Booting(), st.Active} {
		want := st.Slots[s]
		data, err := tg.ReadSlot(s, want.Size)
		if err != nil {
			t.Fatal(err)
		}
		if got := fileSumBytes(data); got != want.SHA256 {
			t.Fatalf("slot %s, which may boot, holds %.16s…; the state records %.16s…", s, got, want.SHA256)
		}
	}
	return st.Booting(), st.Slots[st.Booting()].Version
}

// kill -9 of plinth update apply at 100 random points, from before its
// first write to after its switch: the disk always boots a whole slot,
// the old one or (once the switch is written) the new one. A sample of
// the outcomes is booted by real U-Boot; and a state copy torn as by a
// power cut in the middle of its write is passed over for the other.
func TestKilledInstallsLeaveADiskThatBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plinth")
	}
	sdk := updateSDK(t)
	key, pub, pw := releaseKey(t)
	cache := t.TempDir()
	v1 := updateRelease(t, sdk, key, cache, 1, pw)
	v2 := updateRelease(t, sdk, key, cache, 2, pw)
	bundle := filepath.Join(t.TempDir(), "v2.plb")
	if _, stderr, code := plinthWith(t, pw, "bundle", "create", v2, "--from", v1, "--key", key, "-o", bundle); code != 0 {
		t.Fatal(stderr)
	}
	bin := plinthBinary(t)
	pristine := mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img"))
	disk := filepath.Join(t.TempDir(), "disk.img")
	samples := map[string][]byte{}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	outcomes := map[string]int{}
	for trial := range 100 {
		if err := os.WriteFile(disk, pristine, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "update", "apply", bundle, "--target", disk, "--key", pub, "--progress")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after k progress lines (64 slot writes, the read-back, the
		// switch); one trial in ten runs to the end.
		k := rng.IntN(67)
		if rng.IntN(10) == 0 {
			k = 1 << 30
		}
		lines := bufio.NewScanner(out)
		for seen := 0; seen < k && lines.Scan(); seen++ {
		}
		if k < 1<<30 {
			cmd.Process.Kill()
		}
		for lines.Scan() {
		}
		cmd.Wait()
		slot, version := bootsIntact(t, disk)
		outcome := "old"
		if slot == update.SlotB {
			outcome = "new"
		}
		if version != map[string]uint64{"old": 1, "new": 2}[outcome] {
			t.Fatalf("trial %d: slot %s boots version %d", trial, slot, version)
		}
		outcomes[outcome]++
		if _, ok := samples[outcome]; !ok && (outcome == "new" || k > 5) {
			samples[outcome] = mustRead(t, disk)
		}
	}
	t.Logf("after 100 kills: %d boot the old slot, %d the new one", outcomes["old"], outcomes["new"])
	// Streamed through a pipe, read once.
	os.WriteFile(disk, pristine, 0o644)
	stream := exec.Command(bin, "update", "apply", "-", "--target", disk, "--key", pub)
	stream.Stdin = bytes.NewReader(mustRead(t, bundle))
	if out, err := stream.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("installed version 2 in slot b")) {
		t.Errorf("a bundle on standard input: %v\n%s", err, out)
	}
	if outcomes["old"] == 0 {
		t.Error("no kill landed before the switch")
	}

	if os.Getenv("PLINTH_UBOOT_QEMU_ARM64") == "" {
		return
	}
	dev := newDevice(t, ubootForQEMU(t), v1)
	for outcome, data := range samples {
		os.WriteFile(dev.disk, data, 0o644)
		text := map[string]string{"old": "plinth payload v1", "new": "plinth payload v2"}[outcome]
		dev.boot(text)
	}
	// A complete install, then its switch torn: the second copy half
	// written. U-Boot takes the first copy and boots v1.
	os.WriteFile(dev.disk, pristine, 0o644)
	if _, stderr, code := plinth(t, "update", "apply", bundle, "--target", dev.disk, "--key", pub); code != 0 {
		t.Fatal(stderr)
	}
	tearSecondCopy(t, dev.disk)
	if slot, _ := bootsIntact(t, dev.disk); slot != update.SlotA {
		t.Fatalf("with the switch torn the disk boots slot %s", slot)
	}
	dev.boot("plinth: slot a: loading", "plinth payload v1")
}

// tearSecondCopy overwrites the second half of the state's second copy,
// as a power cut in the middle of writing it would leave it.
func tearSecondCopy(t *testing.T, disk string) {
	t.Helper()
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tg, err := update.OpenTarget(disk, false)
	if err != nil {
		t.Fatal(err)
	}
	off := tg.StateOffset()
	tg.Close()
	if _, err := f.WriteAt(make([]byte, update.StateCopySize/2), off+update.StateCopySize+update.StateCopySize/2); err != nil {
		t.Fatal(err)
	}
}
