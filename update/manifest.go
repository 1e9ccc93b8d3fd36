package update

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ManifestType names the bundle manifest's format.
const ManifestType = "https://github.com/pointsav/plinth/bundle/v1"

// Format is the bundle format's version; an installer refuses others.
const Format = 1

// Manifest is what a bundle says of itself, signed before its payloads.
type Manifest struct {
	Type    string `json:"_type"`
	Format  int    `json:"format"`
	Version uint64 `json:"version"` // monotonic: the installer takes only higher ones
	// MinInstalled is the lowest installed version this bundle may
	// replace (a delta's base version, or an upgrade path's floor).
	MinInstalled uint64 `json:"min_installed"`
	// Floor, when set, becomes the device's anti-rollback floor once this
	// version is confirmed: nothing below it installs afterwards.
	Floor uint64 `json:"floor,omitempty"`
	// Issued and Expires are RFC 3339 times. A device without a clock
	// compares Expires with the latest Issued it has taken (its state's
	// clock), a counter that only rises.
	Issued   string   `json:"issued"`
	Expires  string   `json:"expires"`
	Boards   []string `json:"boards"`
	Microkit string   `json:"microkit"`
	// Image is Microkit's image, the digest the FIT's hash node, the SBOM,
	// the provenance and the predicted measurements name.
	Image        File                         `json:"image"`
	Slot         File                         `json:"slot"` // the bytes the installer writes
	Measurements map[string]map[string]string `json:"measurements,omitempty"`
	Build        BuildRef                     `json:"build"`
	Payloads     []Payload                    `json:"payloads"`
	Delta        *Delta                       `json:"delta,omitempty"`
}

// File is some bytes by digest and size.
type File struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// BuildRef names the build a bundle came from.
type BuildRef struct {
	Recipe   string `json:"recipe"`
	Config   string `json:"config"`
	Manifest string `json:"manifest_sha256"` // of the build's manifest.json
}

// Payload is one payload entry after the manifest.
type Payload struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // full: the slot, zstd; delta: the patches of Delta's pieces
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Payload kinds.
const (
	KindFull  = "full"
	KindDelta = "delta"
)

// Delta is how a delta bundle's slot is made from the installed one.
type Delta struct {
	Base        File    `json:"base"`
	BaseVersion uint64  `json:"base_version"`
	Pieces      []Piece `json:"pieces"`
}

// MaxManifest bounds a manifest's size, read before it is verified.
const MaxManifest = 16 << 20

// ParseManifest decodes and checks a manifest's shape.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the manifest: %w", err)
	}
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if m.Type != ManifestType {
		bad("_type is %q, not %q", m.Type, ManifestType)
	}
	if m.Format != Format {
		bad("format %d; this plinth reads format %d", m.Format, Format)
	}
	if m.Version == 0 {
		bad("no version")
	}
	if m.MinInstalled >= m.Version {
		bad("min_installed %d is not below the version %d", m.MinInstalled, m.Version)
	}
	for _, f := range []string{m.Issued, m.Expires} {
		if _, err := time.Parse(time.RFC3339, f); err != nil {
			bad("a time that is not RFC 3339: %q", f)
		}
	}
	if len(m.Boards) == 0 || m.Microkit == "" {
		bad("no compatible boards or Microkit version")
	}
	if len(m.Slot.SHA256) != 64 || m.Slot.Size <= 0 {
		bad("no slot digest and size")
	}
	if len(m.Payloads) != 1 {
		bad("%d payloads; a bundle has one", len(m.Payloads))
	} else {
		p := m.Payloads[0]
		switch {
		case p.Kind == KindFull && m.Delta == nil, p.Kind == KindDelta && m.Delta != nil:
		default:
			bad("payload %s of kind %q with delta %v", p.Name, p.Kind, m.Delta != nil)
		}
		if p.Name != payloadName(p.Kind) || len(p.SHA256) != 64 || p.Size < 0 {
			bad("payload %q: want %s with a digest and size", p.Name, payloadName(p.Kind))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the manifest: %s", strings.Join(problems, "; "))
	}
	return &m, nil
}

func payloadName(kind string) string {
	if kind == KindDelta {
		return "slot.delta"
	}
	return "slot.zst"
}

// Compatible says why the bundle does not fit a device with this state.
func (m *Manifest) Compatible(s State) error {
	if !slices.Contains(m.Boards, s.Board) {
		return fmt.Errorf("wrong board: the bundle is for %s; the device is %s", strings.Join(m.Boards, ", "), s.Board)
	}
	if m.Microkit != s.Microkit {
		return fmt.Errorf("wrong Microkit version: the bundle's image is Microkit %s; the device runs %s", m.Microkit, s.Microkit)
	}
	return nil
}
