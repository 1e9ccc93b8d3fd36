package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
)

// Legacy U-Boot image constants (the 64-byte header of include/image.h).
const (
	legacyMagic  = 0x27051956
	osLinux      = 5
	typeScript   = 6
	compressNone = 0
)

// legacyArch is U-Boot's architecture number for its name.
var legacyArch = map[string]byte{"arm": 2, "x86": 3, "arm64": 22, "riscv": 26, "x86_64": 24}

// BootScript wraps a U-Boot script as `mkimage -T script` does (a legacy
// image of type script: a zero-ended list of lengths, then the script), for
// U-Boot's `source` command and distro boot's boot.scr.
func BootScript(arch, name, script string, time int64) ([]byte, error) {
	a, ok := legacyArch[arch]
	if !ok {
		return nil, fmt.Errorf("U-Boot architecture %q: plinth knows %s", arch, strings.Join(slices.Sorted(maps.Keys(legacyArch)), ", "))
	}
	if len(name) > 31 {
		return nil, fmt.Errorf("the image name %q is longer than U-Boot's 31 characters", name)
	}
	data := make([]byte, 8, 8+len(script))
	binary.BigEndian.PutUint32(data, uint32(len(script)))
	data = append(data, script...)
	return legacyImage(data, a, typeScript, name, time), nil
}

func legacyImage(data []byte, arch, kind byte, name string, time int64) []byte {
	h := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(h[0:], legacyMagic)
	be.PutUint32(h[8:], uint32(time))
	be.PutUint32(h[12:], uint32(len(data)))
	be.PutUint32(h[24:], crc32.ChecksumIEEE(data))
	h[28], h[29], h[30], h[31] = osLinux, arch, kind, compressNone
	copy(h[32:], name)
	be.PutUint32(h[4:], crc32.ChecksumIEEE(h))
	return append(h, data...)
}

// Env is a U-Boot environment as `mkenvimage -s SIZE [-r]` writes it: a
// CRC-32 of the rest, a flags byte when the board keeps a redundant copy,
// then NAME=VALUE strings, each ended by NUL, the list by another, padded
// to size with 0xff. Names are written sorted, so the same variables give
// the same bytes.
func Env(vars map[string]string, size int, redundant bool) ([]byte, error) {
	head := 4
	if redundant {
		head = 5
	}
	var body bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(vars[k], 0) {
			return nil, fmt.Errorf("environment variable %q: a name holds no '=' or NUL, a value no NUL", k)
		}
		body.WriteString(k + "=" + vars[k] + "\x00")
	}
	body.WriteByte(0)
	if head+body.Len() > size {
		return nil, fmt.Errorf("the environment needs %d bytes; the board keeps %d", head+body.Len(), size)
	}
	out := bytes.Repeat([]byte{0xff}, size)
	copy(out[head:], body.Bytes())
	binary.LittleEndian.PutUint32(out, crc32.ChecksumIEEE(out[head:]))
	if redundant {
		out[4] = 1 // the active copy
	}
	return out, nil
}
