package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"

	"github.com/klauspost/compress/zstd"
)

// Piece is a named run of a new slot's bytes and how the installer makes
// it from the slot it has: "zero" (all zeros), "copy" (the same bytes are
// at From in the base, as its SHA-256 proves), or "patch" (a zstd frame in
// the delta payload at Data, made with the base's bytes at Dict as its raw
// dictionary: the base's structure of the same name, as a whole). Only
// patches ship bytes.
type Piece struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Op     string `json:"op"`
	From   int64  `json:"from,omitempty"`
	Dict   *Span  `json:"dict,omitempty"`
	Data   *Span  `json:"data,omitempty"`
}

// Span is a run of bytes.
type Span struct {
	Offset int64 `json:"offset"`
	Size   int64 `json:"size"`
}

// The pieces' operations.
const (
	OpZero  = "zero"
	OpCopy  = "copy"
	OpPatch = "patch"
)

// dictMargin is how far around a changed piece's place the base's bytes
// serve as its dictionary when the base has no structure of its name (the
// file system's bytes, say).
const dictMargin = 1 << 20

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// MakeDelta cuts newSlot at the seams newSt names and says how to make
// each piece from base (cut by baseSt the same way): unchanged pieces,
// wherever they moved to, are copied; changed ones are zstd patches
// against the base. It returns the pieces and the delta payload.
func MakeDelta(base []byte, baseSt Structure, newSlot []byte, newSt Structure) ([]Piece, []byte, error) {
	have := map[string]int64{} // a base piece's offset by its digest
	basePieces, baseSpans := baseSt.cut(base)
	for _, p := range basePieces {
		h := sum(base[p.Offset : p.Offset+p.Size])
		if _, ok := have[h]; !ok {
			have[h] = p.Offset
		}
	}
	var payload bytes.Buffer
	pieces, _ := newSt.cut(newSlot)
	for i := range pieces {
		p := &pieces[i]
		data := newSlot[p.Offset : p.Offset+p.Size]
		p.SHA256 = sum(data)
		if isZero(data) {
			p.Op = OpZero
			continue
		}
		if at, ok := have[p.SHA256]; ok {
			p.Op, p.From = OpCopy, at
			continue
		}
		// The same bytes may still lie in the base under another cut.
		if at := bytes.Index(base, data); at >= 0 && len(data) >= 64 {
			p.Op, p.From = OpCopy, int64(at)
			continue
		}
		dict := Span{max(0, p.Offset-dictMargin), 0}
		dict.Size = min(int64(len(base)), p.Offset+p.Size+dictMargin) - dict.Offset
		if old, ok := baseSpans[p.Name]; ok {
			dict = old
		}
		if dict.Size <= 0 {
			dict = Span{0, int64(len(base))}
		}
		frame, err := patch(base[dict.Offset:dict.Offset+dict.Size], data)
		if err != nil {
			return nil, nil, fmt.Errorf("piece %s: %w", p.Name, err)
		}
		p.Op, p.Dict = OpPatch, &dict
		p.Data = &Span{int64(payload.Len()), int64(len(frame))}
		payload.Write(frame)
	}
	return pieces, payload.Bytes(), nil
}

// window is the zstd window a patch needs: its dictionary and its output
// within reach (a power of two).
func window(dict, out int) int {
	n := max(1<<20, dict+out)
	return 1 << bits.Len(uint(n-1))
}

func patch(dict, data []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderDictRaw(0, dict), zstd.WithWindowSize(window(len(dict), len(data))), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil), nil
}

// maxPatchWindow bounds what a patch may ask of the installer's memory.
const maxPatchWindow = 512 << 20

// ApplyDelta makes the new slot (size bytes) from base, the pieces and the
// delta payload, checking each piece's digest as it is made.
func ApplyDelta(base []byte, pieces []Piece, payload []byte, size int64) ([]byte, error) {
	out := make([]byte, size)
	next := int64(0)
	for _, p := range pieces {
		if p.Offset != next || p.Size <= 0 || p.Offset+p.Size > size {
			return nil, fmt.Errorf("piece %s (%d bytes at %d) does not follow the one before it (at %d) inside the slot's %d bytes", p.Name, p.Size, p.Offset, next, size)
		}
		next = p.Offset + p.Size
		dst := out[p.Offset:next]
		switch p.Op {
		case OpZero:
		case OpCopy:
			if p.From < 0 || p.From+p.Size > int64(len(base)) {
				return nil, fmt.Errorf("piece %s copies %d bytes from %d of a base of %d", p.Name, p.Size, p.From, len(base))
			}
			copy(dst, base[p.From:p.From+p.Size])
		case OpPatch:
			if p.Dict == nil || p.Data == nil || p.Dict.Offset < 0 || p.Dict.Offset+p.Dict.Size > int64(len(base)) || p.Data.Offset < 0 || p.Data.Offset+p.Data.Size > int64(len(payload)) {
				return nil, fmt.Errorf("piece %s's patch lies outside the base or the payload", p.Name)
			}
			dict := base[p.Dict.Offset : p.Dict.Offset+p.Dict.Size]
			dec, err := zstd.NewReader(nil, zstd.WithDecoderDictRaw(0, dict), zstd.WithDecoderMaxWindow(maxPatchWindow), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(window(len(dict), int(p.Size)))+uint64(p.Size)))
			if err != nil {
				return nil, err
			}
			got, err := dec.DecodeAll(payload[p.Data.Offset:p.Data.Offset+p.Data.Size], dst[:0])
			dec.Close()
			if err != nil {
				return nil, fmt.Errorf("piece %s: %w", p.Name, err)
			}
			if int64(len(got)) != p.Size {
				return nil, fmt.Errorf("piece %s: the patch made %d bytes, not %d", p.Name, len(got), p.Size)
			}
		default:
			return nil, fmt.Errorf("piece %s: unknown operation %q", p.Name, p.Op)
		}
		if sum(dst) != p.SHA256 {
			return nil, fmt.Errorf("piece %s (%s, %d bytes at %d) is not the bytes the manifest names", p.Name, p.Op, p.Size, p.Offset)
		}
	}
	if next != size {
		return nil, fmt.Errorf("the pieces cover %d of the slot's %d bytes", next, size)
	}
	return out, nil
}
