package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// withManifest copies a build directory and changes its manifest, as a
// build for another board or Microkit would say.
func withManifest(t *testing.T, build string, change func(map[string]any)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "build")
	if err := os.CopyFS(dir, os.DirFS(build)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	data, _ = json.Marshal(m)
	atomicfile.Write(filepath.Join(dir, "manifest.json"), data, 0o644)
	return dir
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// Every bad bundle is refused before a byte of the disk changes, exit 1,
// the failed check named: tampered manifest or payload, truncated, wrong
// key, older version, below the floor, expired, wrong board, wrong
// Microkit version, a delta whose base is not the installed slot, and a
// slot too big for the disk's.
func TestBadBundlesAreRefusedAndTheDiskIsUnchanged(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	sdk := updateSDK(t)
	keys := t.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	for _, name := range []string{"release", "other"} {
		if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "ecdsa-p256", "-o", filepath.Join(keys, name)); code != 0 {
			t.Fatal(stderr)
		}
	}
	key, pub := filepath.Join(keys, "release.key"), filepath.Join(keys, "release.pub")
	fitKey := filepath.Join(keys, "fit")
	if _, stderr, code := plinthWith(t, pw, "keygen", "--type", "rsa-3072", "-o", fitKey); code != 0 {
		t.Fatal(stderr)
	}
	cache := t.TempDir()
	v1 := updateRelease(t, sdk, fitKey+".key", cache, 1, pw)
	v2 := updateRelease(t, sdk, fitKey+".key", cache, 2, pw)
	v3 := updateRelease(t, sdk, fitKey+".key", cache, 3, pw)
	bundles := t.TempDir()
	create := func(name, signer string, args ...string) string {
		t.Helper()
		file := filepath.Join(bundles, name)
		if _, stderr, code := plinthWith(t, pw, append(append([]string{"bundle", "create"}, args...), "--key", signer, "-o", file)...); code != 0 {
			t.Fatalf("bundle create %s: %s", name, stderr)
		}
		return file
	}
	good := create("v2.plb", key, v2)
	data, _ := os.ReadFile(good)

	// The device runs v1 (slot a); a second runs v2, confirmed, with the
	// floor v2's bundle set (4); a third runs v2 from slot b, confirmed.
	device := filepath.Join(t.TempDir(), "disk.img")
	os.WriteFile(device, mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img")), 0o644)
	floored := filepath.Join(t.TempDir(), "floored.img")
	os.WriteFile(floored, mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img")), 0o644)
	if _, stderr, code := plinth(t, "update", "apply", create("floor.plb", key, v2, "--floor", "4"), "--target", floored, "--key", pub); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := plinth(t, "update", "confirm", "--force", "--target", floored); code != 0 {
		t.Fatal(stderr)
	}

	at2 := filepath.Join(t.TempDir(), "at2.img")
	os.WriteFile(at2, mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img")), 0o644)
	if _, stderr, code := plinth(t, "update", "apply", good, "--target", at2, "--key", pub); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := plinth(t, "update", "confirm", "--force", "--target", at2); code != 0 {
		t.Fatal(stderr)
	}

	tamperedManifest := bytes.Replace(data, []byte(`"version":2`), []byte(`"version":9`), 1)
	payloadAt := bytes.LastIndex(data, []byte("slot.zst")) + 512
	tamperedPayload := bytes.Clone(data)
	tamperedPayload[payloadAt+40] ^= 1
	write := func(name string, b []byte) string {
		p := filepath.Join(bundles, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	// v2 rebuilt with another line, still called version 2: a delta from
	// it needs bytes the device does not hold.
	v2other := updateReleaseText(t, sdk, fitKey+".key", cache, 2, "plinth payload v2 (rebuilt)", pw)
	bigDir := updateBig(t, sdk, fitKey+".key", cache, pw)

	cases := []struct {
		name, bundle, target, check, says string
	}{
		{"tampered manifest", write("tm.plb", tamperedManifest), device, "bundle", "signature does not verify"},
		{"tampered payload", write("tp.plb", tamperedPayload), device, "payload", "not the bytes the manifest names"},
		{"truncated", write("tr.plb", data[:payloadAt+100]), device, "payload", "truncated"},
		{"truncated in the manifest", write("tr2.plb", data[:300]), device, "bundle", "truncated"},
		{"wrong key", create("wk.plb", filepath.Join(keys, "other.key"), v2), device, "bundle", "signature does not verify"},
		{"older version", create("old.plb", key, v1, "--version", "1"), floored, "version", "not above the installed 2"},
		{"below the floor", create("bf.plb", key, v3), floored, "floor", "below the device's floor 4"},
		{"expired", create("ex.plb", key, v2, "--issued", "2020-01-01T00:00:00Z", "--valid", "24h"), device, "expiry", "expired at 2020-01-02T00:00:00Z"},
		{"wrong board", create("wb.plb", key, withManifest(t, v2, func(m map[string]any) { m["board"] = "rpi4b_4gb" })), device, "compatibility", "wrong board"},
		{"wrong Microkit", create("wm.plb", key, withManifest(t, v2, func(m map[string]any) { m["microkit"] = "2.1.0" })), device, "compatibility", "wrong Microkit version"},
		{"delta base not installed", create("db.plb", key, v3, "--from", v2other), at2, "delta base", "the installed slot b holds"},
		{"does not fit", create("big.plb", key, bigDir), device, "size", "slot b holds 16777216"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := fileSum(t, c.target)
			stdout, stderr, code := plinth(t, "update", "apply", c.bundle, "--target", c.target, "--key", pub)
			if code != 1 || !strings.Contains(stderr, "refused, nothing written: "+c.check+" check failed") || !strings.Contains(stderr, c.says) {
				t.Errorf("exit %d, want 1 naming the %s check and %q:\n%s%s", code, c.check, c.says, stdout, stderr)
			}
			if fileSum(t, c.target) != before {
				t.Errorf("the disk changed")
			}
			t.Log(strings.TrimSpace(stderr))
		})
	}
	// The good bundle still installs on the untouched disk.
	if stdout, stderr, code := plinth(t, "update", "apply", good, "--target", device, "--key", pub); code != 0 {
		t.Fatalf("the good bundle: %s%s", stdout, stderr)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func fileSumBytes(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
