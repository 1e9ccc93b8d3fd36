package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What trying the fixes as an attacker found, each now refused or right.
func TestHolesFoundByTrying(t *testing.T) {
	sdk := fakeSDK(t)
	recipeText := func(extra string) string {
		return helloRecipe("tried", "d", "qemu_virt_aarch64", sdk) + extra
	}
	newDir := func(extra string) string {
		dir := t.TempDir()
		helloApp(t, dir)
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipeText(extra)), 0o644)
		return dir
	}

	// A relative cache directory works (the image step ran its tool by a
	// path relative to another directory).
	dir := newDir("")
	t.Chdir(dir)
	if out, stderr, code := plinth(t, "build", ".", "--cache-dir", "rel-cache", "-o", "rel-out"); code != 0 {
		t.Errorf("relative --cache-dir: exit %d\n%s%s", code, out, stderr)
	}

	// Steps cannot take the names of plinth's own steps and directories.
	dir = newDir("steps:\n  - {name: signatures, run: [\"true\"], outputs: []}\n  - {name: image, run: [\"true\"], outputs: []}\n")
	if _, stderr, code := plinth(t, "check", dir); code != 1 || strings.Count(stderr, "is a name plinth uses in every build directory") != 2 {
		t.Errorf("reserved step names: exit %d\n%s", code, stderr)
	}

	// A local source that holds the output directory is refused.
	dir = newDir("")
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(strings.Replace(recipeText(""), "app: {path: app}", "app: {path: .}", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "hello.c"), []byte("void init(void) {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hello.system"), []byte(`<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>`), 0o644)
	if _, stderr, code := plinth(t, "build", dir, "--cache-dir", t.TempDir(), "-o", filepath.Join(dir, "out")); code != 1 || !strings.Contains(stderr, "where this build writes: its outputs would become its inputs") {
		t.Errorf("path source holding the output: exit %d\n%s", code, stderr)
	}

	// A lock that is not this recipe's.
	dir = newDir("")
	os.WriteFile(filepath.Join(dir, "recipe.yaml.lock"), []byte(`{"recipe": "another", "sources": {"ghost": {"commit": "`+strings.Repeat("a", 40)+`"}, "app": {"sha256": "`+strings.Repeat("b", 64)+`"}}}`), 0o644)
	_, stderr, code := plinth(t, "check", dir)
	for _, want := range []string{`the lock is recipe "another"'s`, "sources.ghost: the lock pins a source the recipe does not have", "sources.app: the lock pins it as another kind of source"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("lock: exit %d, want %q\n%s", code, want, stderr)
		}
	}
	os.WriteFile(filepath.Join(dir, "recipe.yaml.lock"), []byte(`{"recipe": "tried", "sources": {}} trailing`), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, "text after the lock's JSON object") {
		t.Errorf("lock with trailing text: exit %d\n%s", code, stderr)
	}

	// A system description beside the recipe that links out of its
	// directory is refused.
	dir = newDir("")
	outside := filepath.Join(t.TempDir(), "outside.system")
	os.WriteFile(outside, []byte(`<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>`), 0o644)
	os.Symlink(outside, filepath.Join(dir, "linked.system"))
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(strings.Replace(recipeText(""), "system: {source: app, sdf: hello.system}", "system: {sdf: linked.system}", 1)), 0o644)
	if _, stderr, code := plinth(t, "build", dir, "--cache-dir", t.TempDir(), "-o", t.TempDir()); code != 1 || !strings.Contains(stderr, "outside the recipe's directory") {
		t.Errorf("linked system description: exit %d\n%s", code, stderr)
	}
}
