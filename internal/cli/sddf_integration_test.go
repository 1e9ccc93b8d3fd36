package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sDDF's timer example on QEMU, its system composed by plinth from the
// shipped recipe naming the client: the driver built from the pinned sDDF
// tree, the configs written into the ELFs, the timeouts arriving; run from
// another directory, so the recipe's own files come from the binary.
func TestSDDFComposedAndBooted(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no mirrors of the upstream repositories to build from")
	}
	if wd, err := os.Getwd(); err == nil {
		os.Chdir(t.TempDir())
		defer os.Chdir(wd)
	}
	mirrors, _ = filepath.Abs(mirrors)
	cache := filepath.Join(t.TempDir(), "cache")
	for _, tc := range []struct {
		recipe, seen string
		composed     []string
	}{
		{"sddf-timer", "all 4 expected texts seen", []string{`<protection_domain name="timer_driver" priority="254" passive="true"`}},
		{"sddf-serial", "all 12 expected texts seen", []string{
			`<protection_domain name="serial_driver" priority="200"`,
			`<protection_domain name="serial_virt_rx" priority="199" stack_size="0x2000"`,
			`<memory_region name="pl011@9000000/serial/data/serial_virt_tx/client1" size="0x10000" />`,
		}},
		{"sddf-blk", "all 6 expected texts seen", []string{
			`<memory_region name="virtio_mmio@a000200/drivers/blk/virtio_headers" size="0x10000" phys_addr="0x5fff0000" />`,
			`<memory_region name="blk_client_client_data" size="0x200000" phys_addr="0x5fbef000" />`,
		}},
	} {
		t.Run(tc.recipe, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, code := plinth(t, "run", tc.recipe, "--board", "qemu_virt_aarch64", "--mirror", mirrors, "--offline", "--cache-dir", cache, "-o", out)
			if code != 0 || !strings.Contains(stderr, tc.seen) {
				t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
			}
			composed, _ := os.ReadFile(filepath.Join(out, tc.recipe, "qemu_virt_aarch64", "debug", "image", "system.system"))
			for _, want := range tc.composed {
				if !strings.Contains(string(composed), want) {
					t.Errorf("composed system lacks %s:\n%s", want, composed)
				}
			}
			if tc.recipe == "sddf-blk" {
				// The client wrote its text to the first blocks of its
				// partition (at 1 MiB) on the copy the run attached; the
				// built disk is as built.
				dir := filepath.Join(out, tc.recipe, "qemu_virt_aarch64", "debug")
				ran, _ := os.ReadFile(filepath.Join(dir, "run", "disk.img"))
				built, _ := os.ReadFile(filepath.Join(dir, "disk", "disk.img"))
				if len(ran) != 16<<20 || !strings.Contains(string(ran[1<<20:1<<20+8192]), "Lorem ipsum") {
					t.Errorf("the client's text is not on the disk it ran with (%d bytes)", len(ran))
				}
				if len(built) != 16<<20 || strings.Contains(string(built), "Lorem") {
					t.Error("the built disk changed")
				}
			}
		})
	}
}

// The sddf section's mistakes, found before anything is fetched.
func TestSDDFRecipeMistakes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "client.c"), []byte("void init(void) {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(`name: bad-sddf
description: sDDF mistakes
boards: [qemu_virt_aarch64, x86_64_generic, rockpro64]
configs: [debug]
sources:
  app: {path: app}
sdk: {version: 2.3.0, path: /nonexistent}
sddf:
  source: sdff
  release: 0.5.0
  timer: {clients: []}
  blk:
    clients: [{name: client, partition: 2, queue_capacity: 2000}]
    disk: {size: 4MiB, partitions: [{size: 4MiB, type: 300}]}
  serial: {clients: [client, client], begin: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
components:
  - {name: client, lang: c, source: app, srcs: [client.c], sddf_util: verbose}
`), 0o644)
	_, stderr, code := plinth(t, "check", dir)
	for _, want := range []string{
		`sddf.source: no source named "sdff"`,
		"sddf.release: plinth knows the config layouts of sDDF 0.6.0 and 0.7.0, not 0.5.0",
		"sddf.timer.clients: list at least one protection domain",
		"sddf.serial.clients: client is listed twice",
		"sddf.serial.begin: 130 bytes; sDDF keeps at most 127",
		"sddf.serial: board rockpro64 has no serial device in its board file",
		"sddf.blk.clients[0].partition: the disk has 1 partition(s); client client would find none at 2",
		"sddf.blk.clients: their queues hold 2000 requests together; the virtualiser's queue to the driver holds at most 1024",
		"sddf.blk.disk.partitions[0].type: 0x12c is not a byte",
		"sddf.blk.disk.partitions[0]: 4194304 bytes from 1048576 run past the end of the 4194304-byte disk",
		"components[0].sddf_util: \"verbose\" is neither debug nor serial",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("missing %q (exit %d):\n%s", want, code, stderr)
		}
	}
}
