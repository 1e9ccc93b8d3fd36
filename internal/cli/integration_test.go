package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"
)

// The real chain: Microkit 2.0.1's hello from pinned upstream sources
// (seL4, Microkit, pyfdt, the tool's crates), built offline through the
// mirror map PLINTH_MIRRORS names, booted in QEMU. CI has no upstream
// sources, so this runs in development (see reference/real-microkit.md).
func TestHelloFromSourceBoots(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no mirrors of the upstream repositories to build hello from")
	}
	src, err := os.ReadFile("../../recipes/microkit-hello/recipe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	build := func(cache, out string) (log string, img []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), src, 0o644)
		stdout, stderr, code := plinth(t, "run", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrors, "--offline", "--cache-dir", cache, "-o", out)
		if code != 0 || !strings.Contains(stdout, "hello, world") {
			t.Fatalf("plinth run: exit %d\n%s\n%s", code, stdout, stderr)
		}
		img, err := os.ReadFile(filepath.Join(out, "microkit-hello", "qemu_virt_aarch64", "debug", "image", "loader.img"))
		if err != nil {
			t.Fatal(err)
		}
		return stderr, img
	}
	cacheA, cacheB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	_, first := build(cacheA, filepath.Join(t.TempDir(), "out1"))
	again, _ := build(cacheA, filepath.Join(t.TempDir(), "out2"))
	if strings.Contains(again, "run   ") {
		t.Errorf("the second build was not all cache hits:\n%s", again)
	}
	_, other := build(cacheB, filepath.Join(t.TempDir(), "out3"))
	if len(first) < 1<<20 || string(first) != string(other) {
		t.Error("loader.img differs between two builds in different directories and caches")
	}
	// One kernel option changed in the board file (an out-of-tree override
	// of qemu_virt_aarch64): that board's runtime is rebuilt with it, the
	// tool is not, and the system still boots.
	board, err := os.ReadFile("../../boards/qemu_virt_aarch64.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(board), "    KernelArmExportPTMRUser: true\n", "    KernelArmExportPTMRUser: true\n    KernelFastpath: false\n", 1)
	if changed == string(board) {
		t.Fatal("qemu_virt_aarch64.yaml no longer sets KernelArmExportPTMRUser; update this test")
	}
	boardsDir := t.TempDir()
	os.WriteFile(filepath.Join(boardsDir, "qemu_virt_aarch64.yaml"), []byte(changed), 0o644)
	outC := filepath.Join(t.TempDir(), "out4")
	stdout, stderr, code := plinth(t, "run", "microkit-hello", "--board", "qemu_virt_aarch64", "--boards-dir", boardsDir, "--mirror", mirrors, "--offline", "--cache-dir", cacheA, "-o", outC)
	if code != 0 || !strings.Contains(stdout, "hello, world") {
		t.Fatalf("with KernelFastpath off: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "run   sdk") || !strings.Contains(stderr, "cached tool") {
		t.Errorf("changing a kernel option did not rebuild exactly the runtime (and what uses it):\n%s", stderr)
	}
	sdkDir := t.TempDir()
	if err := builder.Extract(filepath.Join(outC, "microkit-hello", "qemu_virt_aarch64", "debug", "sdk", "sdk.tar"), sdkDir, 0); err != nil {
		t.Fatal(err)
	}
	genConfig, _ := os.ReadFile(filepath.Join(sdkDir, "board", "qemu_virt_aarch64", "debug", "include", "kernel", "gen_config.json"))
	if !strings.Contains(string(genConfig), `"FASTPATH": false`) {
		t.Errorf("the rebuilt kernel's gen_config.json does not have the fastpath off:\n%.400s", genConfig)
	}

	// Every shipped recipe builds for every board it lists, and boots with
	// what it expects where QEMU emulates the board (sharing the tool step,
	// and each board's runtime, through the cache).
	listing, _, _ := plinth(t, "recipes", "--json")
	var shipped []struct {
		Name   string   `json:"name"`
		Boards []string `json:"boards"`
	}
	if err := json.Unmarshal([]byte(listing), &shipped); err != nil || len(shipped) < 4 {
		t.Fatalf("plinth recipes --json: %v\n%s", err, listing)
	}
	for _, r := range shipped {
		for _, board := range r.Boards {
			name := r.Name
			stdout, stderr, code := plinth(t, "run", name, "--board", board, "--mirror", mirrors, "--offline", "--cache-dir", cacheA, "-o", t.TempDir())
			if code != 0 || !strings.Contains(stderr, "expected texts seen") && !strings.Contains(stdout, "has no emulator: built only") {
				t.Errorf("%s on %s: exit %d\n%s\n%s", name, board, code, stdout, stderr)
			}
		}
	}
}
