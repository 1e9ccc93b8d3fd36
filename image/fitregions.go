package image

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// FDT structure-block tokens.
const (
	tokBeginNode = 1
	tokEndNode   = 2
	tokProp      = 3
	tokNop       = 4
	tokEnd       = 9
)

// excludedProps are left out of a signed configuration's hash: an image's
// data is covered by its hash node instead.
var excludedProps = []string{"data", "data-size", "data-position", "data-offset"}

// signedData is what U-Boot hashes to check a configuration's signature
// (boot/image-fit-sig.c and boot/fdt_region.c describe it): of the
// structure block, every node named in nodes with its properties (but
// not excludedProps); the begin and end tags of their children and of the
// nodes on the way to them; and the END token; then the first strSize
// bytes of the strings block. Adjacent pieces run together; the order is
// the blob's.
func signedData(blob []byte, nodes []string, strOff, strSize int) ([]byte, error) {
	if len(blob) < 40 {
		return nil, fmt.Errorf("not a device tree")
	}
	be := binary.BigEndian
	base := int(be.Uint32(blob[8:]))
	size := int(be.Uint32(blob[36:]))
	if base+size > len(blob) || strOff+strSize > len(blob) {
		return nil, fmt.Errorf("a device tree whose blocks lie outside it")
	}
	structure, strs := blob[base:base+size], blob[strOff:]
	var out []byte
	var stack []int
	var path []string
	want := 0
	start := -1
	for off := 0; off < len(structure); {
		if off+4 > len(structure) {
			return nil, fmt.Errorf("a token past the structure block")
		}
		tag := be.Uint32(structure[off:])
		next, stopAt := off+4, off+4
		inc := false
		switch tag {
		case tokProp:
			if off+12 > len(structure) {
				return nil, fmt.Errorf("a property past the structure block")
			}
			n, nameoff := int(be.Uint32(structure[off+4:])), int(be.Uint32(structure[off+8:]))
			next = off + 12 + (n+3)&^3
			stopAt = off
			name, err := cString(strs, nameoff)
			if err != nil {
				return nil, err
			}
			inc = want >= 2 && !slices.Contains(excludedProps, name)
		case tokNop:
			stopAt = off
			inc = want >= 2
		case tokBeginNode:
			name, err := cString(structure, off+4)
			if err != nil {
				return nil, err
			}
			next = off + 4 + (len(name)+1+3)&^3
			stopAt = next
			path = append(path, name)
			stack = append(stack, want)
			if want == 1 {
				stopAt = off
			}
			switch p := "/" + strings.Join(path[1:], "/"); {
			case slices.Contains(nodes, p):
				want = 2
			case want > 0:
				want--
			default:
				stopAt = off
			}
			inc = want > 0
		case tokEndNode:
			if len(stack) == 0 {
				return nil, fmt.Errorf("an end of node without its beginning")
			}
			inc = want > 0
			want = stack[len(stack)-1]
			stack, path = stack[:len(stack)-1], path[:len(path)-1]
		case tokEnd:
			inc = true
			next = off + 4
		default:
			return nil, fmt.Errorf("an unknown token %#x", tag)
		}
		if inc && start < 0 {
			start = off
		}
		if !inc && start >= 0 {
			out = append(out, structure[start:stopAt]...)
			start = -1
		}
		if tag == tokEnd {
			if next != len(structure) {
				return nil, fmt.Errorf("the structure block goes on after its end")
			}
			return append(append(out, structure[start:next]...), strs[:strSize]...), nil
		}
		off = next
	}
	return nil, fmt.Errorf("a structure block without its end")
}

// cString is the NUL-terminated string at off.
func cString(b []byte, off int) (string, error) {
	if off < 0 || off >= len(b) {
		return "", fmt.Errorf("a name outside its block")
	}
	end := slices.Index(b[off:], 0)
	if end < 0 {
		return "", fmt.Errorf("a name without its end")
	}
	return string(b[off : off+end]), nil
}
