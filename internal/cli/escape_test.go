package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/testrepo"
)

// Every recipe field and lock value that becomes a path is checked where it
// is written: a located error, and neither check nor build writes anything
// outside the output and cache directories.
func TestNamesThatWouldEscapeAreRefused(t *testing.T) {
	cases := []struct {
		name, recipe, lock, want string
	}{
		{"source name", `sources:
  "../../../escape-src": {path: app}
steps:
  - {name: s, sources: ["../../../escape-src"], run: [cp, "{src:../../../escape-src}/a.txt", "{out}/a.txt"], outputs: [a.txt]}
`, "", `recipe.yaml:6:26: error: sources.../../../escape-src: the source's name becomes a directory name: "../../../escape-src" holds a path separator`},
		{"component output", `sources:
  app: {path: app}
sdk: {version: 2.0.1, path: /nonexistent}
components:
  - {name: hello, lang: c, source: app, srcs: [a.c], output: ../../../../escape.elf}
`, "", `recipe.yaml:9:62: error: components[0].output: "../../../../escape.elf" holds a path separator`},
		{"system description outside", `sources:
  app: {path: app}
sdk: {version: 2.0.1, path: /nonexistent}
system: {sdf: ../outside.system}
`, "", `recipe.yaml:8:15: error: system.sdf: "../outside.system" climbs out of its tree with ..`},
		{"step output", `sources:
  app: {path: app}
steps:
  - {name: s, sources: [app], run: [cp, "{src:app}/a.txt", "{out}/../../../escape.txt"], outputs: [../../../escape.txt]}
`, "", `error: steps[0].outputs[0]: "../../../escape.txt" climbs out of its tree with ..`},
		{"lock sha256 that is a path", `sources:
  blob: {archive: "file:///nonexistent/a.tar"}
steps:
  - {name: s, sources: [blob], run: ["true"], outputs: []}
`, `{"recipe": "escape", "sources": {"blob": {"archive": "file:///nonexistent/a.tar", "sha256": "../../unverified.tar"}}}`, `recipe.yaml.lock:1:1: error: sources.blob.sha256: "../../unverified.tar" is not 64 hex digits`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "a", "b", "c")
			os.MkdirAll(filepath.Join(dir, "app"), 0o755)
			os.WriteFile(filepath.Join(dir, "app", "a.txt"), []byte("a\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "app", "a.c"), []byte("void init(void){}\n"), 0o644)
			os.WriteFile(filepath.Join(top, "a", "b", "outside.system"), []byte("<system/>\n"), 0o644)
			text := "name: escape\ndescription: names that would escape\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\n" + c.recipe
			os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(text), 0o644)
			if c.lock != "" {
				os.WriteFile(filepath.Join(dir, "recipe.yaml.lock"), []byte(c.lock), 0o644)
			}
			before := testrepo.Paths(top)
			_, stderr, code := plinth(t, "check", filepath.Join(dir, "recipe.yaml"))
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("check: exit %d, want %q in\n%s", code, c.want, stderr)
			}
			out, cache := filepath.Join(dir, "out"), filepath.Join(dir, "cache")
			_, stderr, code = plinth(t, "build", filepath.Join(dir, "recipe.yaml"), "--offline", "-o", out, "--cache-dir", cache)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("build: exit %d, want %q in\n%s", code, c.want, stderr)
			}
			for p := range testrepo.Paths(top) {
				if !before[p] && !strings.HasPrefix(p, out) && !strings.HasPrefix(p, cache) {
					t.Errorf("%s appeared outside the output and cache directories", p)
				}
			}
		})
	}
}

// check reads RECIPE.lock as build does: a source pinned only there is
// pinned.
func TestCheckReadsTheLock(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	text := `name: locked
description: pinned by its lock
boards: [qemu_virt_aarch64]
configs: [debug]
sources:
  up: {git: https://example.org/up.git, ref: main}
steps:
  - {name: s, sources: [up], run: ["true"], outputs: []}
`
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(text), 0o644)
	if _, stderr, code := plinth(t, "check", dir); code != 1 || !strings.Contains(stderr, "not pinned") {
		t.Fatalf("without a lock: exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "recipe.yaml.lock"), []byte(`{"recipe": "locked", "sources": {"up": {"git": "https://example.org/up.git", "ref": "main", "commit": "`+strings.Repeat("a", 40)+`", "date": "2026-12-03"}}}`), 0o644)
	if out, stderr, code := plinth(t, "check", dir); code != 0 {
		t.Errorf("with a lock: exit %d\n%s%s", code, out, stderr)
	}
}
