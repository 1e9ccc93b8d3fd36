package cli

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A Rust protection domain through cargo, offline, for the host target
// (the only one this machine's Rust can compile for): its crates.io
// dependency comes from a pinned source, its build script finds the SDK's
// headers through SEL4_INCLUDE_DIRS, and the program it makes runs.
func TestRustComponentBuildsOfflineAgainstTheSDK(t *testing.T) {
	if _, err := exec.LookPath("cargo"); err != nil {
		t.Skip("no cargo (apt-get install cargo)")
	}
	sdk := fakeSDK(t)
	dir := t.TempDir()
	files := map[string]string{
		"app/pd/Cargo.toml": "[package]\nname = \"pd\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ngreeting = \"0.1\"\n",
		"app/pd/build.rs": `use std::path::Path;
fn main() {
    let dirs = std::env::var("SEL4_INCLUDE_DIRS").unwrap_or_default();
    let found = dirs.split(':').map(|d| Path::new(d).join("microkit.h")).find(|p| p.exists());
    println!("cargo:rustc-env=PD_SDK_HEADER={}", if found.is_some() { "microkit.h found" } else { "microkit.h missing" });
    println!("cargo:rustc-env=PD_BOARD={}", std::env::var("MICROKIT_BOARD").unwrap_or_default());
}
`,
		"app/pd/src/main.rs":       "fn main() {\n    println!(\"{}; {} for {}\", greeting::hello(), env!(\"PD_SDK_HEADER\"), env!(\"PD_BOARD\"));\n}\n",
		"app/hello.system":         `<system><protection_domain name="pd"><program_image path="pd.elf" /></protection_domain></system>`,
		"libs/greeting/Cargo.toml": "[package]\nname = \"greeting\"\nversion = \"0.1.3\"\nedition = \"2021\"\n",
		"libs/greeting/src/lib.rs": "pub fn hello() -> &'static str { \"hello, world\" }\n",
		"recipe.yaml": fmt.Sprintf(`name: rust-pd
description: a Rust protection domain for the host target
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
	f.Close()
	if runtime.GOARCH == "amd64" && f.Machine != elf.EM_X86_64 {
		t.Errorf("pd.elf is for %v, not the host", f.Machine)
	}
	got, err := exec.Command(pd).Output()
	if err != nil || string(got) != "hello, world; microkit.h found for qemu_virt_aarch64\n" {
		t.Errorf("pd.elf printed %q (%v)", got, err)
	}
	if _, err := os.Stat(filepath.Join(out, "rust-pd", "qemu_virt_aarch64", "debug", "image", "loader.img")); err != nil {
		t.Error(err)
	}

	// A changed dependency rebuilds the PD and the image, nothing else.
	os.WriteFile(filepath.Join(dir, "libs/greeting/src/lib.rs"), []byte("pub fn hello() -> &'static str { \"hello again\" }\n"), 0o644)
	progress, stderr, code := plinth(t, "build", dir, "--cache-dir", cache, "-o", out)
	if code != 0 || !strings.Contains(progress, "run   pd-pd") || strings.Count(progress, "run   ") != 2 {
		t.Errorf("after changing the dependency: exit %d\n%s%s", code, progress, stderr)
	}
	if got, _ := exec.Command(pd).Output(); !strings.HasPrefix(string(got), "hello again;") {
		t.Errorf("pd.elf printed %q after the change", got)
	}
}
