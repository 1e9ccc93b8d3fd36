package sddf

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func conn(vaddr uint64, id int) Value {
	return Value{"queue": Value{"vaddr": vaddr, "size": uint64(0x1000)}, "data": Value{"vaddr": vaddr + 0x1000, "size": uint64(0x2000)}, "id": id}
}

func TestSerialClientConfigBytes(t *testing.T) {
	if got := SerialClient.Struct.Size(); got != 88 {
		t.Fatalf("sizeof(serial_client_config_t) = %d, want 88 (5-byte magic padded to 8, two 40-byte connections)", got)
	}
	b, err := SerialClient.Encode(Value{"rx": conn(0x4000000, 1), "tx": conn(0x4004000, 2)})
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	checks := []struct {
		what string
		ok   bool
	}{
		{"magic", bytes.Equal(b[:5], []byte("sDDF\x03"))},
		{"padding after the magic", bytes.Equal(b[5:8], []byte{0, 0, 0})},
		{"rx.queue.vaddr", le.Uint64(b[8:]) == 0x4000000},
		{"rx.queue.size", le.Uint64(b[16:]) == 0x1000},
		{"rx.data.vaddr", le.Uint64(b[24:]) == 0x4001000},
		{"rx.data.size", le.Uint64(b[32:]) == 0x2000},
		{"rx.id", b[40] == 1 && bytes.Equal(b[41:48], make([]byte, 7))},
		{"tx.queue.vaddr", le.Uint64(b[48:]) == 0x4004000},
		{"tx.id", b[80] == 2},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s wrong in % x", c.what, b)
		}
	}
}

func TestEncodeReportsEveryProblem(t *testing.T) {
	clients := make([]any, 65)
	for i := range clients {
		clients[i] = Value{}
	}
	_, err := SerialVirtTX.Encode(Value{
		"driver":        Value{"id": 300, "queue": Value{"vaddr": "high"}},
		"clients":       clients,
		"begin_str":     strings.Repeat("x", 128),
		"enable_colour": true,
		"colour":        true,
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"serial_virt_tx_config_t.driver.id: 300 does not fit in uint8_t",
		"serial_virt_tx_config_t.driver.queue.vaddr: want a number, got string",
		"serial_virt_tx_config_t.clients: 65 items; at most 64",
		"serial_virt_tx_config_t.begin_str: \"" + strings.Repeat("x", 128) + "\" is 128 bytes; at most 127 fit",
		"serial_virt_tx_config_t has no member colour",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if _, err := TimerClient.Encode(Value{"magic": "sDDF\x06"}); err == nil {
		t.Error("a caller-given magic was accepted")
	}
}

// compiles reports whether cc accepts the C source (syntax and static
// assertions only).
func compiles(t *testing.T, cc, src string, flags ...string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "layout.c"), []byte(src), 0o644)
	args := append([]string{"-fsyntax-only", "-std=gnu11", "-ffreestanding"}, flags...)
	out, err := exec.Command(cc, append(args, filepath.Join(dir, "layout.c"))...).CombinedOutput()
	if err != nil {
		t.Errorf("%s: the layout check fails:\n%s", cc, out)
	}
}

// plinth's offsets and sizes against the C compiler's for the same
// declarations, on the host and on AArch64 where its compiler is here.
func TestLayoutArithmeticMatchesTheCompiler(t *testing.T) {
	ran := false
	var src string
	for _, release := range []string{"0.6.0", "0.7.0"} {
		configs, err := ConfigsFor(release)
		if err != nil {
			t.Fatal(err)
		}
		src = CDecls(configs) + LayoutAsserts(configs, false)
		for _, cc := range []string{"gcc", "aarch64-linux-gnu-gcc", "riscv64-linux-gnu-gcc"} {
			if _, err := exec.LookPath(cc); err == nil {
				compiles(t, cc, src)
				ran = true
			}
		}
	}
	if _, err := ConfigsFor("0.5.0"); err == nil || !strings.Contains(err.Error(), "sDDF 0.6.0 and 0.7.0, not 0.5.0") {
		t.Errorf("an unknown release: %v", err)
	}
	if !ran {
		t.Skip("no C compiler")
	}
	if n := strings.Count(src, "_Static_assert"); n < 100 {
		t.Errorf("only %d assertions", n)
	}
}

// plinth's layouts against the real headers of sDDF 0.6.0 (the release for
// Microkit 2.0.1) and of the revision the board files cite (0.7), compiled
// by the AArch64 cross compiler. Runs when PLINTH_MIRRORS maps sDDF's
// repository.
func TestLayoutMatchesSDDFHeaders(t *testing.T) {
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err != nil {
		t.Skip("no aarch64-linux-gnu-gcc")
	}
	for release, commit := range map[string]string{"0.6.0": "50c4eb17a7dfc65b4111e4770227c3919bdaa1c3", "0.7.0": "650ace5d"} {
		// lib_sddf_lwip.h includes lwIP's headers, configured by an
		// example's lwipopts.h and port (the echo server's).
		dir := sddfTree(t, commit, "include", "network/ipstacks/lwip/src/include", "examples/echo_server/include")
		// os/sddf.h declares functions with seL4's message type; the layout
		// needs nothing else from seL4.
		stub := filepath.Join(dir, "stub", "sel4")
		os.MkdirAll(stub, 0o755)
		os.WriteFile(filepath.Join(stub, "sel4.h"), []byte("#pragma once\ntypedef struct { unsigned long words[1]; } seL4_MessageInfo_t;\n"), 0o644)
		// blk/config.h includes microkit.h and uses nothing of it.
		os.WriteFile(filepath.Join(dir, "stub", "microkit.h"), nil, 0o644)
		configs, _ := ConfigsFor(release)
		// Freestanding headers only, as PDs are compiled: lwIP's port
		// declares ssize_t its own way, which glibc's headers contradict.
		gccInclude, err := exec.Command("aarch64-linux-gnu-gcc", "-print-file-name=include").Output()
		if err != nil {
			t.Fatal(err)
		}
		libc := []string{"-isystem", strings.TrimSpace(string(gccInclude))}
		// lwipopts.h includes stdlib.h: a freestanding C library's headers.
		if picolibc := "/usr/lib/picolibc/aarch64-linux-gnu/include"; dirExists(picolibc) {
			libc = append(libc, "-isystem", picolibc)
		} else {
			t.Logf("no picolibc-aarch64-linux-gnu: lib_sddf_lwip_config_t not checked")
			configs = slices.DeleteFunc(slices.Clone(configs), func(c Config) bool { return c.Struct.Name == "lib_sddf_lwip_config_t" })
		}
		compiles(t, "aarch64-linux-gnu-gcc", LayoutAsserts(configs, true), append(libc, "-nostdinc",
			"-I", filepath.Join(dir, "include"), "-I", filepath.Join(dir, "include", "extern"), "-I", filepath.Join(dir, "stub"), "-I", filepath.Join(dir, "network/ipstacks/lwip/src/include"), "-I", filepath.Join(dir, "examples/echo_server/include/lwip"),
			"-DCONFIG_ARCH_AARCH64", "-Wno-unused-variable")...)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
