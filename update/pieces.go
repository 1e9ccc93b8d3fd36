package update

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// label names a run of a slot's bytes by what it holds.
type label struct {
	name     string
	off, end int64
}

// Structure is what a slot holds, for cutting a delta at its seams: the
// Microkit image (Image) and the protection domains' ELFs (Programs, by
// name) whose loadable segments lie in it as they are.
type Structure struct {
	Image    []byte
	Programs map[string][]byte
}

// fdtMagic starts a flattened device tree, and so a FIT.
const fdtMagic = 0xd00dfeed

// loaderMagic starts the header the Microkit tool appends to its loader's
// code: then the kernel entry, the initial task's bounds, and the regions
// (load address, size, offset past the descriptors, type) it copies.
const loaderMagic = 0x5e14dead14de5ead

// zeroBlock is the granularity at which free space is found.
const zeroBlock = 4096

// cut divides slot into named pieces, each the innermost structure that
// holds it: the file system around the FIT, the FIT around the image, the
// loader's code and header, its regions, and the programs' segments in
// them; all-zero blocks outside the image are free space.
func (st Structure) cut(slot []byte) ([]Piece, map[string]Span) {
	labels := []label{{"file system", 0, int64(len(slot))}}
	if imgOff := int64(bytes.Index(slot, st.Image)); len(st.Image) > 0 && imgOff >= 0 {
		imgEnd := imgOff + int64(len(st.Image))
		if fit := findFIT(slot, imgOff, imgEnd); fit.end > 0 {
			labels = append(labels, fit)
		}
		labels = append(labels, label{"image", imgOff, imgEnd})
		labels = append(labels, loaderLabels(st.Image, imgOff)...)
		for _, name := range slices.Sorted(maps.Keys(st.Programs)) {
			labels = append(labels, segmentLabels(name, st.Programs[name], slot, imgOff, imgEnd)...)
		}
	}
	spans := map[string]Span{}
	for _, l := range labels[1:] {
		spans[l.name] = Span{l.off, l.end - l.off}
	}
	// Every boundary; each elementary run takes its innermost label.
	var cuts []int64
	for _, l := range labels {
		cuts = append(cuts, l.off, l.end)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var pieces []Piece
	for i := 0; i+1 < len(cuts); i++ {
		off, end := cuts[i], cuts[i+1]
		inner := labels[0]
		for _, l := range labels[1:] {
			if l.off <= off && end <= l.end && l.end-l.off <= inner.end-inner.off {
				inner = l
			}
		}
		if inner.name == "file system" {
			pieces = append(pieces, freeSpace(slot, off, end)...)
			continue
		}
		if n := len(pieces); n > 0 && pieces[n-1].Name == inner.name && pieces[n-1].Offset+pieces[n-1].Size == off {
			pieces[n-1].Size += end - off
			continue
		}
		pieces = append(pieces, Piece{Name: inner.name, Offset: off, Size: end - off})
	}
	return pieces, spans
}

// freeSpace splits a run of the file system into all-zero blocks ("free
// space") and the rest ("file system").
func freeSpace(slot []byte, off, end int64) []Piece {
	var out []Piece
	add := func(name string, o, e int64) {
		if n := len(out); n > 0 && out[n-1].Name == name {
			out[n-1].Size = e - out[n-1].Offset
			return
		}
		out = append(out, Piece{Name: name, Offset: o, Size: e - o})
	}
	for o := off; o < end; {
		e := min(end, (o/zeroBlock+1)*zeroBlock)
		if isZero(slot[o:e]) && e-o == zeroBlock {
			add("free space", o, e)
		} else {
			add("file system", o, e)
		}
		o = e
	}
	return out
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// findFIT finds the device tree around the image: the nearest FDT header
// below it whose total size covers it.
func findFIT(slot []byte, imgOff, imgEnd int64) label {
	for o := imgOff &^ 3; o >= 0; o -= 4 {
		if binary.BigEndian.Uint32(slot[o:]) == fdtMagic && o+8 <= int64(len(slot)) {
			size := int64(binary.BigEndian.Uint32(slot[o+4:]))
			if o+size >= imgEnd && o+size <= int64(len(slot)) {
				return label{"FIT", o, o + size}
			}
		}
	}
	return label{}
}

// loaderLabels names the Microkit loader's code and header and each region
// it copies, when the image is a loader image (a uImage's 64-byte header
// before it is allowed for). The header is 8 words since Microkit 2.1 and
// 11 before (flags and an extra device region); its last word counts the
// region descriptors that follow it, and the regions' bytes end the image.
func loaderLabels(img []byte, base int64) []label {
	magic := binary.LittleEndian.AppendUint64(nil, loaderMagic)
	h := bytes.Index(img, magic)
	if h < 0 {
		return nil
	}
	le := binary.LittleEndian
	for _, words := range []int{8, 11} {
		if h+8*words > len(img) {
			continue
		}
		n := le.Uint64(img[h+8*(words-1):])
		data := uint64(h + 8*words + 32*int(min(n, 4096)))
		if n == 0 || n > 4096 || data > uint64(len(img)) {
			continue
		}
		out := []label{{"loader", base, base + int64(data)}}
		end := data
		for i := range int(n) {
			d := img[h+8*words+32*i:]
			addr, size, off := le.Uint64(d), le.Uint64(d[8:]), le.Uint64(d[16:])
			if size == 0 || data+off+size > uint64(len(img)) {
				continue
			}
			start := base + int64(data+off)
			out = append(out, label{fmt.Sprintf("region %d at %#x", i, addr), start, start + int64(size)})
			end = max(end, data+off+size)
		}
		if end == uint64(len(img)) {
			return out
		}
	}
	return nil
}

// segmentLabels finds a program's loadable segments (those long enough to
// be found only where they are) in the image.
func segmentLabels(name string, program, slot []byte, imgOff, imgEnd int64) []label {
	f, err := elf.NewFile(bytes.NewReader(program))
	if err != nil {
		return nil
	}
	var out []label
	for i, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz < 64 || p.Off+p.Filesz > uint64(len(program)) {
			continue
		}
		seg := program[p.Off : p.Off+p.Filesz]
		if at := bytes.Index(slot[imgOff:imgEnd], seg); at >= 0 {
			start := imgOff + int64(at)
			out = append(out, label{fmt.Sprintf("%s segment %d", name, i), start, start + int64(len(seg))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].off < out[j].off })
	return out
}
