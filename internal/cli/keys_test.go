package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Editing any input of a build reruns exactly the steps that read it: the
// system description beside the recipe, a C file, recipe fields, a board
// fact, the Microkit tool, the C compiler. (Steps are keyed by their
// dependencies' output digests, so a step whose inputs' bytes did not
// change is a hit.)
func TestEachInputRerunsExactlyTheStepsThatReadIt(t *testing.T) {
	sdk := fakeSDK(t)
	realGCC, err := exec.LookPath("aarch64-linux-gnu-gcc")
	if err != nil {
		t.Skip("no aarch64-linux-gnu-gcc")
	}
	// The C compiler, found first on PATH: a wrapper the test can change.
	bin := t.TempDir()
	gcc := filepath.Join(bin, "aarch64-linux-gnu-gcc")
	writeGCC := func(comment string) {
		os.WriteFile(gcc, []byte("#!/bin/sh\n# "+comment+"\nexec "+realGCC+" \"$@\"\n"), 0o755)
	}
	writeGCC("one")
	realLD, _ := exec.LookPath("aarch64-linux-gnu-ld")
	os.Symlink(realLD, filepath.Join(bin, "aarch64-linux-gnu-ld"))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	dir, boardsDir := t.TempDir(), t.TempDir()
	board, _ := os.ReadFile("../../boards/qemu_virt_aarch64.yaml")
	writeBoard := func(cpu string) {
		text := strings.Replace(string(board), "cpu: cortex-a53", "cpu: "+cpu, 1)
		if !strings.Contains(text, "cpu: "+cpu) {
			t.Fatal("the board file names no cpu: cortex-a53")
		}
		os.WriteFile(filepath.Join(boardsDir, "qemu_virt_aarch64.yaml"), []byte(text), 0o644)
	}
	writeBoard("cortex-a53")
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	writeC := func(msg string) {
		os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte("#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\""+msg+"\\n\"); }\n"), 0o644)
	}
	writeC("hi")
	writeSDF := func(attrs string) {
		os.WriteFile(filepath.Join(dir, "hello.system"), []byte(`<system><protection_domain name="hello" `+attrs+`><program_image path="hello.elf" /></protection_domain></system>`), 0o644)
	}
	writeSDF("")
	writeRecipe := func(description, cflags string) {
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(fmt.Sprintf(`name: keys
description: %s
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  app: {path: app}
sdk: {version: 2.0.1, path: %s}
components:
  - {name: hello, lang: c, source: app, srcs: [hello.c], cflags: [-mgeneral-regs-only%s]}
system: {sdf: hello.system}
`, description, sdk, cflags)), 0o644)
	}
	writeRecipe("keys", "")
	tool := filepath.Join(sdk, "bin", "microkit")
	cache, out := t.TempDir(), t.TempDir()
	ran := func() string {
		t.Helper()
		stdout, stderr, code := plinth(t, "build", dir, "--boards-dir", boardsDir, "--cache-dir", cache, "-o", out, "--json")
		if code != 0 {
			t.Fatalf("build: exit %d\n%s%s", code, stdout, stderr)
		}
		var steps []string
		sc := bufio.NewScanner(strings.NewReader(stdout))
		for sc.Scan() {
			var ev struct{ Kind, Step string }
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Kind == "start" {
				steps = append(steps, ev.Step)
			}
		}
		slices.Sort(steps)
		return strings.Join(steps, ",")
	}
	if got := ran(); got != "image,pd-hello" {
		t.Fatalf("first build ran %q", got)
	}
	for _, c := range []struct {
		edit string
		do   func()
		want string
	}{
		{"nothing", func() {}, ""},
		{"the system description beside the recipe", func() { writeSDF(`priority="100"`) }, "image"},
		{"a C file", func() { writeC("hello") }, "image,pd-hello"},
		{"the recipe's cflags", func() { writeRecipe("keys", ", -O1") }, "image,pd-hello"},
		{"the recipe's description (no step reads it)", func() { writeRecipe("keys, described again", ", -O1") }, ""},
		{"the board's CPU", func() { writeBoard("cortex-a57") }, "image,pd-hello"},
		{"the Microkit tool", func() {
			b, _ := os.ReadFile(tool)
			os.WriteFile(tool, append(b, []byte("# edited\n")...), 0o755)
		}, "image"},
		{"the C compiler (same output)", func() { writeGCC("two") }, "pd-hello"},
	} {
		c.do()
		if got := ran(); got != c.want {
			t.Errorf("after editing %s: ran %q, want %q", c.edit, got, c.want)
		}
	}
}
