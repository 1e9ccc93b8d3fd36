package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/deployment"
)

// familyRecipe writes a recipe of one Rust PD that links the os-family's
// crates (copied beside it), built against the stand-in SDK, into
// dir/NAME; code is the PD's lib.rs.
func familyRecipe(t *testing.T, dir, name, sdk, code string) {
	t.Helper()
	root := filepath.Join(dir, name)
	if err := os.CopyFS(filepath.Join(root, "family", "crates"), os.DirFS("../../recipes/os-family/crates")); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"app/pd/Cargo.toml":       "[package]\nname = \"pd\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"staticlib\"]\n\n[dependencies]\ndiode-wire = \"1\"\ndiode-upper = \"1\"\ndiode-lower = \"1\"\nplinth-microkit = \"0.1\"\n\n[profile.release]\npanic = \"abort\"\n",
		"app/pd/src/lib.rs":       code,
		"app/" + name + ".system": `<system><protection_domain name="` + name + `"><program_image path="pd.elf" /></protection_domain></system>`,
		"recipe.yaml": `name: ` + name + `
description: a system of the family, in one Rust PD
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
  family: {path: family}
sdk: {version: 2.0.1, path: ` + sdk + `}
components:
  - name: pd
    lang: rust
    source: app
    dir: pd
    crates: {diode-wire: family/crates/diode-wire, diode-upper: family/crates/diode-upper, diode-lower: family/crates/diode-lower}
system: {source: app, sdf: ` + name + `.system}
`,
	}
	for rel, text := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const pdPrelude = `#![no_std]
use core::hint::black_box;
use diode_wire::{Command, Telemetry, MAX_FRAME};
extern "C" { fn microkit_dbg_puts(s: *const u8); }
#[no_mangle]
pub extern "C" fn notified(_ch: u32) {}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { loop {} }
`

// The console encodes a command and reads telemetry: the upper side.
const consolePD = pdPrelude + `
#[no_mangle]
pub extern "C" fn init() {
    let mut frame = [0u8; MAX_FRAME];
    let n = diode_upper::encode_command(&Command::Store(b"first"), 1, &mut frame).unwrap_or(0);
    if let Ok((_, Telemetry::Ledger { records, .. })) = diode_upper::decode_telemetry(black_box(&frame[..n])) {
        black_box(records);
    }
    unsafe { microkit_dbg_puts(b"console: command sent\n\0".as_ptr()) }
}
`

// The vault reads commands and writes telemetry: the lower side only.
const vaultPD = pdPrelude + `
#[no_mangle]
pub extern "C" fn init() {
    let mut frame = [0u8; MAX_FRAME];
    let input = black_box([0u8; 32]);
    let records = match diode_lower::decode_command(&input) { Ok((_, Command::Store(_))) => 1, _ => 0 };
    let n = diode_lower::encode_telemetry(&Telemetry::Ledger { records, head: [0; 32] }, 1, &mut frame).unwrap_or(0);
    black_box(&frame[..n]);
    unsafe { microkit_dbg_puts(b"vault: up\n\0".as_ptr()) }
}
`

// One call added to the vault that could send a command up.
var vaultThatCommands = strings.Replace(vaultPD, "    black_box(&frame[..n]);", "    black_box(&frame[..n]);\n    let m = diode_upper::encode_command(&Command::Status, 2, &mut frame).unwrap_or(0);\n    black_box(&frame[..m]);", 1)

const deploymentText = `name: NAME
description: a console and vaults, built from recipes beside this file
zones: [console, vault]
systems:
  - {name: console, recipe: console, board: qemu_virt_aarch64, zone: console, address: 10.0.2.1}
VAULTS
links:
  - {from: console, to: vault-1, carries: commands}
  - {from: vault-1, to: console, carries: telemetry}
absent:
  - zones: [vault]
    crates: [diode_upper]
    sections: [.diode.upper]
    why: a vault must not be able to command anything above it
`

func writeDeployment(t *testing.T, dir, name string, vaults int, recipe string) string {
	t.Helper()
	var lines []string
	for i := 1; i <= vaults; i++ {
		lines = append(lines, "  - {name: vault-"+string(rune('0'+i))+", recipe: "+recipe+", board: qemu_virt_aarch64, zone: vault, address: 10.0.2.1"+string(rune('0'+i))+"}")
	}
	text := strings.NewReplacer("NAME", name, "VAULTS", strings.Join(lines, "\n")).Replace(deploymentText)
	p := filepath.Join(dir, name+".yaml")
	os.WriteFile(p, []byte(text), 0o644)
	return p
}

// A deployment builds every system; the vaults' PDs hold none of the upper
// side's code; three vaults' PD ELFs are the one vault's, byte for byte.
// A vault that links one call of the command encoder fails the build,
// naming the system, the PD, the symbol and the rule's line.
func TestADeploymentBuildsAndTheDiodeIsCheckedDownToAbsentCode(t *testing.T) {
	if _, err := os.Stat("/usr/lib/rustlib/src/rust/library/vendor"); err != nil {
		t.Skip("no source of Rust's standard library (apt-get install rustc-web cargo-web rust-web-src)")
	}
	sdk := fakeSDK(t)
	dir := t.TempDir()
	familyRecipe(t, dir, "console", sdk, consolePD)
	familyRecipe(t, dir, "vault", sdk, vaultPD)
	familyRecipe(t, dir, "vault-commands", sdk, vaultThatCommands)
	cache, out := t.TempDir(), t.TempDir()
	build := func(file string) (string, string, int) {
		return plinth(t, "build", file, "--cache-dir", cache, "-o", out)
	}

	stdout, stderr, code := build(writeDeployment(t, dir, "minimum", 1, "vault"))
	if code != 0 || !strings.Contains(stdout, "deployment minimum: 2 systems built; the Diode's links checked, and its absent-code rules against 1 PD ELFs") {
		t.Fatalf("minimum: exit %d\n%s%s", code, stdout, stderr)
	}
	minimum := readDeploymentManifest(t, filepath.Join(out, "deployments", "minimum"))
	if _, stderr, code := build(writeDeployment(t, dir, "fleet", 3, "vault")); code != 0 {
		t.Fatalf("fleet: %s", stderr)
	}
	fleet := readDeploymentManifest(t, filepath.Join(out, "deployments", "fleet"))
	want := pdDigest(t, minimum, "vault-1")
	for _, v := range []string{"vault-1", "vault-2", "vault-3"} {
		if got := pdDigest(t, fleet, v); got != want {
			t.Errorf("fleet's %s PD is %s, minimum's vault's %s", v, got, want)
		}
	}
	if pdDigest(t, fleet, "console") != pdDigest(t, minimum, "console") {
		t.Error("the console's PD differs between the deployments")
	}

	file := writeDeployment(t, dir, "bad", 1, "vault-commands")
	_, stderr, code = build(file)
	for _, want := range []string{
		file + ":11:5: error: absent[0]: system vault-1 (zone vault): PD pd holds section .diode.upper, which this rule forbids in zone vault: a vault must not be able to command anything above it",
		file + ":11:5: error: absent[0]: system vault-1 (zone vault): PD pd holds symbol diode_upper::encode_command (_R",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("a vault that links the command encoder: exit %d, want %q\n%s", code, want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "deployments", "bad", "deployment.json")); err == nil {
		t.Error("a deployment that breaks the Diode got a manifest")
	}
}

func readDeploymentManifest(t *testing.T, dir string) deployment.Manifest {
	t.Helper()
	var m deployment.Manifest
	data, err := os.ReadFile(filepath.Join(dir, "deployment.json"))
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func pdDigest(t *testing.T, m deployment.Manifest, system string) string {
	t.Helper()
	for _, s := range m.Systems {
		if s.Name == system && len(s.PDs) == 1 {
			return s.PDs[0].SHA256
		}
	}
	t.Fatalf("%s has no system %s with one PD", m.Deployment, system)
	return ""
}

// plinth check and sdf graph take a deployment; a reversed link is refused
// with both systems' zone lines, and a system whose own description lets
// its lower zone notify its higher one is refused at the channel, before
// anything is built.
func TestADeploymentIsCheckedAndDrawn(t *testing.T) {
	sdk := fakeSDK(t)
	dir := t.TempDir()
	familyRecipe(t, dir, "console", sdk, consolePD)
	familyRecipe(t, dir, "vault", sdk, vaultPD)
	good := writeDeployment(t, dir, "minimum", 1, "vault")
	stdout, stderr, code := plinth(t, "check", good)
	if code != 0 || !strings.Contains(stdout, "minimum: ok: 2 systems in 2 zones, 2 links") || !strings.Contains(stdout, "system vault-1 (zone vault): vault for qemu_virt_aarch64/debug") {
		t.Errorf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	dot, stderr, code := plinth(t, "sdf", "graph", good, "--format", "dot")
	for _, want := range []string{`"system:console" -> "system:vault-1" [label="commands", style=solid]`, `"system:vault-1" -> "system:console" [label="telemetry", style=dashed]`, `zone vault (2 of 2, highest first)`} {
		if code != 0 || !strings.Contains(dot, want) {
			t.Errorf("sdf graph: exit %d, want %q\n%s%s", code, want, dot, stderr)
		}
	}

	reversed := filepath.Join(dir, "reversed.yaml")
	os.WriteFile(reversed, []byte(strings.Replace(mustReadString(t, good), "{from: console, to: vault-1, carries: commands}", "{from: vault-1, to: console, carries: commands}", 1)), 0o644)
	_, stderr, code = plinth(t, "build", reversed, "--cache-dir", t.TempDir(), "-o", t.TempDir())
	if want := reversed + ":8:5: error: links[0]: commands may only go down the zones, but this link sends them from vault-1 (zone vault, " + reversed + ":6:"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("a reversed link: exit %d, want %q\n%s", code, want, stderr)
	}

	// The vault's system description, in two zones of its own, with a
	// channel its lower PD may notify up through.
	sys := filepath.Join(dir, "vault", "app", "vault.system")
	os.WriteFile(sys, []byte(`<system>
<protection_domain name="vault" priority="100"><program_image path="pd.elf" /></protection_domain>
<protection_domain name="net" priority="90"><program_image path="pd.elf" /></protection_domain>
<channel><end pd="vault" id="1" /><end pd="net" id="1" /></channel>
</system>
`), 0o644)
	recipeFile := filepath.Join(dir, "vault", "recipe.yaml")
	os.WriteFile(recipeFile, []byte(mustReadString(t, recipeFile)+"policy:\n  zones:\n    - {name: vault, pds: [vault]}\n    - {name: public, pds: [net]}\n"), 0o644)
	_, stderr, code = plinth(t, "build", good, "--cache-dir", t.TempDir(), "-o", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "vault.system:4:") || !strings.Contains(stderr, "system vault-1: recipe vault has problems (above)") {
		t.Errorf("a channel up inside a system: exit %d\n%s", code, stderr)
	}
	t.Log(stderr)
}

func mustReadString(t *testing.T, path string) string { return string(mustRead(t, path)) }
