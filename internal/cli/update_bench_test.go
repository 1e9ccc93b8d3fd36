package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/update"
)

// deltaFigures measures a delta between two builds: what plinth ships
// against the image, the whole slot compressed, and the zstd CLI's
// --patch-from on the whole slot and on the whole image, in one run.
func deltaFigures(b *testing.B, oldDir, newDir string) {
	b.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		b.Skip("no zstd CLI (apt-get install zstd)")
	}
	old, err := update.LoadBuild(oldDir)
	if err != nil {
		b.Fatal(err)
	}
	nw, err := update.LoadBuild(newDir)
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	files := map[string][]byte{"old.slot": old.Slot, "new.slot": nw.Slot, "old.img": old.Structure.Image, "new.img": nw.Structure.Image}
	for name, data := range files {
		os.WriteFile(filepath.Join(work, name), data, 0o644)
	}
	cli := func(level, from, to string) int {
		out := filepath.Join(work, to+level+".zst")
		cmd := exec.Command("zstd", "-q", "-f", level, "--patch-from="+filepath.Join(work, from), filepath.Join(work, to), "-o", out)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("zstd: %v %s", err, o)
		}
		info, _ := os.Stat(out)
		return int(info.Size())
	}
	var made *update.Made
	var plinthS, cliS float64
	var cliSlot, cliSlot19, cliImage int
	opts := update.Options{Version: 2, BaseVersion: 1, Issued: time.Unix(0, 0), Expires: time.Unix(1, 0)}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if made, err = update.Create(nw, old, opts); err != nil {
			b.Fatal(err)
		}
		plinthS += time.Since(start).Seconds()
		start = time.Now()
		cliSlot = cli("-3", "old.slot", "new.slot")
		cliS += time.Since(start).Seconds()
		cliSlot19 = cli("-19", "old.slot", "new.slot")
		cliImage = cli("-3", "old.img", "new.img")
	}
	if made.Manifest.Delta == nil {
		b.Fatalf("plinth shipped the whole slot (%d bytes), not a delta", made.Manifest.Payloads[0].Size)
	}
	delta := float64(made.Manifest.Payloads[0].Size)
	var changed []string
	for _, p := range made.Manifest.Delta.Pieces {
		if p.Op == update.OpPatch {
			changed = append(changed, p.Name)
		}
	}
	b.Logf("image %d B, slot %d B; delta %d B (patched: %s); whole slot compressed %d B; zstd --patch-from: slot %d B (-19: %d B), image %d B",
		len(nw.Structure.Image), len(nw.Slot), int(delta), strings.Join(changed, ", "), made.FullSize, cliSlot, cliSlot19, cliImage)
	n := float64(b.N)
	b.ReportMetric(delta, "delta-B")
	b.ReportMetric(100*delta/float64(len(nw.Structure.Image)), "delta-%-of-image")
	b.ReportMetric(delta/float64(made.FullSize), "delta/full")
	b.ReportMetric(delta/float64(cliSlot), "delta/zstd-cli-slot")
	b.ReportMetric(delta/float64(cliImage), "delta/zstd-cli-image")
	b.ReportMetric(plinthS/n, "plinth-delta-s")
	b.ReportMetric(cliS/n, "zstd-cli-s")
}

// The stand-in releases (the fake SDK's image with its protection
// domain's ELF in it): one line of the one PD changed.
func BenchmarkDeltaStandIn(b *testing.B) {
	sdk := updateSDK(b)
	keys := b.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	if _, stderr, code := plinthWith(b, pw, "keygen", "--type", "rsa-3072", "-o", filepath.Join(keys, "k")); code != 0 {
		b.Fatal(stderr)
	}
	cache := b.TempDir()
	v1 := updateReleaseCode(b, sdk, filepath.Join(keys, "k.key"), cache, 1, `void init(void) { microkit_dbg_puts("plinth payload v1\n"); }`+"\n", pw)
	v2 := updateReleaseCode(b, sdk, filepath.Join(keys, "k.key"), cache, 2, `void init(void) { microkit_dbg_puts("plinth payload v2, with a fix\n"); }`+"\n", pw)
	deltaFigures(b, v1, v2)
}

// upstreamRelease builds a shipped recipe (from the mirrors) with U-Boot's
// artifacts, its component named pd given release.c, a recipe-dir C file
// holding the release's line: release 1, then 2 with a longer line (what
// follows it in the PD moves).
func upstreamRelease(b *testing.B, recipeName, pd, cache string, release int) string {
	b.Helper()
	mirrorFile := os.Getenv("PLINTH_MIRRORS")
	if mirrorFile == "" {
		b.Skip("PLINTH_MIRRORS not set: no upstream sources to build from")
	}
	dir := b.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../recipes/"+recipeName)); err != nil {
		b.Fatal(err)
	}
	text := mustRead(b, filepath.Join(dir, "recipe.yaml"))
	marker := []byte("  - name: " + pd + "\n")
	i := bytes.Index(text, marker)
	if i < 0 {
		b.Fatalf("%s has no component %s", recipeName, pd)
	}
	at := i + len(marker)
	// recipe_srcs, or one more entry in it.
	rest := text[at:]
	end := bytes.Index(rest, []byte("\n  - name: "))
	if end < 0 {
		end = len(rest)
	}
	if j := bytes.Index(rest[:end], []byte("recipe_srcs: [")); j >= 0 {
		k := at + j + len("recipe_srcs: [")
		text = append(text[:k:k], append([]byte("release.c, "), text[k:]...)...)
	} else {
		text = append(text[:at:at], append([]byte("    recipe_srcs: [release.c]\n"), text[at:]...)...)
	}
	text = append(text, []byte("update: {version: "+map[int]string{1: "1", 2: "2"}[release]+"}\n")...)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), text, 0o644)
	line := map[int]string{1: "release 1", 2: "release 2, with the fix for the echo path"}[release]
	os.WriteFile(filepath.Join(dir, "release.c"), []byte("const char plinth_release[] = \""+line+"\";\n"), 0o644)
	out := b.TempDir()
	if _, stderr, code := plinthWith(b, map[string]string{"PLINTH_PASSWORD": "pw"}, "build", dir, "--board", "qemu_virt_aarch64", "--boot", "uboot", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out); code != 0 {
		b.Fatalf("build %s release %d: %s", recipeName, release, stderr)
	}
	return filepath.Join(out, recipeName, "qemu_virt_aarch64", "debug")
}

// Microkit's hello and sDDF's echo server, built from source, with one
// protection domain changed.
func BenchmarkDeltaHello(b *testing.B) {
	cache := b.TempDir()
	deltaFigures(b, upstreamRelease(b, "microkit-hello", "hello", cache, 1), upstreamRelease(b, "microkit-hello", "hello", cache, 2))
}

func BenchmarkDeltaEchoServer(b *testing.B) {
	cache := b.TempDir()
	deltaFigures(b, upstreamRelease(b, "sddf-echo-server", "client0", cache, 1), upstreamRelease(b, "sddf-echo-server", "client0", cache, 2))
}

// Installing a bundle against dd writing the same slot's bytes to the same
// disk file (with its data synced, as the installer syncs): the
// installer's checks, decompression and read-back cost against the bare
// write.
func BenchmarkApplyAgainstDD(b *testing.B) {
	sdk := updateSDK(b)
	keys := b.TempDir()
	pw := map[string]string{"PLINTH_PASSWORD": "pw"}
	if _, stderr, code := plinthWith(b, pw, "keygen", "--type", "ecdsa-p256", "-o", filepath.Join(keys, "k")); code != 0 {
		b.Fatal(stderr)
	}
	if _, stderr, code := plinthWith(b, pw, "keygen", "--type", "rsa-3072", "-o", filepath.Join(keys, "fit")); code != 0 {
		b.Fatal(stderr)
	}
	cache := b.TempDir()
	v1 := updateReleaseCode(b, sdk, filepath.Join(keys, "fit.key"), cache, 1, `void init(void) { microkit_dbg_puts("v1\n"); }`+"\n", pw)
	v2 := updateReleaseCode(b, sdk, filepath.Join(keys, "fit.key"), cache, 2, `void init(void) { microkit_dbg_puts("v2\n"); }`+"\n", pw)
	bundle := filepath.Join(b.TempDir(), "v2.plb")
	if _, stderr, code := plinthWith(b, pw, "bundle", "create", v2, "--key", filepath.Join(keys, "k.key"), "-o", bundle); code != 0 {
		b.Fatal(stderr)
	}
	pristine := mustRead(b, filepath.Join(v1, "boot-uboot", "disk.img"))
	build, err := update.LoadBuild(v2)
	if err != nil {
		b.Fatal(err)
	}
	slotFile := filepath.Join(b.TempDir(), "slot.bin")
	os.WriteFile(slotFile, build.Slot, 0o644)
	disk := filepath.Join(b.TempDir(), "disk.img")
	tg, err := update.OpenTarget(filepath.Join(v1, "boot-uboot", "disk.img"), false)
	if err != nil {
		b.Fatal(err)
	}
	slotB := tg.SlotOffset(update.SlotB)
	tg.Close()
	var plinthS, ddS float64
	for range b.N {
		os.WriteFile(disk, pristine, 0o644)
		start := time.Now()
		if _, stderr, code := plinth(b, "update", "apply", bundle, "--target", disk, "--key", filepath.Join(keys, "k.pub")); code != 0 {
			b.Fatal(stderr)
		}
		plinthS += time.Since(start).Seconds()
		os.WriteFile(disk, pristine, 0o644)
		start = time.Now()
		dd := exec.Command("dd", "if="+slotFile, "of="+disk, "bs=1M", "oflag=seek_bytes", "seek="+strconv.FormatInt(slotB, 10), "conv=notrunc,fsync", "status=none")
		if out, err := dd.CombinedOutput(); err != nil {
			b.Fatalf("dd: %v %s", err, out)
		}
		ddS += time.Since(start).Seconds()
	}
	mb := float64(len(build.Slot)) / 1e6 * float64(b.N)
	b.ReportMetric(mb/plinthS, "plinth-MB/s")
	b.ReportMetric(mb/ddS, "dd-MB/s")
	b.ReportMetric(plinthS/ddS, "plinth/dd-time")
}
