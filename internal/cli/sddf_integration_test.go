package cli

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sDDF's timer, serial, echo_server and blk examples on QEMU, their
// systems composed by plinth from the shipped recipes naming the clients:
// drivers and virtualisers built from the pinned sDDF tree, the configs
// written into the ELFs, each printing what upstream's prints (the echo
// server also answering UDP and TCP, the blk client's writes landing on
// the disk); run from another directory, so the recipes' own files come
// from the binary.
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
		{"sddf-echo-server", "all 4 expected texts seen", []string{
			`<protection_domain name="ethernet_driver" priority="101" budget="100" period="400"`,
			`<memory_region name="virtio_mmio@a000000/net/rx/data/device" size="0x100000" phys_addr="0x5fef0000" />`,
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
			if tc.recipe == "sddf-echo-server" {
				echoes(t, filepath.Join(out, tc.recipe, "qemu_virt_aarch64", "debug", "image", "loader.img"))
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
  network:
    clients: [{name: client, mac: "01:00:00:00:00:01"}, {name: other, mac: "01:00:00:00:00:01"}]
  serial: {clients: [client, client], begin: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}
components:
  - {name: client, lang: c, source: app, srcs: [client.c], sddf_util: verbose, libc: glibc, recipe_srcs: [missing.c]}
`), 0o644)
	_, stderr, code := plinth(t, "check", dir)
	for _, want := range []string{
		`sddf.source: no source named "sdff"`,
		"sddf.release: plinth knows the config layouts of sDDF 0.6.0 and 0.7.0, not 0.5.0",
		"sddf.timer.clients: list at least one protection domain",
		"sddf.serial.clients: client is listed twice",
		"sddf.serial.begin: 130 bytes; sDDF keeps at most 127",
		"sddf.serial: board rockpro64 has no serial device in its board file",
		"sddf.network.clients[0].mac: 01:00:00:00:00:01 is a multicast address",
		"sddf.network.clients[1].mac: 01:00:00:00:00:01 is another client's too",
		"sddf.network: plinth composes the network class in sDDF 0.6.0's layout only",
		`components[0].libc: "glibc" is not picolibc (the one C library plinth knows)`,
		"components[0].recipe_srcs[0]",
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

// echoes boots the echo server with host ports forwarded to its UDP and
// TCP echo ports (QEMU's user-mode network forwards to the first DHCP
// address, whichever client has it) and checks both answer.
func echoes(t *testing.T, image string) {
	t.Helper()
	free := func(network string) int {
		if network == "udp" {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return c.LocalAddr().(*net.UDPAddr).Port
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	udp, tcp := free("udp"), free("tcp")
	qemu := exec.Command("qemu-system-aarch64", "-machine", "virt,virtualization=on", "-cpu", "cortex-a53", "-nographic", "-serial", "mon:stdio",
		"-device", "loader,file="+image+",addr=0x70000000,cpu-num=0", "-m", "size=2G",
		"-global", "virtio-mmio.force-legacy=false", "-device", "virtio-net-device,netdev=net0,bus=virtio-mmio-bus.0",
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=udp:127.0.0.1:%d-:1235,hostfwd=tcp:127.0.0.1:%d-:1237", udp, tcp))
	var console bytes.Buffer
	qemu.Stdout, qemu.Stderr = &console, &console
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { qemu.Process.Kill(); qemu.Wait() }()
	// UDP: send until the echo comes (an echo can lag a packet behind).
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 64)
	var got string
	for deadline := time.Now().Add(20 * time.Second); got == "" && time.Now().Before(deadline); {
		conn.Write([]byte("plinth udp echo"))
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := conn.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "plinth udp echo" {
		t.Errorf("UDP echo: got %q\n%s", got, console.String())
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", tcp), 5*time.Second)
	if err != nil {
		t.Fatalf("TCP echo: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("plinth tcp echo\n"))
	n, _ := io.ReadFull(c, buf[:16])
	if string(buf[:n]) != "plinth tcp echo\n" {
		t.Errorf("TCP echo: got %q", buf[:n])
	}
}
