package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build --json: every step event says which recipe, board and
// configuration it is of (two boards in one build are told apart), and
// each build's finish gives its directory and its image's digest.
func TestBuildEventsSayWhichBuild(t *testing.T) {
	sdk := fakeSDK(t)
	boardsDir, dir := labBoard(t, sdk), t.TempDir()
	helloApp(t, dir)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(helloRecipe("two-boards", "hello on two boards", "qemu_virt_aarch64, lab", sdk)), 0o644)
	out := t.TempDir()
	stdout, stderr, code := plinth(t, "build", dir, "--boards-dir", boardsDir, "--cache-dir", t.TempDir(), "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	starts := map[string]int{}
	finishes := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev struct {
			Kind, Step, Recipe, Board, Config, Dir string
			Image                                  string `json:"image_sha256"`
		}
		json.Unmarshal(sc.Bytes(), &ev)
		switch ev.Kind {
		case "start":
			if ev.Recipe != "two-boards" || ev.Config != "debug" {
				t.Errorf("a start without its build: %s", sc.Text())
			}
			starts[ev.Board]++
		case "finish":
			if ev.Dir != filepath.Join(out, "two-boards", ev.Board, "debug") || len(ev.Image) != 64 {
				t.Errorf("finish: %s", sc.Text())
			}
			finishes[ev.Board] = ev.Image
		}
	}
	if starts["qemu_virt_aarch64"] != 2 || starts["lab"] != 2 || len(finishes) != 2 {
		t.Errorf("starts %v, finishes %v", starts, finishes)
	}
}
