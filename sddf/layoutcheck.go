package sddf

import (
	"fmt"
	"strings"
)

// LayoutAsserts is a C file that compiles only if the C compiler lays out
// every config as plinth encodes it: sizeof each struct, and offsetof every
// member (for arrays, their first two elements, which fixes the stride),
// checked with _Static_assert: against the sDDF headers it includes, or,
// without them, against declarations placed before it (CDecls).
func LayoutAsserts(configs []Config, includeHeaders bool) string {
	var b strings.Builder
	b.WriteString("#include <stddef.h>\n#include <stdint.h>\n#include <stdbool.h>\n")
	seen := map[string]bool{}
	for _, c := range configs {
		if includeHeaders && !seen[c.Header] {
			fmt.Fprintf(&b, "#include <%s>\n", c.Header)
			seen[c.Header] = true
		}
	}
	for _, c := range configs {
		s := c.Struct
		fmt.Fprintf(&b, "_Static_assert(sizeof(%s) == %d, \"sizeof(%s) is not %d\");\n", s.Name, s.Size(), s.Name, s.Size())
		walkMembers(s, "", 0, func(path string, off uint64) {
			fmt.Fprintf(&b, "_Static_assert(offsetof(%s, %s) == %d, \"%s.%s is not at %d\");\n", s.Name, path, off, s.Name, path, off)
		})
	}
	return b.String()
}

func walkMembers(s *Struct, prefix string, base uint64, visit func(path string, off uint64)) {
	for i, off := range s.Offsets() {
		f := s.Fields[i]
		walkType(f.Type, prefix+f.Name, base+off, visit)
	}
}

func walkType(t CType, path string, off uint64, visit func(string, uint64)) {
	visit(path, off)
	switch t := t.(type) {
	case *Struct:
		walkMembers(t, path+".", off, visit)
	case Array:
		for i := uint64(0); i < min(t.Len, 2); i++ {
			walkType(t.Elem, fmt.Sprintf("%s[%d]", path, i), off+i*t.Elem.Size(), visit)
		}
	}
}

// CDecls declares the configs' structs in C as plinth models them, so a
// compiler can check plinth's layout arithmetic without sDDF's headers.
func CDecls(configs []Config) string {
	var b strings.Builder
	b.WriteString("#include <stdint.h>\n#include <stdbool.h>\n")
	done := map[string]bool{}
	var declare func(s *Struct)
	declare = func(s *Struct) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		for _, f := range s.Fields {
			if inner := structOf(f.Type); inner != nil {
				declare(inner)
			}
		}
		fmt.Fprintf(&b, "typedef struct {\n")
		for _, f := range s.Fields {
			switch t := f.Type.(type) {
			case Array:
				fmt.Fprintf(&b, "    %s %s[%d];\n", t.Elem.C(), f.Name, t.Len)
			default:
				fmt.Fprintf(&b, "    %s %s;\n", t.C(), f.Name)
			}
		}
		fmt.Fprintf(&b, "} %s;\n", s.Name)
	}
	for _, c := range configs {
		declare(c.Struct)
	}
	return b.String()
}

func structOf(t CType) *Struct {
	switch t := t.(type) {
	case *Struct:
		return t
	case Array:
		return structOf(t.Elem)
	}
	return nil
}
