package update

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// tinyELF is an ELF64 with one loadable segment holding data.
func tinyELF(data []byte) []byte {
	le := binary.LittleEndian
	h := make([]byte, 64+56)
	copy(h, "\x7fELF\x02\x01\x01")
	le.PutUint16(h[16:], 2)   // ET_EXEC
	le.PutUint16(h[18:], 183) // EM_AARCH64
	le.PutUint32(h[20:], 1)   // version
	le.PutUint64(h[32:], 64)  // program headers at 64
	le.PutUint16(h[52:], 64)  // header size
	le.PutUint16(h[54:], 56)  // program header size
	le.PutUint16(h[56:], 1)   // one
	p := h[64:]
	le.PutUint32(p, 1) // PT_LOAD
	le.PutUint64(p[8:], uint64(len(h)))
	le.PutUint64(p[32:], uint64(len(data)))
	le.PutUint64(p[40:], uint64(len(data)))
	return append(h, data...)
}

func random(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// loaderImage is code, the Microkit loader's header with one region, and
// the region: the programs' segments one after another.
func loaderImage(code []byte, segments ...[]byte) []byte {
	region := bytes.Join(segments, nil)
	le := binary.LittleEndian
	h := make([]byte, 64+32)
	le.PutUint64(h, loaderMagic)
	le.PutUint64(h[56:], 1)
	le.PutUint64(h[64:], 0x60000000)
	le.PutUint64(h[72:], uint64(len(region)))
	return append(append(bytes.Clone(code), h...), region...)
}

// slotWith is a slot: some file-system bytes, the image, zeros.
func slotWith(fs, img []byte) []byte {
	slot := make([]byte, 1<<20)
	copy(slot, fs)
	copy(slot[64<<10:], img)
	return slot
}

// A one-program change ships that program's segment as a patch and
// nothing else but small file-system patches; unchanged programs are
// copied though they moved; the installer makes the same bytes, and a
// changed byte anywhere in what it makes is caught.
func TestADeltaShipsOnlyTheChangedProgram(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	code, fs := random(r, 8<<10), random(r, 2<<10)
	alpha, beta := random(r, 40<<10), random(r, 40<<10)
	beta2 := bytes.Clone(beta)
	copy(beta2[1000:], "a new line of the one changed protection domain")
	beta2 = append(beta2, random(r, 512)...) // it grew, so what follows moves
	gamma := random(r, 30<<10)
	oldImg := loaderImage(code, alpha, beta, gamma)
	newImg := loaderImage(code, alpha, beta2, gamma)
	oldSt := Structure{Image: oldImg, Programs: map[string][]byte{"alpha.elf": tinyELF(alpha), "beta.elf": tinyELF(beta), "gamma.elf": tinyELF(gamma)}}
	newSt := Structure{Image: newImg, Programs: map[string][]byte{"alpha.elf": tinyELF(alpha), "beta.elf": tinyELF(beta2), "gamma.elf": tinyELF(gamma)}}
	oldSlot, newSlot := slotWith(fs, oldImg), slotWith(fs, newImg)
	pieces, payload, err := MakeDelta(oldSlot, oldSt, newSlot, newSt)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{}
	for _, p := range pieces {
		ops[p.Name] = p.Op
	}
	for name, want := range map[string]string{"alpha.elf segment 0": OpCopy, "beta.elf segment 0": OpPatch, "gamma.elf segment 0": OpCopy, "loader": OpPatch, "free space": OpZero} {
		if ops[name] != want {
			t.Errorf("%s: %s, want %s (all: %v)", name, ops[name], want, ops)
		}
	}
	if len(payload) > 1500 {
		t.Errorf("the delta is %d bytes for a 47-byte change and 512 new bytes", len(payload))
	}
	got, err := ApplyDelta(oldSlot, pieces, payload, int64(len(newSlot)))
	if err != nil || !bytes.Equal(got, newSlot) {
		t.Fatalf("the slot made is not the new one: %v", err)
	}
	// The installer's base differs in one byte of a copied piece.
	bad := bytes.Clone(oldSlot)
	bad[bytes.Index(bad, gamma)+7] ^= 1
	if _, err := ApplyDelta(bad, pieces, payload, int64(len(newSlot))); err == nil || !strings.Contains(err.Error(), "gamma.elf segment 0") {
		t.Errorf("a changed base: %v", err)
	}
	// A flipped payload byte.
	payload[len(payload)/2] ^= 1
	if _, err := ApplyDelta(oldSlot, pieces, payload, int64(len(newSlot))); err == nil {
		t.Error("a flipped payload byte was not caught")
	}
}
