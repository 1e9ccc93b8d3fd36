package sddf

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// A CType is a C type as the LP64 ABIs of seL4's 64-bit architectures lay
// it out (natural alignment; AArch64, RISC-V 64 and x86-64 agree for the
// types sDDF's configs use).
type CType interface {
	Size() uint64
	Align() uint64
	C() string // how the type is written in C, for the layout check
}

// Scalar is an integer, bool, char or pointer.
type Scalar struct {
	Name  string // uint8_t, bool, char, uint16_t, uint32_t, uint64_t, void *
	Bytes uint64
}

func (s Scalar) Size() uint64  { return s.Bytes }
func (s Scalar) Align() uint64 { return s.Bytes }
func (s Scalar) C() string     { return s.Name }

// Array is a fixed-length C array.
type Array struct {
	Elem CType
	Len  uint64
}

func (a Array) Size() uint64  { return a.Elem.Size() * a.Len }
func (a Array) Align() uint64 { return a.Elem.Align() }
func (a Array) C() string     { return fmt.Sprintf("%s[%d]", a.Elem.C(), a.Len) }

// Field is a struct member.
type Field struct {
	Name string
	Type CType
}

// Struct is a C struct, its members in declaration order.
type Struct struct {
	Name   string // the typedef, e.g. serial_client_config_t
	Fields []Field
}

func (s *Struct) C() string { return s.Name }

// Align is the largest member alignment.
func (s *Struct) Align() uint64 {
	a := uint64(1)
	for _, f := range s.Fields {
		a = max(a, f.Type.Align())
	}
	return a
}

// Offsets are the members' byte offsets.
func (s *Struct) Offsets() []uint64 {
	var out []uint64
	off := uint64(0)
	for _, f := range s.Fields {
		off = alignUp(off, f.Type.Align())
		out = append(out, off)
		off += f.Type.Size()
	}
	return out
}

// Size is sizeof: the members and the padding to the struct's alignment.
func (s *Struct) Size() uint64 {
	if len(s.Fields) == 0 {
		return 0
	}
	offs := s.Offsets()
	last := s.Fields[len(s.Fields)-1]
	return alignUp(offs[len(offs)-1]+last.Type.Size(), s.Align())
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) / a * a }

// Value is what a config holds: for a struct, its members by name
// (map[string]any); a []any for an array of structs or integers; uint64,
// int or bool for a scalar; a string for a char array (NUL-padded). Members
// not given are zero.
type Value = map[string]any

// Encode serialises v as the struct's bytes, little-endian, padding zero.
// Every problem is reported at once, each with the member's path.
func (s *Struct) Encode(v Value) ([]byte, error) {
	out := make([]byte, s.Size())
	var errs []string
	s.encode(out, v, s.Name, &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func (s *Struct) encode(buf []byte, v Value, path string, errs *[]string) {
	names := map[string]bool{}
	offs := s.Offsets()
	for i, f := range s.Fields {
		names[f.Name] = true
		if x, ok := v[f.Name]; ok {
			encodeValue(buf[offs[i]:offs[i]+f.Type.Size()], f.Type, x, path+"."+f.Name, errs)
		}
	}
	var unknown []string
	for k := range v {
		if !names[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		*errs = append(*errs, fmt.Sprintf("%s has no member %s", path, k))
	}
}

func encodeValue(buf []byte, t CType, x any, path string, errs *[]string) {
	switch t := t.(type) {
	case *Struct:
		m, ok := x.(Value)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want a %s, got %T", path, t.Name, x))
			return
		}
		t.encode(buf, m, path, errs)
	case Array:
		if sc, ok := t.Elem.(Scalar); ok && sc.Name == "char" {
			s, ok := x.(string)
			switch {
			case !ok:
				*errs = append(*errs, fmt.Sprintf("%s: want a string, got %T", path, x))
			case uint64(len(s)) >= t.Len:
				*errs = append(*errs, fmt.Sprintf("%s: %q is %d bytes; at most %d fit with the terminating NUL", path, s, len(s), t.Len-1))
			default:
				copy(buf, s)
			}
			return
		}
		items, ok := x.([]any)
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s: want a list, got %T", path, x))
			return
		}
		if uint64(len(items)) > t.Len {
			*errs = append(*errs, fmt.Sprintf("%s: %d items; at most %d", path, len(items), t.Len))
			return
		}
		n := t.Elem.Size()
		for i, item := range items {
			encodeValue(buf[uint64(i)*n:uint64(i+1)*n], t.Elem, item, fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case Scalar:
		var u uint64
		switch x := x.(type) {
		case bool:
			if x {
				u = 1
			}
		case int:
			if x < 0 {
				*errs = append(*errs, fmt.Sprintf("%s: %d is negative", path, x))
				return
			}
			u = uint64(x)
		case uint64:
			u = x
		default:
			*errs = append(*errs, fmt.Sprintf("%s: want a number, got %T", path, x))
			return
		}
		if t.Bytes < 8 && u>>(8*t.Bytes) != 0 {
			*errs = append(*errs, fmt.Sprintf("%s: %d does not fit in %s", path, u, t.Name))
			return
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], u)
		copy(buf, b[:t.Bytes])
	}
}

// Has reports whether the struct has a member of that name.
func (s *Struct) Has(name string) bool {
	return slices.ContainsFunc(s.Fields, func(f Field) bool { return f.Name == name })
}
