package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/attest"
)

// reproduce builds text once, then verifies it reproduces.
func reproduceRecipe(t *testing.T, text string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	cache, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)
	r, b := checkedRecipe(t, text, dir)
	opt := Options{Cache: cache, Fetcher: fetcher, Jobs: 2, OutRoot: filepath.Join(dir, "out"), Version: "test"}
	res, err := Build(context.Background(), r, b, "debug", opt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Reproduce(context.Background(), r, b, "debug", opt, res)
	return filepath.Join(dir, "out", r.Name, b.Name, "debug"), err
}

// A C program compiled with debug info, linked, and packed with its data
// reproduces: the second build's directory, umask, time zone, locale and
// PATH order do not reach the bytes.
func TestVerifyReproSaysIdentical(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	if _, err := reproduceRecipe(t, f.recipeText); err != nil {
		t.Fatalf("the fixture does not reproduce: %v", err)
	}
}

// A step that writes the time is named, with the file that differs.
func TestVerifyReproNamesTheStepThatDiffers(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	text := f.recipeText + `  - name: stamp
    needs: [link]
    run: [sh, -c, "date +%s%N > out/when.txt"]
    tools: [date]
    outputs: [when.txt]
  - name: after
    needs: [stamp]
    run: [cp, in/stamp/when.txt, out/copy.txt]
    outputs: [copy.txt]
`
	dir1, err := reproduceRecipe(t, text)
	var m *Mismatch
	if !errors.As(err, &m) {
		t.Fatalf("want a mismatch, got %v", err)
	}
	if m.Step != "stamp" || strings.Join(m.Files, ",") != "stamp/when.txt" {
		t.Errorf("mismatch in step %q, files %v; want stamp, stamp/when.txt (the first step that differs, not the one after it)", m.Step, m.Files)
	}
	if !strings.Contains(err.Error(), "not reproducible: step stamp") {
		t.Errorf("message: %v", err)
	}
	if _, err := exec.LookPath("diffoscope"); err == nil {
		report, _ := os.ReadFile(filepath.Join(dir1, "logs", "repro-diffoscope.txt"))
		if m.Diffoscope == "" || !strings.Contains(string(report), "when.txt") {
			t.Errorf("diffoscope's report %q: %q", m.Diffoscope, report)
		}
	}
}

// When both builds agree, the manifest and the provenance record both.
func TestVerifyReproRecordsBothBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	m := attest.Manifest{Image: &attest.ManifestFile{Path: "image/x.img", SHA256: strings.Repeat("a", 64)}}
	data, _ := attest.Canonical(m)
	os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o644)
	dir2 := t.TempDir()
	m2 := m
	m2.Image = &attest.ManifestFile{Path: "image/x.img", SHA256: strings.Repeat("a", 64)}
	data2, _ := attest.Canonical(m2)
	os.WriteFile(filepath.Join(dir2, "manifest.json"), data2, 0o644)
	if err := recordReproduction(dir, dir2, ReproOptions{Umask: 0o027, TZ: "Pacific/Chatham", Lang: "C.UTF-8"}); err != nil {
		t.Fatal(err)
	}
	var got attest.Manifest
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	json.Unmarshal(b, &got)
	if got.Reproduced == nil || got.Reproduced.FirstManifest != sha256Hex(data) || got.Reproduced.SecondManifest != sha256Hex(data2) {
		t.Fatalf("manifest records %+v", got.Reproduced)
	}
	prov, _ := os.ReadFile(filepath.Join(dir, "provenance.intoto.json"))
	for _, want := range []string{"reproduction/build-1/manifest.json", "reproduction/build-2/manifest.json", sha256Hex(data2)} {
		if !strings.Contains(string(prov), want) {
			t.Errorf("provenance lacks %s", want)
		}
	}
}
