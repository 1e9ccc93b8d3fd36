package cli

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sdfTestdata = "../../sdf/testdata/"

func TestSDFCheck(t *testing.T) {
	out, stderr, code := plinth(t, "sdf", "check", sdfTestdata+"valid/vm_and_children.system", "--board", "qemu_virt_aarch64", "--microkit", "2.3.0", "--config", "smp-debug", "--search-path", sdfTestdata+"prefill")
	if code != 0 || !strings.Contains(out, "ok (4 protection domains, 2 channels, 4 memory regions; qemu_virt_aarch64 smp-debug, Microkit 2.3.0)") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	// On one core (debug), the vcpu and PD cores beyond 0 are errors; as
	// Microkit 2.0.1, the 2.3 attributes are.
	_, stderr, code = plinth(t, "sdf", "check", sdfTestdata+"valid/vm_and_children.system", "--board", "qemu_virt_aarch64", "--microkit", "2.0.1")
	for _, want := range []string{"invalid attribute 'fpu' (it needs Microkit 2.3.0 (this system is checked as 2.0.1))", "Invalid XML element 'cspace'", "invalid attribute 'prefill_path'"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("as 2.0.1: exit %d, lacks %q:\n%s", code, want, stderr)
		}
	}
	// Without --microkit, the newest version the board's shipped recipes
	// use (qemu_virt_aarch64's: 2.0.1, 2.1.0 and 2.3.1), said.
	out, stderr, code = plinth(t, "sdf", "check", sdfTestdata+"valid/vm_and_children.system", "--board", "qemu_virt_aarch64", "--config", "smp-debug", "--search-path", sdfTestdata+"prefill")
	if code != 0 || !strings.Contains(stderr, "checking against Microkit 2.3.1, the newest of board qemu_virt_aarch64's shipped recipes (2.0.1, 2.1.0, 2.3.1)") || !strings.Contains(out, "Microkit 2.3.1)") {
		t.Errorf("default version: exit %d\n%s%s", code, out, stderr)
	}
	// A board Microkit added later is not there in an earlier version, as
	// plinth check says too.
	_, stderr, code = plinth(t, "sdf", "check", sdfTestdata+"valid/simple.system", "--board", "qemu_virt_aarch64_el1", "--microkit", "2.0.1")
	if code != 1 || !strings.Contains(stderr, "qemu_virt_aarch64_el1 needs Microkit 2.3.0 or later") {
		t.Errorf("a board too new: exit %d\n%s", code, stderr)
	}
	// The board's kernel decides: the EL1 QEMU board has no hypervisor.
	_, stderr, code = plinth(t, "sdf", "check", sdfTestdata+"valid/vm_and_children.system", "--board", "qemu_virt_aarch64_el1", "--config", "smp-debug", "--search-path", sdfTestdata+"prefill")
	if code != 1 || !strings.Contains(stderr, "seL4 has not been built as a hypervisor") {
		t.Errorf("el1: exit %d\n%s", code, stderr)
	}
	out, _, code = plinth(t, "sdf", "check", sdfTestdata+"valid/x86_devices.system", "--board", "x86_64_generic", "--json")
	if code != 0 || !strings.Contains(out, `"ok": true`) {
		t.Errorf("x86 --json: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"sdf", "check", sdfTestdata + "valid/simple.system"},
		{"sdf", "check"},
		{"sdf", "graph", sdfTestdata + "valid/simple.system", "--format", "jpeg"},
	} {
		if _, _, code := plinth(t, args...); code != 2 {
			t.Errorf("plinth %q: exit %d, want 2", args, code)
		}
	}
}

func TestSDFPolicy(t *testing.T) {
	_, stderr, code := plinth(t, "sdf", "check", sdfTestdata+"valid/legal_diode.system", "--board", "qemu_virt_aarch64", "--microkit", "2.3.0", "--policy", sdfTestdata+"diode.policy.yaml")
	if code != 0 {
		t.Errorf("a legal diode: exit %d\n%s", code, stderr)
	}
	// diode.system's net (public) calls the timer (vault) and may notify it.
	pol := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(pol, []byte("zones:\n  - name: command\n    pds: [console]\n  - name: vault\n    pds: [vault, timer]\n  - name: public\n    pds: [net, net_driver]\ntelemetry: [vault_telemetry, net_telemetry]\n"), 0o644)
	_, stderr, code = plinth(t, "sdf", "check", sdfTestdata+"valid/diode.system", "--board", "qemu_virt_aarch64", "--microkit", "2.3.0", "--policy", pol)
	if code != 1 || strings.Count(stderr, "policy:") != 2 || !strings.Contains(stderr, "'net' (zone public) may make protected calls into 'timer' (zone vault)") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestSDFFmt(t *testing.T) {
	want, _ := os.ReadFile(sdfTestdata + "golden/vm_and_children.system")
	out, _, code := plinth(t, "sdf", "fmt", sdfTestdata+"valid/vm_and_children.system", "--search-path", sdfTestdata+"prefill")
	if code != 0 || out != string(want) {
		t.Errorf("exit %d\n%s", code, out)
	}
	// -w rewrites in place and leaves no temporary file behind.
	dir := t.TempDir()
	file := filepath.Join(dir, "s.system")
	src, _ := os.ReadFile(sdfTestdata + "valid/simple.system")
	os.WriteFile(file, src, 0o600)
	if _, stderr, code := plinth(t, "sdf", "fmt", "-w", file); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(file)
	gold, _ := os.ReadFile(sdfTestdata + "golden/simple.system")
	entries, _ := os.ReadDir(dir)
	info, _ := os.Stat(file)
	if string(got) != string(gold) || len(entries) != 1 || info.Mode().Perm() != 0o600 {
		t.Errorf("fmt -w: %d files, mode %v:\n%s", len(entries), info.Mode(), got)
	}
	// A file with errors is left alone.
	bad := filepath.Join(dir, "bad.system")
	os.WriteFile(bad, []byte("<system><protection_domain name=\"a\" priority=\"999\"><program_image path=\"a.elf\"/></protection_domain></system>"), 0o644)
	before, _ := os.ReadFile(bad)
	_, stderr, code := plinth(t, "sdf", "fmt", "-w", bad)
	after, _ := os.ReadFile(bad)
	if code != 1 || string(before) != string(after) || !strings.Contains(stderr, "priority must be between 0 and 254") {
		t.Errorf("fmt -w of a bad file: exit %d, changed %v\n%s", code, string(before) != string(after), stderr)
	}
}

func TestSDFGraph(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "system.svg")
	if _, stderr, code := plinth(t, "sdf", "graph", sdfTestdata+"valid/legal_diode.system", "-o", svg, "--policy", sdfTestdata+"diode.policy.yaml"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(svg)
	if err := xml.Unmarshal(data, new(struct{})); err != nil || !strings.Contains(string(data), ">command<") || !strings.Contains(string(data), ">vault<") {
		t.Errorf("not an SVG with the zones drawn: %v", err)
	}
	out, _, code := plinth(t, "sdf", "graph", sdfTestdata+"valid/legal_diode.system", "--format", "dot")
	if code != 0 || !strings.HasPrefix(out, "digraph system {") || !strings.Contains(out, `"net" -> "timer" [color="#1f5fbf"`) {
		t.Errorf("dot: exit %d\n%s", code, out)
	}
}
