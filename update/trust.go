package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// The trust store keeps what a device trusts of each release channel (the
// TUF metadata it has taken) in the state partition, after the two state
// copies: two copies again, each a header (magic, sequence number, length,
// SHA-256) and JSON; the newer whole copy wins and a write goes over the
// other, so a power cut mid-write leaves the last one.
const (
	TrustOffset   = 64 << 10
	TrustCopySize = 448 << 10
	trustHeader   = 8 + 8 + 4 + 32
)

var trustMagic = []byte("PLTRUST1")

// Trust is what a device trusts, by channel name; each entry is the
// channel's metadata as package channel keeps it (opaque here).
type Trust struct {
	Seq      uint64                     `json:"-"`
	Channels map[string]json.RawMessage `json:"channels"`
}

// ReadTrust reads the newer whole copy of the trust store at the state
// partition's offset off; none (a new device) is an empty store, and which
// is -1.
func ReadTrust(r io.ReaderAt, off int64) (Trust, int, error) {
	best, which := Trust{Channels: map[string]json.RawMessage{}}, -1
	for i := range 2 {
		head := make([]byte, trustHeader)
		if _, err := r.ReadAt(head, off+TrustOffset+int64(i)*TrustCopySize); err != nil {
			return best, -1, fmt.Errorf("reading the trust store: %w", err)
		}
		n := binary.LittleEndian.Uint32(head[16:20])
		if !bytes.Equal(head[:8], trustMagic) || int64(n) > TrustCopySize-trustHeader {
			continue
		}
		body := make([]byte, n)
		if _, err := r.ReadAt(body, off+TrustOffset+int64(i)*TrustCopySize+trustHeader); err != nil {
			return best, -1, fmt.Errorf("reading the trust store: %w", err)
		}
		sum := sha256.Sum256(body)
		if !bytes.Equal(sum[:], head[20:52]) {
			continue // torn by a power cut: the other copy holds
		}
		var t Trust
		if err := json.Unmarshal(body, &t); err != nil {
			continue
		}
		t.Seq = binary.LittleEndian.Uint64(head[8:16])
		if which < 0 || t.Seq > best.Seq {
			if t.Channels == nil {
				t.Channels = map[string]json.RawMessage{}
			}
			best, which = t, i
		}
	}
	return best, which, nil
}

// WriteTrust writes t, one sequence number past the current copy's, over
// the other copy, and syncs.
func WriteTrust(w io.WriterAt, off int64, current int, t Trust) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if int64(len(body)) > TrustCopySize-trustHeader {
		return fmt.Errorf("the trust store would need %d bytes; it holds %d", len(body), TrustCopySize-trustHeader)
	}
	target := 0
	if current == 0 {
		target = 1
	}
	head := make([]byte, trustHeader)
	copy(head, trustMagic)
	binary.LittleEndian.PutUint64(head[8:16], t.Seq+1)
	binary.LittleEndian.PutUint32(head[16:20], uint32(len(body)))
	sum := sha256.Sum256(body)
	copy(head[20:52], sum[:])
	if _, err := w.WriteAt(append(head, body...), off+TrustOffset+int64(target)*TrustCopySize); err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		return f.Sync()
	}
	return nil
}

// Trust reads the disk's trust store.
func (t *Target) Trust() (Trust, int, error) { return ReadTrust(t.f, t.StateOffset()) }

// WriteTrust writes the disk's trust store over its older copy.
func (t *Target) WriteTrust(current int, tr Trust) error {
	if t.parts[3].size < TrustOffset+2*TrustCopySize {
		return fmt.Errorf("the state partition is %d bytes: too small for a trust store", t.parts[3].size)
	}
	return WriteTrust(t.f, t.StateOffset(), current, tr)
}
