package strictyaml

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

type color string

func (color) Values() []string { return []string{"red", "green"} }

type inner struct {
	Meta  Meta
	Size  uint64 `yaml:"size" required:"true"`
	Color color  `yaml:"color"`
}

type doc struct {
	Meta   Meta
	Name   string            `yaml:"name" required:"true" pattern:"^[a-z]+$" patterndoc:"lower-case letters"`
	Count  int               `yaml:"count"`
	On     bool              `yaml:"on"`
	Tags   []string          `yaml:"tags"`
	Inner  *inner            `yaml:"inner"`
	Parts  map[string]inner  `yaml:"parts"`
	Labels map[string]string `yaml:"labels"`
	Must   string            `yaml:"must" required:"concrete"`
}

func decode(t *testing.T, text string, partial bool) (doc, []string) {
	t.Helper()
	var d diag.List
	var v doc
	if root := Parse("f.yaml", []byte(text), &d); root != nil {
		(&Decoder{File: "f.yaml", Diags: &d, Partial: partial}).Decode(root, &v)
	}
	var out []string
	for _, x := range d.Items() {
		out = append(out, x.String())
	}
	return v, out
}

func TestDecodeGood(t *testing.T) {
	v, diags := decode(t, `
name: abc
count: 0x10
on: true
tags: [a, b]
inner: {size: 4096, color: red}
parts:
  p1: {size: 1}
labels: &l {x: y}
must: yes-it-is
`, false)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if v.Name != "abc" || v.Count != 16 || !v.On || len(v.Tags) != 2 || v.Inner.Size != 4096 || v.Parts["p1"].Size != 1 || v.Labels["x"] != "y" {
		t.Errorf("%+v", v)
	}
	if p := v.Meta.At("count"); p.Line != 3 || p.Col != 8 {
		t.Errorf("count at %v", p)
	}
	if p := v.Meta.At("tags[1]"); p.Line != 5 || p.Col != 11 {
		t.Errorf("tags[1] at %v", p)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	_, diags := decode(t, `name: ABC
count: "3"
on: yes please
tags: a
inner: {size: -1, colour: blue}
parts:
  p1: {color: blue}
name: again
extra: 1
`, false)
	want := []string{
		`f.yaml:1:7: error: name: "ABC" is not lower-case letters`,
		`f.yaml:2:8: error: count: must be an integer, not the string "3"`,
		`f.yaml:3:5: error: on: must be true or false, not the string "yes please"`,
		`f.yaml:4:7: error: tags: must be a list, not the string "a"`,
		`f.yaml:5:15: error: inner.size: "-1" is not a non-negative integer that fits in 64 bits`,
		`f.yaml:5:19: error: inner: unknown key "colour" (did you mean "color"?)`,
		`f.yaml:7:7: error: parts.p1: missing required key "size"`,
		`f.yaml:7:15: error: parts.p1.color: unknown value "blue" (expected one of: red, green)`,
		`f.yaml:8:1: error: duplicate key "name" (first given at f.yaml:1:1)`,
		`f.yaml:9:1: error: unknown key "extra" (known keys: count, inner, labels, must, name, on, parts, tags)`,
		`f.yaml:1:1: error: missing required key "must"`,
	}
	for _, w := range want {
		found := false
		for _, d := range diags {
			found = found || d == w
		}
		if !found {
			t.Errorf("missing diagnostic %s\ngot:\n%s", w, strings.Join(diags, "\n"))
		}
	}
	if len(diags) != len(want) {
		t.Errorf("got %d diagnostics, want %d:\n%s", len(diags), len(want), strings.Join(diags, "\n"))
	}
}

func TestPartialSkipsConcreteRequirements(t *testing.T) {
	if _, diags := decode(t, "name: abc\n", true); len(diags) != 0 {
		t.Errorf("partial: %v", diags)
	}
	if _, diags := decode(t, "name: abc\n", false); len(diags) != 1 {
		t.Errorf("concrete: %v", diags)
	}
}

func TestSyntaxErrorHasALine(t *testing.T) {
	_, diags := decode(t, "name: abc\n  - x: [\n", false)
	if len(diags) != 1 || !strings.HasPrefix(diags[0], "f.yaml:2:") {
		t.Errorf("%v", diags)
	}
	_, diags = decode(t, "", false)
	if len(diags) != 1 || !strings.Contains(diags[0], "empty") {
		t.Errorf("%v", diags)
	}
}

func TestSchemaDescribesTheTypes(t *testing.T) {
	b, err := Schema(reflect.TypeFor[doc](), "id", "t", map[string]any{"required": []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"enum": [`, `"pattern": "^[a-z]+$"`, `"additionalProperties": false`, `"else": {`, `"$ref": "#/$defs/inner"`} {
		if !strings.Contains(s, want) {
			t.Errorf("schema lacks %s:\n%s", want, s)
		}
	}
}

// Arbitrary input never panics the decoder.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("name: abc\ninner: {size: 1}\nparts: {a: {size: 2}}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		decode(t, string(data), false)
	})
}
