package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Input that used to panic is a located diagnostic.
func TestInputThatPanickedIsADiagnostic(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(`name: demo
description: a source with no value
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  y: {path: src}
  x:
steps:
  - {name: s, sources: [y], run: ["true"], outputs: []}
`), 0o644)
	for _, verb := range []string{"check", "build", "lock"} {
		args := []string{verb, dir}
		if verb != "check" {
			args = append(args, "--cache-dir", t.TempDir())
		}
		_, stderr, code := plinth(t, args...)
		if code != 1 || !strings.Contains(stderr, "recipe.yaml:7:5: error: sources.x: has no value") {
			t.Errorf("%s: exit %d\n%s", verb, code, stderr)
		}
	}
	sys := filepath.Join(dir, "nested.system")
	os.WriteFile(sys, []byte(`<system>
  <protection_domain name="parent" priority="100">
    <program_image path="parent.elf" />
    <protection_domain priority="50">
      <program_image path="child.elf" />
    </protection_domain>
  </protection_domain>
</system>
`), 0o644)
	for _, format := range []string{"dot", "svg"} {
		_, stderr, code := plinth(t, "sdf", "graph", sys, "--format", format, "-o", filepath.Join(dir, "g."+format))
		if code != 1 || !strings.Contains(stderr, "nested.system:4:") {
			t.Errorf("graph --format %s: exit %d\n%s", format, code, stderr)
		}
	}
	// A second YAML document is refused, not ignored.
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte("name: demo\ndescription: d\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\nsources: {y: {path: src}}\nsteps:\n  - {name: s, sources: [y], run: [\"true\"], outputs: []}\n---\nname: other\n"), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, "recipe.yaml:9:1: error: a second YAML document") {
		t.Errorf("second document: exit %d\n%s", code, stderr)
	}
	// A required key given as null has no value.
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte("name: demo\ndescription: d\nboards: ~\nconfigs: [debug]\nsources: {y: {path: src}}\n"), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, "recipe.yaml:3:9: error: boards: has no value") {
		t.Errorf("boards: ~: exit %d\n%s", code, stderr)
	}
}

// Smaller wrong acceptances, each now right.
func TestSmallerWrongAcceptances(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	// boards as a scalar: one error, not two.
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte("name: demo\ndescription: d\nboards: qemu_virt_aarch64\nconfigs: [debug]\nsources: {y: {path: src}}\nsteps:\n  - {name: s, sources: [y], run: [\"true\"], outputs: []}\n"), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || strings.Count(stderr, "error:") != 1 || !strings.Contains(stderr, "recipe.yaml:3:9: error: boards: must be a list") {
		t.Errorf("boards as a scalar: exit %d\n%s", code, stderr)
	}
	// A mirror map without mirrors.
	for _, text := range []string{"mirrors: ~\n", "mirrors:\n", "mirrors: []\n"} {
		mirrors := filepath.Join(dir, "mirrors.yaml")
		os.WriteFile(mirrors, []byte(text), 0o644)
		if _, stderr, code := plinth(t, "build", "microkit-hello", "--board", "qemu_virt_aarch64", "--offline", "--mirror", mirrors, "--cache-dir", t.TempDir(), "-o", t.TempDir()); code != 1 || !strings.Contains(stderr, "mirrors.yaml:1:") {
			t.Errorf("%q: exit %d\n%s", text, code, stderr)
		}
	}
	// A system description with a UTF-8 byte-order mark is read; one whose
	// declaration claims UTF-16 is not.
	sys := `<?xml version="1.0" encoding="%s"?>
<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>
`
	bom := filepath.Join(dir, "bom.system")
	os.WriteFile(bom, []byte("\xef\xbb\xbf"+strings.Replace(sys, "%s", "UTF-8", 1)), 0o644)
	if out, stderr, code := plinth(t, "sdf", "check", bom, "--board", "qemu_virt_aarch64"); code != 0 {
		t.Errorf("BOM: exit %d\n%s%s", code, out, stderr)
	}
	u16 := filepath.Join(dir, "u16.system")
	os.WriteFile(u16, []byte(strings.Replace(sys, "%s", "UTF-16", 1)), 0o644)
	if _, stderr, code := plinth(t, "sdf", "check", u16, "--board", "qemu_virt_aarch64"); code != 1 || !strings.Contains(stderr, `u16.system:1:30: error: the XML declaration says encoding "UTF-16"`) {
		t.Errorf("UTF-16: exit %d\n%s", code, stderr)
	}
}
