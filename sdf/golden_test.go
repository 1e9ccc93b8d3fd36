package sdf

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// targetForFixture is x86 for files named x86_*, AArch64 with four cores
// otherwise (one for the domain scheduler).
func targetForFixture(name string) Target {
	t := arm
	t.SearchPaths = []string{"testdata/prefill"}
	switch {
	case strings.HasPrefix(name, "x86_"):
		t = x86
	case strings.Contains(name, "domains"):
		t.Cores = 1
	default:
		t.Cores = 4
	}
	return t
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

func model(s *System) string {
	s.File = ""
	b, _ := json.Marshal(s)
	return string(b)
}

// Every valid fixture formats to its golden, and the canonical form parses
// back to the same system and is a fixed point; it draws to its golden SVG
// (well-formed XML) and DOT.
func TestFormatAndGraphEveryValidFixture(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.system")
	if len(files) < 5 {
		t.Fatalf("only %d valid fixtures", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".system")
		tg := targetForFixture(name)
		src, _ := os.ReadFile(f)
		var d diag.List
		s := Parse(f, src, tg, &d)
		if d.HasErrors() {
			t.Errorf("%s: %v", f, d.Items())
			continue
		}
		out := Format(s)
		golden(t, filepath.Join("testdata", "golden", name+".system"), out)

		var d2 diag.List
		s2 := Parse(f, out, tg, &d2)
		if d2.HasErrors() {
			t.Errorf("%s: the formatted form has errors: %v", name, d2.Items())
			continue
		}
		if string(Format(s2)) != string(out) {
			t.Errorf("%s: formatting is not a fixed point", name)
		}
		if model(s) != model(s2) {
			t.Errorf("%s: the formatted form parses to a different system:\n%s\n%s", name, model(s), model(s2))
		}

		svg := SVG(s, GraphOptions{})
		if err := xml.Unmarshal(svg, new(struct{})); err != nil {
			t.Errorf("%s: SVG is not well-formed: %v", name, err)
		}
		for _, pd := range s.AllPDs() {
			if !strings.Contains(string(svg), ">"+pd.Name+"<") {
				t.Errorf("%s: the picture lacks PD %s", name, pd.Name)
			}
		}
		golden(t, filepath.Join("testdata", "golden", name+".svg"), svg)
		golden(t, filepath.Join("testdata", "golden", name+".dot"), DOT(s, GraphOptions{}))
	}
}
