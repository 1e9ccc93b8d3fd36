package diode

import (
	"debug/elf"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Rule is code that must be absent from a binary: Rust crates (any symbol
// of theirs), symbols (a C name, or a Rust path such as
// diode_upper::encode_command), ELF sections (a crate's marker).
type Rule struct {
	Crates, Symbols, Sections []string
}

// Finding is one piece of forbidden code found in an ELF.
type Finding struct {
	Rule int // the index of the rule it breaks
	// What: "symbol PATH (RAW)" or "section NAME".
	What string
}

// Scan reads an ELF's symbols and sections and returns what the rules
// forbid, in the order found.
func Scan(path string, rules []Rule) ([]Finding, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil && err != elf.ErrNoSymbols {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Finding
	for i, r := range rules {
		for _, s := range f.Sections {
			if slices.Contains(r.Sections, s.Name) {
				out = append(out, Finding{Rule: i, What: "section " + s.Name})
			}
		}
		seen := map[string]bool{}
		for _, s := range syms {
			if s.Name == "" || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			rust, isRust := Demangle(s.Name)
			hit := slices.Contains(r.Symbols, s.Name) || (isRust && slices.Contains(r.Symbols, rust))
			for _, c := range r.Crates {
				hit = hit || (isRust && mentionsCrate(s.Name, c))
			}
			if hit {
				what := "symbol " + s.Name
				if isRust {
					what = fmt.Sprintf("symbol %s (%s)", rust, s.Name)
				}
				out = append(out, Finding{Rule: i, What: what})
			}
		}
	}
	return out, nil
}

// mentionsCrate says whether a mangled Rust symbol names crate anywhere in
// its path (its own functions, and generic code instantiated with its
// types): both manglings write an identifier as its length, then its
// bytes, so the crate is "11diode_upper" not preceded by another digit.
func mentionsCrate(sym, crate string) bool {
	needle := strconv.Itoa(len(crate)) + crate
	for from := 0; ; {
		i := strings.Index(sym[from:], needle)
		if i < 0 {
			return false
		}
		if i += from; i == 0 || !isDigit(sym[i-1]) {
			return true
		}
		from = i + 1
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// Demangle reads a Rust symbol in the legacy mangling (_ZN…E) as its path
// without the hash (crate::module::item); a v0 one (_R…) is kept as it is,
// marked Rust; others are not Rust.
func Demangle(sym string) (string, bool) {
	if rest, ok := strings.CutPrefix(sym, "_R"); ok {
		if path, left, ok := v0Path(rest); ok && (left == "" || isDigit(left[0])) {
			return path, true // (a trailing instantiating crate's id is left)
		}
		return sym, true
	}
	rest, ok := strings.CutPrefix(sym, "_ZN")
	if !ok {
		return "", false
	}
	var parts []string
	for rest != "" && rest[0] != 'E' {
		n := 0
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		size, err := strconv.Atoi(rest[:n])
		if err != nil || n+size > len(rest) {
			return "", false
		}
		parts = append(parts, rest[n:n+size])
		rest = rest[n+size:]
	}
	if rest != "E" || len(parts) == 0 {
		return "", false
	}
	if last := parts[len(parts)-1]; len(last) == 17 && last[0] == 'h' {
		parts = parts[:len(parts)-1] // the hash
	}
	return strings.Join(parts, "::"), true
}

// v0Path reads the path of a v0-mangled symbol (the part after _R) when it
// is a plain path of crate root and nested names: N, namespace, path,
// [s disambiguator _], identifier; C [s disambiguator _] identifier.
// Generic arguments and the like are not read (ok false).
func v0Path(s string) (path, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	switch s[0] {
	case 'C':
		return v0Ident(skipDisambiguator(s[1:]))
	case 'N':
		if len(s) < 2 {
			return "", "", false
		}
		parent, rest, ok := v0Path(s[2:])
		if !ok {
			return "", "", false
		}
		name, rest, ok := v0Ident(skipDisambiguator(rest))
		if !ok {
			return "", "", false
		}
		if name == "" { // an unnamed item (a closure, a shim)
			return parent, rest, true
		}
		return parent + "::" + name, rest, true
	}
	return "", "", false
}

func skipDisambiguator(s string) string {
	if strings.HasPrefix(s, "s") {
		if i := strings.IndexByte(s, '_'); i > 0 {
			return s[i+1:]
		}
	}
	return s
}

// v0Ident reads a decimal length, an optional '_' and that many bytes
// (Punycode identifiers, marked u, are not read).
func v0Ident(s string) (string, string, bool) {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	size, err := strconv.Atoi(s[:n])
	if err != nil {
		return "", "", false
	}
	s = s[n:]
	if strings.HasPrefix(s, "_") {
		s = s[1:]
	}
	if size > len(s) {
		return "", "", false
	}
	return s[:size], s[size:], true
}
