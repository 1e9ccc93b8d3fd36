// Package strictyaml decodes YAML into Go structs strictly and reports every
// problem with its file, line and column: unknown keys, wrong types, unknown
// enum values, missing required keys, duplicate keys, values that do not
// match a pattern. It also derives a JSON Schema from the same Go types, so
// the schema editors use and the decoder plinth uses cannot drift apart.
//
// Struct fields are described with tags:
//
//	yaml:"name"           the key (fields without a yaml tag, or with "-", are not decoded)
//	required:"true"       the key must be present
//	required:"concrete"   the key must be present unless the decoder is told the
//	                      document is a partial one (a base file others inherit from)
//	doc:"…"               the description written into the schema
//	pattern:"regexp"      a string must match; patterndoc names the expectation
//
// A field of type Meta receives the position of the mapping and of each key.
// A string type with a method Values() []string is an enumeration.
// A type implementing Unmarshaler decodes itself; with Schemer it describes itself.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pointsav/plinth/internal/diag"
	"go.yaml.in/yaml/v3"
)

// Meta records where a mapping, and each key in it, was written.
type Meta struct {
	Pos  diag.Pos
	keys map[string]diag.Pos
}

// At returns the position of key's value, or of the mapping when the key
// was not written. For a list, "key[i]" is the position of item i.
func (m Meta) At(key string) diag.Pos {
	if p, ok := m.keys[key]; ok {
		return p
	}
	return m.Pos
}

// Has reports whether key was written.
func (m Meta) Has(key string) bool {
	_, ok := m.keys[key]
	return ok
}

// Unmarshaler is implemented by types that decode themselves from a node.
// The returned error's text is reported at the node's position.
type Unmarshaler interface {
	UnmarshalStrict(n *yaml.Node) error
}

// Enum is implemented by string types whose values come from a fixed list.
type Enum interface {
	Values() []string
}

// Parse reads YAML text into a node tree. It returns the document's root
// node, or nil after reporting the problem to diags.
func Parse(file string, data []byte, diags *diag.List) *yaml.Node {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		diags.Errorf(syntaxPos(file, err), "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		diags.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, "the file is empty")
		return nil
	}
	// A second document would be silently ignored: refuse it.
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		diags.Errorf(diag.Pos{File: file, Line: max(line, 1), Col: 1}, "a second YAML document (after ---): plinth reads one document a file")
		return nil
	} else if !errors.Is(err, io.EOF) {
		diags.Errorf(syntaxPos(file, err), "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	return doc.Content[0]
}

var lineRe = regexp.MustCompile(`line (\d+)`)

func syntaxPos(file string, err error) diag.Pos {
	p := diag.Pos{File: file, Line: 1, Col: 1}
	if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	return p
}

// Decoder decodes node trees into Go values.
type Decoder struct {
	// File names the file of every node not in NodeFile.
	File string
	// NodeFile names the file of nodes that came from other files (a board
	// merged with the base files it inherits from).
	NodeFile map[*yaml.Node]string
	// Partial skips required:"concrete" checks.
	Partial bool
	// Diags receives every problem.
	Diags *diag.List
}

// Pos is the position of n.
func (d *Decoder) Pos(n *yaml.Node) diag.Pos {
	f := d.File
	if nf, ok := d.NodeFile[n]; ok {
		f = nf
	}
	return diag.Pos{File: f, Line: n.Line, Col: n.Column}
}

// Decode decodes n into the value v points to.
func (d *Decoder) Decode(n *yaml.Node, v any) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("strictyaml: Decode needs a non-nil pointer")
	}
	d.value(n, rv.Elem(), "")
}

var (
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
	metaType        = reflect.TypeFor[Meta]()
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// at prefixes a message with the path it is about ("kernel.options: …");
// messages about the document itself have no prefix.
func at(path, format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return msg
	}
	return path + ": " + msg
}

func (d *Decoder) value(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(Unmarshaler).UnmarshalStrict(n); err != nil {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "%v", err))
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// null leaves optional values unset; in board files it removes an
		// inherited key.
		if k := v.Kind(); k == reflect.Pointer || k == reflect.Slice || k == reflect.Map {
			return
		}
		d.Diags.Errorf(d.Pos(n), "%s", at(path, "has no value"))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		d.value(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.structValue(n, v, path)
	case reflect.Map:
		d.mapValue(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "must be a list, not %s", describe(n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "must be a string, not %s%s", describe(n), quoteHint(n)))
			return
		}
		if e, ok := v.Interface().(Enum); ok {
			if !slices.Contains(e.Values(), n.Value) {
				d.Diags.Errorf(d.Pos(n), "%s", at(path, "unknown value %q (expected one of: %s)", n.Value, strings.Join(e.Values(), ", ")))
				return
			}
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "must be true or false, not %s", describe(n)))
			return
		}
		v.SetBool(n.Value == "true")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := intOf(n, v.Type().Bits())
		if err != nil {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "%v", err))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := uintOf(n, v.Type().Bits())
		if err != nil {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "%v", err))
			return
		}
		v.SetUint(u)
	default:
		panic(fmt.Sprintf("strictyaml: unsupported type %s", v.Type()))
	}
}

// field describes one decodable struct field.
type field struct {
	index      int
	key        string
	required   string
	doc        string
	pattern    *regexp.Regexp
	patternDoc string
}

// fieldCache keeps fieldsOf's answer per type: decoding a struct would
// otherwise compile its patterns again for every value.
var fieldCache sync.Map // reflect.Type -> cachedFields

type cachedFields struct {
	fields []field
	meta   int
}

func fieldsOf(t reflect.Type) ([]field, int) {
	if c, ok := fieldCache.Load(t); ok {
		cf := c.(cachedFields)
		return cf.fields, cf.meta
	}
	fields, meta := computeFields(t)
	fieldCache.Store(t, cachedFields{fields, meta})
	return fields, meta
}

func computeFields(t reflect.Type) (fields []field, meta int) {
	meta = -1
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Type == metaType {
			meta = i
			continue
		}
		key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" || !sf.IsExported() {
			continue
		}
		f := field{index: i, key: key, required: sf.Tag.Get("required"), doc: sf.Tag.Get("doc"), patternDoc: sf.Tag.Get("patterndoc")}
		if p := sf.Tag.Get("pattern"); p != "" {
			f.pattern = regexp.MustCompile(p)
		}
		fields = append(fields, f)
	}
	return fields, meta
}

func (d *Decoder) structValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.Diags.Errorf(d.Pos(n), "%s", at(path, "must be a mapping of keys to values, not %s", describe(n)))
		return
	}
	fields, metaIdx := fieldsOf(v.Type())
	byKey := map[string]field{}
	var known []string
	for _, f := range fields {
		byKey[f.key] = f
		known = append(known, f.key)
	}
	meta := Meta{Pos: d.Pos(n), keys: map[string]diag.Pos{}}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.Diags.Errorf(d.Pos(k), "%s", at(path, "keys must be plain names (merge keys and complex keys are not supported)"))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.Diags.Errorf(d.Pos(k), "%s", at(path, "duplicate key %q (first given at %s)", k.Value, d.Pos(prev)))
			continue
		}
		seen[k.Value] = k
		f, ok := byKey[k.Value]
		if !ok {
			d.Diags.Errorf(d.Pos(k), "%s", at(path, "unknown key %q%s", k.Value, suggest(k.Value, known)))
			continue
		}
		meta.keys[k.Value] = d.Pos(val)
		if val.Kind == yaml.SequenceNode {
			for j, item := range val.Content {
				meta.keys[fmt.Sprintf("%s[%d]", k.Value, j)] = d.Pos(item)
			}
		}
		fv := v.Field(f.index)
		if f.required == "true" && val.Kind == yaml.ScalarNode && val.Tag == "!!null" {
			d.Diags.Errorf(d.Pos(val), "%s", at(join(path, f.key), "has no value"))
			continue
		}
		d.value(val, fv, join(path, f.key))
		if f.pattern != nil && fv.Kind() == reflect.String && fv.String() != "" && !f.pattern.MatchString(fv.String()) {
			want := f.patternDoc
			if want == "" {
				want = "a value matching " + f.pattern.String()
			}
			d.Diags.Errorf(d.Pos(val), "%s: %q is not %s", join(path, f.key), fv.String(), want)
		}
	}
	for _, f := range fields {
		if _, ok := seen[f.key]; ok {
			continue
		}
		if f.required == "true" || (f.required == "concrete" && !d.Partial) {
			d.Diags.Errorf(d.Pos(n), "%s", at(path, "missing required key %q", f.key))
		}
	}
	if metaIdx >= 0 {
		v.Field(metaIdx).Set(reflect.ValueOf(meta))
	}
}

func (d *Decoder) mapValue(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.Diags.Errorf(d.Pos(n), "%s", at(path, "must be a mapping, not %s", describe(n)))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		panic("strictyaml: map keys must be strings")
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.Diags.Errorf(d.Pos(k), "%s", at(path, "keys must be plain names"))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.Diags.Errorf(d.Pos(k), "%s", at(path, "duplicate key %q (first given at %s)", k.Value, d.Pos(prev)))
			continue
		}
		seen[k.Value] = k
		if et := v.Type().Elem(); val.Kind == yaml.ScalarNode && val.Tag == "!!null" && et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct {
			d.Diags.Errorf(d.Pos(val), "%s", at(join(path, k.Value), "has no value"))
			continue
		}
		key := reflect.New(v.Type().Key()).Elem()
		d.value(k, key, path)
		ev := reflect.New(v.Type().Elem()).Elem()
		d.value(val, ev, join(path, k.Value))
		m.SetMapIndex(key, ev)
	}
	v.Set(m)
}

func intOf(n *yaml.Node, bits int) (int64, error) {
	if n.Kind != yaml.ScalarNode || !(n.Tag == "!!int" || (n.Style == 0 && n.Tag == "!!str")) {
		return 0, fmt.Errorf("must be an integer, not %s%s", describe(n), quoteHint(n))
	}
	i, err := strconv.ParseInt(n.Value, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer that fits in %d bits", n.Value, bits)
	}
	return i, nil
}

func uintOf(n *yaml.Node, bits int) (uint64, error) {
	if n.Kind != yaml.ScalarNode || !(n.Tag == "!!int" || (n.Style == 0 && n.Tag == "!!str")) {
		return 0, fmt.Errorf("must be a non-negative integer, not %s%s", describe(n), quoteHint(n))
	}
	u, err := strconv.ParseUint(n.Value, 0, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer that fits in %d bits", n.Value, bits)
	}
	return u, nil
}

// describe names what a node holds, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int" || n.Tag == "!!bool") {
		return " (quote it if a string is meant)"
	}
	return ""
}

// suggest offers the closest known key when a key looks like a typo.
func suggest(key string, known []string) string {
	if best, ok := diag.Closest(key, known); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return fmt.Sprintf(" (known keys: %s)", strings.Join(sorted, ", "))
}
