package update

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/sign"
)

// The bundle's entries, in the order they stream: the manifest, its
// Sigstore bundle, then the payload.
const (
	ManifestEntry  = "manifest.json"
	SignatureEntry = "manifest.sigstore.json"
)

// Build is what a bundle takes from a build directory.
type Build struct {
	Dir          string
	Manifest     *attest.Manifest
	ManifestSum  string
	Slot         []byte // slot A of the build's disk: what a device's slot holds
	Structure    Structure
	Measurements map[string]map[string]string
}

// LoadBuild reads a build made with --boot uboot.
func LoadBuild(dir string) (*Build, error) {
	m, err := attest.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	b := &Build{Dir: dir, Manifest: m, ManifestSum: sum(raw), Structure: Structure{Programs: map[string][]byte{}}}
	if m.Image == nil {
		return nil, fmt.Errorf("%s: the build has no image", dir)
	}
	var disk string
	for _, o := range m.Outputs {
		if filepath.Base(o.Path) == "disk.img" {
			disk = filepath.Join(dir, filepath.FromSlash(o.Path))
		}
	}
	if disk == "" {
		return nil, fmt.Errorf("%s: the build has no disk image: build it with --boot uboot", dir)
	}
	if b.Structure.Image, err = readChecked(dir, *m.Image); err != nil {
		return nil, err
	}
	for _, c := range m.Components {
		data, err := readChecked(dir, c)
		if err != nil {
			return nil, err
		}
		b.Structure.Programs[c.Path] = data
	}
	t, err := OpenTarget(disk, false)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if b.Slot, err = t.ReadSlot(SlotA, t.SlotSize(SlotA)); err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(dir, "measurements.json")); err == nil {
		var pm struct {
			PCRs map[string]map[string]string `json:"pcrs"`
		}
		if err := json.Unmarshal(data, &pm); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "measurements.json"), err)
		}
		b.Measurements = pm.PCRs
	}
	return b, nil
}

// readChecked reads a file the build's manifest names, and refuses it if
// it is not the bytes the manifest says.
func readChecked(dir string, f attest.ManifestFile) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
	if err != nil {
		return nil, err
	}
	if sum(data) != f.SHA256 {
		return nil, fmt.Errorf("%s: not the bytes the build's manifest names (changed after the build?)", f.Path)
	}
	return data, nil
}

// Options are a bundle's versions and validity.
type Options struct {
	Version, MinInstalled, Floor uint64
	Issued                       time.Time
	Expires                      time.Time
	BaseVersion                  uint64 // a delta's base's version
}

// Made is a bundle before it is signed: its manifest and payload.
type Made struct {
	Manifest    *Manifest
	RawManifest []byte // canonical JSON: what is signed
	Payload     []byte
	FullSize    int64 // the full payload's size, for comparison when a delta was chosen
}

// Create makes a bundle of nw: a delta against base when base is given
// and the delta (its payload and its list of pieces) is smaller than the
// full slot compressed, else the full slot.
func Create(nw, base *Build, o Options) (*Made, error) {
	m := &Manifest{
		Type: ManifestType, Format: Format, Version: o.Version, MinInstalled: o.MinInstalled, Floor: o.Floor,
		Issued: o.Issued.UTC().Format(time.RFC3339), Expires: o.Expires.UTC().Format(time.RFC3339),
		Boards: []string{nw.Manifest.Board}, Microkit: nw.Manifest.Microkit,
		Image:        File{nw.Manifest.Image.SHA256, nw.Manifest.Image.Size},
		Slot:         File{sum(nw.Slot), int64(len(nw.Slot))},
		Measurements: nw.Measurements,
		Build:        BuildRef{nw.Manifest.Recipe.Name, nw.Manifest.Config, nw.ManifestSum},
	}
	if !bytes.Contains(nw.Slot, nw.Structure.Image) {
		return nil, fmt.Errorf("%s: the disk's slot A does not hold the build's image %s", nw.Dir, nw.Manifest.Image.Path)
	}
	if !o.Expires.After(o.Issued) {
		return nil, fmt.Errorf("the bundle would expire (%s) before it is issued (%s)", m.Expires, m.Issued)
	}
	full, err := compress(nw.Slot)
	if err != nil {
		return nil, err
	}
	made := &Made{Manifest: m, Payload: full, FullSize: int64(len(full))}
	kind := KindFull
	if base != nil {
		if base.Manifest.Board != nw.Manifest.Board || base.Manifest.Microkit != nw.Manifest.Microkit {
			return nil, fmt.Errorf("--from: the base build is for %s with Microkit %s; the new one for %s with Microkit %s", base.Manifest.Board, base.Manifest.Microkit, nw.Manifest.Board, nw.Manifest.Microkit)
		}
		if o.BaseVersion >= o.Version {
			return nil, fmt.Errorf("the base's version %d is not below the bundle's %d", o.BaseVersion, o.Version)
		}
		pieces, delta, err := MakeDelta(base.Slot, base.Structure, nw.Slot, nw.Structure)
		if err != nil {
			return nil, err
		}
		// The delta's cost is its payload and its pieces' list in the
		// manifest.
		list, err := json.Marshal(pieces)
		if err != nil {
			return nil, err
		}
		if len(delta)+len(list) < len(full) {
			kind = KindDelta
			made.Payload = delta
			m.Delta = &Delta{Base: File{sum(base.Slot), int64(len(base.Slot))}, BaseVersion: o.BaseVersion, Pieces: pieces}
			m.MinInstalled = max(m.MinInstalled, o.BaseVersion)
		}
	}
	m.Payloads = []Payload{{Name: payloadName(kind), Kind: kind, SHA256: sum(made.Payload), Size: int64(len(made.Payload))}}
	if made.RawManifest, err = attest.Canonical(m); err != nil {
		return nil, err
	}
	if _, err := ParseManifest(made.RawManifest); err != nil {
		return nil, err
	}
	return made, nil
}

func compress(data []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil), nil
}

// Write streams the bundle: manifest, signature, payload, as a tar whose
// headers hold nothing of the machine or the time but the issue time.
func (made *Made) Write(w io.Writer, signature *sign.Bundle) error {
	sig, err := signature.Marshal()
	if err != nil {
		return err
	}
	issued, _ := time.Parse(time.RFC3339, made.Manifest.Issued)
	tw := tar.NewWriter(w)
	for _, e := range []struct {
		name string
		data []byte
	}{{ManifestEntry, made.RawManifest}, {SignatureEntry, sig}, {made.Manifest.Payloads[0].Name, made.Payload}} {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: issued, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// Reader reads a bundle as it streams.
type Reader struct {
	tr        *tar.Reader
	Manifest  *Manifest
	Raw       []byte
	Signature *sign.Bundle
}

// entry reads the next entry, which must be name, up to limit bytes.
func (r *Reader) entry(name string, limit int64) ([]byte, error) {
	h, err := r.tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("truncated bundle: it ends before %s", name)
	}
	if err != nil {
		return nil, fmt.Errorf("not a bundle, or truncated: %w", err)
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("the bundle holds %q where %s belongs", h.Name, name)
	}
	if h.Size > limit {
		return nil, fmt.Errorf("%s is %d bytes; at most %d are expected", name, h.Size, limit)
	}
	data := make([]byte, h.Size)
	if _, err := io.ReadFull(r.tr, data); err != nil {
		return nil, fmt.Errorf("truncated bundle: %s: %w", name, err)
	}
	return data, nil
}

// Open reads the manifest and its signature, and checks the signature
// with pub (not at all when pub is nil: for inspect without a key)
// before it parses the manifest.
func Open(r io.Reader, pub crypto.PublicKey) (*Reader, error) {
	br := &Reader{tr: tar.NewReader(r)}
	var err error
	if br.Raw, err = br.entry(ManifestEntry, MaxManifest); err != nil {
		return nil, err
	}
	sig, err := br.entry(SignatureEntry, 1<<20)
	if err != nil {
		return nil, err
	}
	if br.Signature, err = sign.ParseBundle(sig); err != nil {
		return nil, fmt.Errorf("the manifest's signature: %w", err)
	}
	if pub != nil {
		if err := sign.Verify(pub, br.Raw, br.Signature); err != nil {
			return nil, fmt.Errorf("the manifest's signature does not verify with the given key: %w", err)
		}
	}
	if br.Manifest, err = ParseManifest(br.Raw); err != nil {
		return nil, err
	}
	return br, nil
}

// Payload reads the payload and checks its size and digest.
func (r *Reader) Payload() ([]byte, error) {
	p := r.Manifest.Payloads[0]
	data, err := r.entry(p.Name, p.Size)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != p.Size {
		return nil, fmt.Errorf("payload %s is %d bytes; the manifest says %d", p.Name, len(data), p.Size)
	}
	h := sha256.Sum256(data)
	if hex.EncodeToString(h[:]) != p.SHA256 {
		return nil, fmt.Errorf("payload %s is not the bytes the manifest names (sha256 %s, want %s)", p.Name, hex.EncodeToString(h[:]), p.SHA256)
	}
	if _, err := r.tr.Next(); err != io.EOF {
		return nil, fmt.Errorf("the bundle holds more than its manifest lists")
	}
	return data, nil
}

// MakeSlot makes the new slot's bytes from the payload (and, for a delta, the
// base read from the device), and checks them against the manifest.
func (m *Manifest) MakeSlot(payload []byte, base func(File) ([]byte, error)) ([]byte, error) {
	var slot []byte
	var err error
	if m.Delta == nil {
		dec, derr := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(m.Slot.Size)+1), zstd.WithDecoderConcurrency(1))
		if derr != nil {
			return nil, derr
		}
		slot, err = dec.DecodeAll(payload, make([]byte, 0, m.Slot.Size))
		dec.Close()
	} else {
		var old []byte
		if old, err = base(m.Delta.Base); err != nil {
			return nil, err
		}
		slot, err = ApplyDelta(old, m.Delta.Pieces, payload, m.Slot.Size)
	}
	if err != nil {
		return nil, fmt.Errorf("making the slot: %w", err)
	}
	if int64(len(slot)) != m.Slot.Size || sum(slot) != m.Slot.SHA256 {
		return nil, fmt.Errorf("the slot made from the payload is not the one the manifest names")
	}
	return slot, nil
}
