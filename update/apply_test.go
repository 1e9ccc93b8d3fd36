package update

import (
	"bytes"
	"crypto"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/sign"
)

// testBuild is a build as LoadBuild would read it: image bytes in a slot
// of a disk made the way the pipeline makes it.
func testBuild(t *testing.T, img []byte) *Build {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.img")
	d := image.Disk{BootFiles: map[string][]byte{"boot.scr": []byte("script")}, SlotFiles: map[string][]byte{"image.fit": img}, BootMiB: 8, SlotMiB: 8, StateMiB: 1, Time: 1700000000}
	if err := d.Write(disk); err != nil {
		t.Fatal(err)
	}
	tg, err := OpenTarget(disk, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := Provision(tg, "qemu_virt_aarch64", "2.0.1", 1); err != nil {
		t.Fatal(err)
	}
	slot, _ := tg.ReadSlot(SlotA, tg.SlotSize(SlotA))
	return &Build{Dir: disk, Manifest: &attest.Manifest{Board: "qemu_virt_aarch64", Microkit: "2.0.1", Image: &attest.ManifestFile{SHA256: sum(img), Size: int64(len(img))}},
		Slot: slot, Structure: Structure{Image: img}}
}

func bundleBytes(t *testing.T, nw, base *Build, key crypto.Signer, o Options) []byte {
	t.Helper()
	made, err := Create(nw, base, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.SignBlob(key, made.RawManifest)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := made.Write(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randomImage(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A device without a clock goes by the latest issue time it has taken:
// once it took a bundle issued in 2027, one that expired in 2026 is
// refused though the host's clock is not consulted at all; and a delta
// against a base that shares nothing is shipped whole.
func TestANoClockDeviceJudgesExpiryByWhatItTookAndADeltaNoSmallerShipsWhole(t *testing.T) {
	key, err := sign.GenerateKey("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	v1 := testBuild(t, randomImage(1, 300_000))
	v2 := testBuild(t, append(bytes.Clone(v1.Structure.Image[:200_000]), randomImage(2, 100_000)...))
	v3 := testBuild(t, randomImage(3, 300_000))
	disk := v1.Dir
	apply := func(b []byte) (*Result, error) {
		tg, err := OpenTarget(disk, true)
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		return Apply(bytes.NewReader(b), tg, ApplyOptions{Key: key.Public()})
	}
	in2027 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := apply(bundleBytes(t, v2, v1, key, Options{Version: 2, BaseVersion: 1, Issued: in2027, Expires: in2027.Add(time.Hour)}))
	if err != nil || res.Kind != KindDelta || res.PayloadSize > 120_000 {
		t.Fatalf("v2: %+v %v", res, err)
	}
	tg, _ := OpenTarget(disk, true)
	if _, err := Confirm(tg, false); err == nil || !strings.Contains(err.Error(), "has not been booted yet") {
		t.Errorf("confirming a slot never booted: %v", err)
	}
	if st, err := Confirm(tg, true); err != nil || st.Active != SlotB || st.Clock != in2027.Unix() {
		t.Fatalf("confirm: %+v %v", st, err)
	}
	tg.Close()
	in2026 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	stale := bundleBytes(t, v3, v1, key, Options{Version: 3, BaseVersion: 1, Issued: in2026, Expires: in2026.Add(24 * time.Hour)})
	var ce *CheckError
	if _, err := apply(stale); !errors.As(err, &ce) || ce.Check != "expiry" || !strings.Contains(err.Error(), "latest issue time") {
		t.Errorf("a bundle expired by the device's clock: %v", err)
	}
	// v3 shares nothing with v2: its "delta" would not be smaller.
	fresh := bundleBytes(t, v3, v2, key, Options{Version: 3, BaseVersion: 2, Issued: in2027, Expires: in2027.Add(time.Hour)})
	if res, err := apply(fresh); err != nil || res.Kind != KindFull {
		t.Errorf("v3: %+v %v", res, err)
	}
}
