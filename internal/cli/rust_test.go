package cli

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Rust protection domain for the board's bare-metal target, through
// cargo offline with core built from the toolchain's source: its
// dependency comes from a pinned source, its build script finds the SDK's
// headers through SEL4_INCLUDE_DIRS, and the static library it makes is
// linked against libmicrokit into an AArch64 ELF that exports init.
func TestRustComponentBuildsOfflineAgainstTheSDK(t *testing.T) {
	if _, err := os.Stat("/usr/lib/rustlib/src/rust/library/vendor"); err != nil {
		t.Skip("no source of Rust's standard library (apt-get install rustc-web cargo-web rust-web-src)")
	}
	sdk := fakeSDK(t)
	dir := t.TempDir()
	files := map[string]string{
		"app/pd/Cargo.toml": "[package]\nname = \"pd\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"staticlib\"]\n\n[dependencies]\ngreeting = \"0.1\"\nplinth-microkit = \"0.1\"\n\n[profile.release]\npanic = \"abort\"\n",
		"app/pd/build.rs": `use std::path::Path;
fn main() {
    let dirs = std::env::var("SEL4_INCLUDE_DIRS").unwrap_or_default();
    let found = dirs.split(':').map(|d| Path::new(d).join("microkit.h")).find(|p| p.exists());
    println!("cargo:rustc-env=PD_SDK_HEADER={}", if found.is_some() { "microkit.h found" } else { "microkit.h missing" });
    println!("cargo:rustc-env=PD_BOARD={}", std::env::var("MICROKIT_BOARD").unwrap_or_default());
}
`,
		"app/pd/src/lib.rs": `#![no_std]
extern "C" { fn microkit_dbg_puts(s: *const u8); }
const PD_GREETING: &str = concat!("greeting: ", env!("PD_SDK_HEADER"), " for ", env!("PD_BOARD"), "\\n\\0");
#[no_mangle]
pub extern "C" fn init() { unsafe { microkit_dbg_puts(greeting::HELLO.as_ptr()); microkit_dbg_puts(PD_GREETING.as_ptr()) }; plinth_microkit::Channel(3).notify() }
#[no_mangle]
pub extern "C" fn notified(_ch: u32) {}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
`,
		"app/hello.system":         `<system><protection_domain name="pd"><program_image path="pd.elf" /></protection_domain></system>`,
		"libs/greeting/Cargo.toml": "[package]\nname = \"greeting\"\nversion = \"0.1.3\"\nedition = \"2021\"\n",
		"libs/greeting/src/lib.rs": "#![no_std]\npub const HELLO: &[u8] = b\"hello, world\\n\\0\";\n",
		"recipe.yaml": fmt.Sprintf(`name: rust-pd
description: a Rust protection domain for the board's bare-metal target
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
  libs: {path: libs}
sdk: {version: 2.0.1, path: %s}
components:
  - name: pd
    lang: rust
    source: app
    dir: pd
    crates: {greeting: libs/greeting}
system: {source: app, sdf: hello.system}
`, sdk),
	}
	for name, text := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	cache, out := filepath.Join(t.TempDir(), "cache"), filepath.Join(t.TempDir(), "out")
	_, stderr, code := plinth(t, "build", dir, "--cache-dir", cache, "-o", out)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	pd := filepath.Join(out, "rust-pd", "qemu_virt_aarch64", "debug", "pd-pd", "pd.elf")
	f, err := elf.Open(pd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("pd.elf is for %v, not AArch64", f.Machine)
	}
	syms, _ := f.Symbols()
	names := map[string]bool{}
	for _, s := range syms {
		names[s.Name] = true
	}
	// (notified is dropped: the stand-in libmicrokit never calls it.)
	// plinth's binding: the crate calls the shim compiled from the SDK's
	// header.
	if !names["init"] || !names["microkit_dbg_puts"] || !names["plinth_microkit_notify"] {
		t.Errorf("pd.elf lacks init, libmicrokit's microkit_dbg_puts or the binding's plinth_microkit_notify: %v", names)
	}
	data, _ := os.ReadFile(pd)
	for _, want := range []string{"greeting: microkit.h found for qemu_virt_aarch64", "hello, world"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("pd.elf lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "rust-pd", "qemu_virt_aarch64", "debug", "image", "loader.img")); err != nil {
		t.Error(err)
	}
}

// plinth check refuses a Rust protection domain whose target cannot run on
// a board of the recipe, at the target's line.
func TestCheckRefusesARustTargetTheBoardCannotRun(t *testing.T) {
	for target, want := range map[string]string{
		"x86_64-unknown-linux-gnu":   `recipe.yaml:12:13: error: components[0].target: "x86_64-unknown-linux-gnu" has an operating system under it`,
		"riscv64gc-unknown-none-elf": `recipe.yaml:12:13: error: components[0].target: "riscv64gc-unknown-none-elf" is for riscv64, but board qemu_virt_aarch64 is aarch64 (its target: aarch64-unknown-none)`,
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "app"), 0o755)
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(`name: rust-pd
description: a Rust protection domain
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
sdk: {version: 2.0.1, path: /nonexistent}
components:
  - name: pd
    lang: rust
    source: app
    target: `+target+`
`), 0o644)
		if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want %q\n%s", target, code, want, stderr)
		}
	}
}

// A program image without what the Microkit tool needs of it is refused
// before the tool runs (it would panic), naming the PD and the symbol at
// the PD's line.
func TestAnImageTheToolCannotUseIsNamed(t *testing.T) {
	sdk := fakeSDK(t)
	ld := filepath.Join(sdk, "board", "qemu_virt_aarch64", "debug", "lib", "microkit.ld")
	os.WriteFile(ld, []byte(strings.Replace(fakeMicrokitLD, " __sel4_ipc_buffer_obj = .;", "", 1)), 0o644)
	dir := t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("no-ipc-buffer", "a PD linked without the IPC buffer's symbol", "qemu_virt_aarch64", sdk)), 0o644)
	_, stderr, code := plinth(t, "build", dir, "--cache-dir", t.TempDir(), "-o", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "hello.system:1:9: error: protection domain hello: hello.elf lacks the symbol __sel4_ipc_buffer_obj the Microkit tool needs") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// A setvar whose symbol the program lacks, or declares narrower than the 8
// bytes the tool writes (the tool would fail an assertion), is named at
// its attribute, every one at once.
func TestASetvarTheProgramCannotTakeIsNamed(t *testing.T) {
	sdk := fakeSDK(t)
	dir := t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte("#include <microkit.h>\nunsigned int narrow;\nvoid init(void) { narrow = 1; microkit_dbg_puts(\"hello\\n\"); }\nvoid notified(microkit_channel ch) { (void)ch; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app", "hello.system"), []byte(`<system>
<memory_region name="buf" size="0x1000" />
<protection_domain name="hello">
<program_image path="hello.elf" />
<map mr="buf" vaddr="0x4000000" perms="rw" setvar_vaddr="absent" />
<map mr="buf" vaddr="0x4001000" perms="r" setvar_vaddr="narrow" />
</protection_domain>
</system>
`), 0o644)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("setvars", "setvars the program cannot take", "qemu_virt_aarch64", sdk)), 0o644)
	_, stderr, code := plinth(t, "build", dir, "--cache-dir", t.TempDir(), "-o", t.TempDir())
	for _, want := range []string{
		"hello.system:5:44: error: protection domain hello: hello.elf has no symbol absent for setvar_vaddr to set",
		"hello.system:6:43: error: protection domain hello: hello.elf's symbol narrow is 4 bytes, and the Microkit tool writes 8 into it",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want %q\n%s", code, want, stderr)
		}
	}
}
