package cli

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSDK makes an SDK directory for qemu_virt_aarch64/debug: headers, a
// libmicrokit.a and a linker script built by Debian's real aarch64 cross
// compiler, and in place of the Microkit tool a script that checks its
// command line as the tool does and writes, as the image, a tiny bare-metal
// program that prints "hello, world" on QEMU's serial port.
func fakeSDK(t testing.TB) string {
	for _, tool := range []string{"aarch64-linux-gnu-gcc", "qemu-system-aarch64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s (apt-get install gcc-aarch64-linux-gnu qemu-system-arm)", tool)
		}
	}
	sdk := t.TempDir()
	board := filepath.Join(sdk, "board", "qemu_virt_aarch64", "debug")
	for _, d := range []string{"include", "lib", "bin"} {
		os.MkdirAll(filepath.Join(board, d), 0o755)
	}
	os.MkdirAll(filepath.Join(sdk, "bin"), 0o755)
	os.WriteFile(filepath.Join(board, "include", "microkit.h"), []byte(fakeMicrokitH), 0o644)
	os.WriteFile(filepath.Join(board, "lib", "microkit.ld"), []byte(fakeMicrokitLD), 0o644)
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "libmicrokit.c"), []byte(`#include "microkit.h"
char microkit_name[MICROKIT_PD_NAME_LENGTH];
char microkit_passive;
seL4_Word microkit_irqs, microkit_notifications, microkit_pps;
void microkit_dbg_puts(const char *s) { volatile unsigned int *u = (unsigned int *)0x09000000; while (*s) *u = *s++; }
/* Reads what the tool writes, as the real runtime does (so the linker keeps it). */
void _start(void) { if (*(volatile char *)&microkit_passive + *(volatile seL4_Word *)&microkit_irqs + *(volatile seL4_Word *)&microkit_notifications + *(volatile seL4_Word *)&microkit_pps == 1) microkit_dbg_puts(microkit_name); init(); for (;;) __asm__ volatile("wfi"); }
`), 0o644)
	os.WriteFile(filepath.Join(work, "image.c"), []byte(`void _start(void) {
	volatile unsigned int *u = (unsigned int *)0x09000000;
	for (const char *s = "LDR|INFO: fake loader\nhello, world\n"; *s; s++) *u = *s;
	for (;;) __asm__ volatile("wfi");
}
`), 0o644)
	runAll(t, work,
		[]string{"aarch64-linux-gnu-gcc", "-c", "-ffreestanding", "-nostdlib", "-mgeneral-regs-only", "-I", filepath.Join(board, "include"), "libmicrokit.c", "-o", "libmicrokit.o"},
		[]string{"aarch64-linux-gnu-ar", "rcs", filepath.Join(board, "lib", "libmicrokit.a"), "libmicrokit.o"},
		[]string{"aarch64-linux-gnu-gcc", "-nostdlib", "-ffreestanding", "-O2", "-mgeneral-regs-only", "-static", "-no-pie", "-Wl,-Ttext=0x70000000", "-Wl,-e,_start", "-Wl,--build-id=none", "-o", "image.elf", "image.c"},
		[]string{"aarch64-linux-gnu-objcopy", "-O", "binary", "image.elf", filepath.Join(board, "image.bin")},
	)
	tool := `#!/bin/sh
# A stand-in for the Microkit tool: its command line, its errors, an image.
sys=$1; shift
while [ $# -gt 0 ]; do
  case $1 in
    --search-path) sp=$2; shift 2;;
    --board) board=$2; shift 2;;
    --config) config=$2; shift 2;;
    -o) out=$2; shift 2;;
    -r) report=$2; shift 2;;
    --capdl-json) capdl=$2; shift 2;;
    *) echo "microkit: error: unrecognized argument '$1'" >&2; exit 1;;
  esac
done
[ -f "$sys" ] || { echo "Error: system description file '$sys' does not exist" >&2; exit 1; }
for elf in $(sed -n 's/.*program_image path="\([^"]*\)".*/\1/p' "$sys"); do
  [ -f "$sp/$elf" ] || { echo "Error: unable to find program image: '$elf'" >&2; exit 1; }
done
[ -d "$MICROKIT_SDK/board/$board/$config" ] || { echo "microkit: error: unknown board $board" >&2; exit 1; }
cp "$MICROKIT_SDK/board/$board/$config/image.bin" "$out"
echo "fake report: $board $config" > "$report"
[ -z "$capdl" ] || echo '{"objects": []}' > "$capdl"
`
	os.WriteFile(filepath.Join(sdk, "bin", "microkit"), []byte(tool), 0o755)
	return sdk
}

// runAll runs each command in dir, failing the test at the first that fails.
func runAll(t testing.TB, dir string, argvs ...[]string) {
	t.Helper()
	for _, argv := range argvs {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
}

// plinth run, end to end with real parts where they run here: the PD is
// compiled and linked by Debian's aarch64 cross compiler against the SDK's
// headers, library and linker script; the image step calls the tool with
// the search path, board, config and outputs; real QEMU boots the image and
// the console is checked.
func TestRunBuildsAndBootsWithAFakeSDK(t *testing.T) {
	sdk := fakeSDK(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	os.MkdirAll(app, 0o755)
	os.WriteFile(filepath.Join(app, "hello.c"), []byte("#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hello, world\\n\"); }\nvoid notified(unsigned ch) { (void)ch; }\n"), 0o644)
	os.WriteFile(filepath.Join(app, "hello.system"), []byte(`<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="hello" priority="254">
        <program_image path="hello.elf" />
    </protection_domain>
</system>
`), 0o644)
	recipeText := fmt.Sprintf(`name: fake-hello
description: hello against a fake SDK
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
sdk:
  version: 2.0.1
  path: %s
components:
  - {name: hello, lang: c, source: app, srcs: [hello.c], cflags: [-O2, -Wall, -Werror, -mgeneral-regs-only]}
system: {source: app, sdf: hello.system}
expect:
  boot:
    timeout: 20s
    serial: ["LDR|INFO", "hello, world"]
`, sdk)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipeText), 0o644)
	cache, out := filepath.Join(t.TempDir(), "cache"), filepath.Join(t.TempDir(), "out")

	stdout, stderr, code := plinth(t, "run", dir, "--cache-dir", cache, "-o", out)
	if code != 0 || !strings.Contains(stdout, "hello, world") || !strings.Contains(stderr, "all 2 expected texts seen") {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := elf.Open(filepath.Join(out, "fake-hello", "qemu_virt_aarch64", "debug", "pd-hello", "hello.elf"))
	if err != nil || f.Machine != elf.EM_AARCH64 {
		t.Fatalf("the PD is not an AArch64 ELF: %v", err)
	}
	if sym, _ := f.Symbols(); len(sym) == 0 {
		t.Error("the PD has no symbols")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "fake-hello", "qemu_virt_aarch64", "debug", "image", "report.txt")); string(b) != "fake report: qemu_virt_aarch64 debug\n" {
		t.Errorf("report: %q", b)
	}
	if log, _ := os.ReadFile(filepath.Join(out, "fake-hello", "qemu_virt_aarch64", "debug", "logs", "run.log")); !strings.Contains(string(log), "hello, world") {
		t.Errorf("run log: %q", log)
	}

	// The second run builds nothing; a changed PD rebuilds the PD and the image only.
	_, stderr, _ = plinth(t, "run", dir, "--cache-dir", cache, "-o", out)
	if strings.Contains(stderr, "run   ") {
		t.Errorf("second run built something:\n%s", stderr)
	}
	os.WriteFile(filepath.Join(app, "hello.c"), []byte("#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hello, world!\\n\"); }\nvoid notified(unsigned ch) { (void)ch; }\n"), 0o644)
	_, stderr, code = plinth(t, "run", dir, "--cache-dir", cache, "-o", out)
	if code != 0 || !strings.Contains(stderr, "run   pd-hello") || !strings.Contains(stderr, "run   image") || strings.Count(stderr, "run   ") != 2 {
		t.Errorf("after changing the PD: exit %d\n%s", code, stderr)
	}

	// An expectation that never comes fails with the console's end.
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(strings.Replace(recipeText, `"hello, world"]`, `"goodbye"]`, 1)), 0o644)
	_, stderr, code = plinth(t, "run", dir, "--cache-dir", cache, "-o", out, "--timeout", "2s")
	if code != 1 || !strings.Contains(stderr, `1 of 2 expected texts seen`) || !strings.Contains(stderr, `waiting for "goodbye"`) || !strings.Contains(stderr, "    hello, world") {
		t.Errorf("missing expectation: exit %d\n%s", code, stderr)
	}
}

// A board QEMU does not emulate is built, not booted, and plinth says so.
func TestRunOnABoardWithoutAnEmulatorBuildsOnly(t *testing.T) {
	sdk := fakeSDK(t)
	boardsDir, dir := labBoard(t, sdk), t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("lab-hello", "hello on a board without an emulator", "lab", sdk)), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, code := plinth(t, "run", dir, "--boards-dir", boardsDir, "--cache-dir", t.TempDir(), "-o", out)
	want := "lab has no emulator: built only (" + filepath.Join(out, "lab-hello", "lab", "debug") + ")"
	if code != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("run: exit %d, want %q\n%s\n%s", code, want, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "lab-hello", "lab", "debug", "image", "loader.img")); err != nil {
		t.Error(err)
	}
}

// Without network and without mirrors, a build names every source it
// cannot get and the two ways to provide them.
func TestOfflineBuildNamesEveryMissingSource(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../../recipes/microkit-hello/recipe.yaml")
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), src, 0o644)
	_, stderr, code := plinth(t, "build", dir, "--offline", "--cache-dir", t.TempDir(), "-o", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "12 source(s) could not be had") || !strings.Contains(stderr, "  sel4 (https://github.com/seL4/seL4): offline, and no mirror rewrites this URL") || !strings.Contains(stderr, "Provide them either way: a mirror map") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// The SDK as a release tarball pinned by sha256, downloaded over HTTP.
func TestSDKFromAReleaseTarball(t *testing.T) {
	sdk := fakeSDK(t)
	tarball := filepath.Join(t.TempDir(), "microkit-sdk-2.3.0-linux-x86-64.tar.gz")
	if out, err := exec.Command("tar", "-czf", tarball, "-C", filepath.Dir(sdk), "--transform", "s,^"+filepath.Base(sdk)+",microkit-sdk-2.3.0,", filepath.Base(sdk)).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, _ := os.ReadFile(tarball)
	url := serveFile(t, "/microkit-sdk-2.3.0-linux-x86-64.tar.gz", data)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte("#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hi\\n\"); }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app", "hello.system"), []byte("<system><protection_domain name=\"hello\"><program_image path=\"hello.elf\" /></protection_domain></system>\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(fmt.Sprintf(`name: release-hello
description: hello against an SDK release tarball
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
sdk:
  version: 2.3.0
  release: {url: %s, sha256: %s}
components:
  - {name: hello, lang: c, source: app, srcs: [hello.c], cflags: [-mgeneral-regs-only]}
system: {source: app, sdf: hello.system}
`, url, sha256hex(data))), 0o644)
	out := t.TempDir()
	stdout, stderr, code := plinth(t, "build", dir, "--cache-dir", t.TempDir(), "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"loader.img", "report.txt", "capdl.json"} {
		if _, err := os.Stat(filepath.Join(out, "release-hello", "qemu_virt_aarch64", "debug", "image", f)); err != nil {
			t.Error(err)
		}
	}
}

// helloApp writes a one-PD application beside a recipe: app/hello.c and
// app/hello.system, for recipes built against fakeSDK.
func helloApp(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte("#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hi\\n\"); }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app", "hello.system"), []byte(`<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>`), 0o644)
}

// labBoard adds to the fake SDK a board QEMU does not emulate ("lab", like
// qemu_virt_aarch64 otherwise) and returns the boards directory naming it.
func labBoard(t *testing.T, sdk string) string {
	t.Helper()
	if err := os.CopyFS(filepath.Join(sdk, "board", "lab", "debug"), os.DirFS(filepath.Join(sdk, "board", "qemu_virt_aarch64", "debug"))); err != nil {
		t.Fatal(err)
	}
	boardsDir := t.TempDir()
	os.WriteFile(filepath.Join(boardsDir, "lab.yaml"), []byte("name: lab\ninherits: qemu_virt_aarch64\ndescription: a lab board\nsince: 1.3.0\nemulator: null\nrefs: {since: x}\n"), 0o644)
	return boardsDir
}

// fakeMicrokitH stands in for the SDK's microkit.h: its types, its real
// function and its static inline ones (here doing nothing), as the Rust
// binding's shim and C protection domains compile against them.
const fakeMicrokitH = `typedef unsigned long seL4_Word;
typedef unsigned char seL4_Uint8;
typedef unsigned short seL4_Uint16;
typedef unsigned int microkit_channel;
typedef struct { seL4_Word words[1]; } microkit_msginfo;
#define MICROKIT_PD_NAME_LENGTH 64
extern char microkit_name[MICROKIT_PD_NAME_LENGTH];
void microkit_dbg_puts(const char *s);
void init(void);
static inline void microkit_notify(microkit_channel ch) { (void)ch; }
static inline void microkit_irq_ack(microkit_channel ch) { (void)ch; }
static inline void microkit_deferred_notify(microkit_channel ch) { (void)ch; }
static inline void microkit_deferred_irq_ack(microkit_channel ch) { (void)ch; }
static inline microkit_msginfo microkit_msginfo_new(seL4_Word label, seL4_Uint16 count) { microkit_msginfo m = {{label << 12 | count}}; return m; }
static inline seL4_Word microkit_msginfo_get_label(microkit_msginfo m) { return m.words[0] >> 12; }
static inline seL4_Word microkit_msginfo_get_count(microkit_msginfo m) { return m.words[0] & 0x7f; }
static inline microkit_msginfo microkit_ppcall(microkit_channel ch, microkit_msginfo m) { (void)ch; return m; }
static inline void microkit_mr_set(seL4_Uint8 mr, seL4_Word v) { (void)mr; (void)v; }
static inline seL4_Word microkit_mr_get(seL4_Uint8 mr) { return mr; }
`

// fakeMicrokitLD stands in for the SDK's microkit.ld: like it, it gives
// every protection domain the symbol the Microkit tool looks up.
const fakeMicrokitLD = "ENTRY(_start)\nSECTIONS { . = 0x200000; .text : { *(.text*) } .rodata : { *(.rodata*) } .data : { *(.data*) } .bss : { *(.bss*) } . = ALIGN(0x1000); __sel4_ipc_buffer_obj = .; }\n"

// helloRecipe is a recipe of one C protection domain (helloApp's) against
// the fake SDK at sdk, for the boards given.
func helloRecipe(name, description, boards, sdk string) string {
	return fmt.Sprintf(`name: %s
description: %s
boards: [%s]
configs: [debug]
sources:
  app: {path: app}
sdk: {version: 2.0.1, path: %s}
components:
  - {name: hello, lang: c, source: app, srcs: [hello.c], cflags: [-mgeneral-regs-only]}
system: {source: app, sdf: hello.system}
`, name, description, boards, sdk)
}
