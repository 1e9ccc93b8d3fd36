package strictyaml

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Schemer is implemented by types that describe their own JSON Schema.
type Schemer interface {
	JSONSchema() map[string]any
}

var schemerType = reflect.TypeFor[Schemer]()

// Schema returns a JSON Schema (draft 2020-12) for the YAML documents that
// decode into root, indented and ending in a newline. Named struct types
// become $defs. Keys marked required:"concrete" are required only when the
// document does not match the schema partial (a base file, or a file that
// inherits its facts); a nil partial leaves them unrequired.
func Schema(root reflect.Type, id, title string, partial map[string]any) ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	top := g.object(root, partial)
	top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	top["$id"] = id
	top["title"] = title
	if len(g.defs) > 0 {
		top["$defs"] = g.defs
	}
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type schemaGen struct {
	defs map[string]any
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	if t.Implements(schemerType) {
		return reflect.Zero(t).Interface().(Schemer).JSONSchema()
	}
	if reflect.PointerTo(t).Implements(schemerType) {
		return reflect.New(t).Interface().(Schemer).JSONSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Struct:
		name := t.Name()
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = true // placeholder against recursion
			g.defs[name] = g.object(t, nil)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem()), "propertyNames": g.of(t.Key())}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if e, ok := reflect.Zero(t).Interface().(Enum); ok {
			s["enum"] = e.Values()
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	}
	panic("strictyaml: no schema for " + t.String())
}

func (g *schemaGen) object(t reflect.Type, partial map[string]any) map[string]any {
	fields, _ := fieldsOf(t)
	props := map[string]any{}
	var required, concrete []string
	for _, f := range fields {
		sf := t.Field(f.index)
		p := g.of(sf.Type)
		if k := sf.Type.Kind(); k == reflect.Pointer || k == reflect.Slice || k == reflect.Map {
			// The decoder takes null as "not given" (in board files it
			// removes an inherited key).
			p = map[string]any{"anyOf": []any{p, map[string]any{"type": "null"}}}
		}
		if f.doc != "" || f.pattern != nil {
			// Copy so a shared $defs entry is not annotated with this field's text.
			c := map[string]any{}
			for k, v := range p {
				c[k] = v
			}
			if f.doc != "" {
				c["description"] = f.doc
			}
			if f.pattern != nil {
				c["pattern"] = f.pattern.String()
			}
			p = c
		}
		props[f.key] = p
		switch f.required {
		case "true":
			required = append(required, f.key)
		case "concrete":
			concrete = append(concrete, f.key)
		}
	}
	s := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if doc := strings.TrimSpace(docOf(t)); doc != "" {
		s["description"] = doc
	}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(concrete) > 0 && partial != nil {
		s["if"] = partial
		s["else"] = map[string]any{"required": concrete}
	}
	return s
}

// docOf returns a type's own description, from a Doc() string method.
func docOf(t reflect.Type) string {
	type documented interface{ Doc() string }
	if d, ok := reflect.Zero(t).Interface().(documented); ok {
		return d.Doc()
	}
	return ""
}
