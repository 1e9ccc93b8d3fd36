package channel

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"

	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/update"
)

// Trusted is the metadata a device has taken, as it was signed: the root
// always; the rest once a refresh took them. It is what the next refresh
// judges rollback against.
type Trusted struct {
	Root      []byte `json:"root"`
	Timestamp []byte `json:"timestamp,omitempty"`
	Snapshot  []byte `json:"snapshot,omitempty"`
	Targets   []byte `json:"targets,omitempty"`
}

// MaxRootRotations bounds how many new roots one refresh takes.
const MaxRootRotations = 32

// Refreshed is what a refresh took.
type Refreshed struct {
	Trusted Trusted
	Root    *metadata.Metadata[metadata.RootType]
	Targets *metadata.Metadata[metadata.TargetsType]
	// Versions of root, timestamp, snapshot and targets now trusted.
	Versions map[string]int64
}

// Refresh brings the device's metadata up to date from the remote, as
// TUF's client workflow does: each new root signed by the old root's keys
// and its own; then the timestamp, snapshot and targets, each signed by
// the keys the root names, none older than what the device has taken,
// each version the one the role above names, none expired at now. A
// failure is an *update.CheckError naming the check.
func Refresh(ctx context.Context, r Remote, have Trusted, now time.Time) (*Refreshed, error) {
	tm, err := trustedmetadata.New(have.Root)
	if err != nil {
		return nil, &update.CheckError{Check: "metadata", Err: fmt.Errorf("the device's trusted root does not load: %w", err)}
	}
	tm.RefTime = now.UTC()
	out := &Refreshed{Trusted: Trusted{Root: have.Root}, Versions: map[string]int64{}}

	for range MaxRootRotations {
		name := FileName(metadata.ROOT, tm.Root.Signed.Version+1)
		data, err := r.Get(ctx, name, limits[metadata.ROOT])
		if errors.Is(err, publish.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fetchError(name, err)
		}
		if _, err := tm.UpdateRoot(data); err != nil {
			return nil, checkError(metadata.ROOT, name, tm, err)
		}
		out.Trusted.Root = data
	}

	// What the device took before guards against rollback. When a new root
	// changed the keys, what they signed no longer verifies: it is dropped,
	// as TUF's fast-forward recovery asks.
	if have.Timestamp != nil {
		if _, err := tm.UpdateTimestamp(have.Timestamp); err != nil && tm.Timestamp == nil {
			have.Snapshot, have.Targets = nil, nil
		}
	}
	data, err := r.Get(ctx, FileName(metadata.TIMESTAMP, 0), limits[metadata.TIMESTAMP])
	if err != nil {
		return nil, fetchError("timestamp.json", err)
	}
	out.Trusted.Timestamp = data
	if _, err := tm.UpdateTimestamp(data); err != nil {
		var same *metadata.ErrEqualVersionNumber
		if !errors.As(err, &same) {
			return nil, checkError(metadata.TIMESTAMP, "timestamp.json", tm, err)
		}
		out.Trusted.Timestamp = have.Timestamp
		if tm.Timestamp.Signed.IsExpired(tm.RefTime) {
			return nil, checkError(metadata.TIMESTAMP, "timestamp.json", tm, &metadata.ErrExpiredMetadata{Msg: "timestamp.json is expired"})
		}
	}

	want := tm.Timestamp.Signed.Meta["snapshot.json"].Version
	if have.Snapshot != nil {
		if _, err := tm.UpdateSnapshot(have.Snapshot, true); err != nil && tm.Snapshot == nil {
			have.Targets = nil
		}
	}
	if tm.Snapshot != nil && tm.Snapshot.Signed.Version == want && !tm.Snapshot.Signed.IsExpired(tm.RefTime) {
		out.Trusted.Snapshot = have.Snapshot
	} else {
		name := FileName(metadata.SNAPSHOT, want)
		data, err := r.Get(ctx, name, limits[metadata.SNAPSHOT])
		if err != nil {
			return nil, fetchError(name, err)
		}
		if _, err := tm.UpdateSnapshot(data, false); err != nil {
			return nil, checkError(metadata.SNAPSHOT, name, tm, err)
		}
		out.Trusted.Snapshot = data
	}

	wantTargets := tm.Snapshot.Signed.Meta["targets.json"].Version
	name := FileName(metadata.TARGETS, wantTargets)
	data = have.Targets
	if data != nil {
		if old, err := metadata.Targets().FromBytes(data); err != nil || old.Signed.Version != wantTargets {
			data = nil
		}
	}
	if data == nil {
		if data, err = r.Get(ctx, name, limits[metadata.TARGETS]); err != nil {
			return nil, fetchError(name, err)
		}
	}
	if _, err := tm.UpdateTargets(data); err != nil {
		return nil, checkError(metadata.TARGETS, name, tm, err)
	}
	out.Trusted.Targets = data
	out.Root, out.Targets = tm.Root, tm.Targets[metadata.TARGETS]
	out.Versions = map[string]int64{metadata.ROOT: tm.Root.Signed.Version, metadata.TIMESTAMP: tm.Timestamp.Signed.Version,
		metadata.SNAPSHOT: tm.Snapshot.Signed.Version, metadata.TARGETS: out.Targets.Signed.Version}
	return out, nil
}

func fetchError(name string, err error) error {
	if errors.Is(err, publish.ErrNotFound) {
		return &update.CheckError{Check: "metadata", Err: fmt.Errorf("the channel has no %s: %w", name, err)}
	}
	return fmt.Errorf("fetching %s: %w", name, err)
}

// checkError names what a role's file failed, in the device's words.
func checkError(role, name string, tm *trustedmetadata.TrustedMetadata, err error) error {
	var (
		expired  *metadata.ErrExpiredMetadata
		version  *metadata.ErrBadVersionNumber
		unsigned *metadata.ErrUnsignedMetadata
		lengths  *metadata.ErrLengthOrHashMismatch
	)
	check, what := role, err.Error()
	switch {
	case errors.As(err, &expired):
		check = "expiry"
		what = fmt.Sprintf("%s: %s (the device's time is %s: a frozen or stale channel)", name, expired.Msg, tm.RefTime.Format(time.RFC3339))
	case errors.As(err, &version):
		check = "rollback"
		what = fmt.Sprintf("%s: %s (a rollback, or files of different versions mixed)", name, version.Msg)
	case errors.As(err, &unsigned):
		check = "signature"
		what = fmt.Sprintf("%s is not signed by enough of the %s keys the trusted root names: %s", name, role, unsigned.Msg)
	case errors.As(err, &lengths):
		what = fmt.Sprintf("%s is not the file the role above names: %v", name, err)
	default:
		what = fmt.Sprintf("%s: %v", name, err)
	}
	return &update.CheckError{Check: check, Err: errors.New(what)}
}

// Custom is what a bundle's target says of it, under "plinth" in the
// target's custom metadata.
type Custom struct {
	Boards       []string `json:"boards"`
	HardwareIDs  []string `json:"hardware_ids"`
	Microkit     string   `json:"microkit"`
	Version      uint64   `json:"version"`
	Floor        uint64   `json:"floor"`
	MinInstalled uint64   `json:"min_installed"`
	Kind         string   `json:"kind"`
	Base         string   `json:"base,omitempty"` // a delta's base slot (sha256)
	Release      string   `json:"release"`        // the release's manifest digest
	Tag          string   `json:"tag,omitempty"`  // the tag it was published under
}

// Target is a bundle's entry in a channel's targets: its path, length,
// sha256 and what plinth says of it.
func Target(o publish.Offer, release ocispec.Descriptor, tag string, hardwareIDs []string) (string, *metadata.TargetFiles, error) {
	if o.Layer.Digest.Algorithm() != digest.SHA256 {
		return "", nil, fmt.Errorf("bundle %s: not a sha256 digest", o.Layer.Digest)
	}
	if len(hardwareIDs) == 0 {
		hardwareIDs = o.Boards
	}
	c := Custom{Boards: o.Boards, HardwareIDs: hardwareIDs, Microkit: o.Microkit, Version: o.Version, Floor: o.Floor, MinInstalled: o.MinInstalled,
		Kind: o.Kind, Base: o.Base, Release: release.Digest.String(), Tag: tag}
	raw, err := json.Marshal(map[string]Custom{"plinth": c})
	if err != nil {
		return "", nil, err
	}
	msg := json.RawMessage(raw)
	sum, err := hex.DecodeString(o.Layer.Digest.Encoded())
	if err != nil {
		return "", nil, err
	}
	tf := metadata.TargetFile()
	tf.Length = o.Layer.Size
	tf.Hashes = metadata.Hashes{"sha256": sum}
	tf.Custom = &msg
	path := fmt.Sprintf("v%d/%s-%s.bundle", o.Version, o.Kind, o.Layer.Digest.Encoded()[:16])
	tf.Path = path
	return path, tf, nil
}

// Offer is a target as a bundle on offer, with its path.
type Offer struct {
	publish.Offer
	Path   string
	Custom Custom
}

// Offers are the bundles the targets name (entries plinth did not put
// there are passed over).
func Offers(t *metadata.Metadata[metadata.TargetsType]) []Offer {
	var out []Offer
	for path, tf := range t.Signed.Targets {
		var c map[string]Custom
		if tf.Custom == nil || json.Unmarshal(*tf.Custom, &c) != nil {
			continue // not a bundle plinth put there
		}
		p, ok := c["plinth"]
		sum := tf.Hashes["sha256"]
		if !ok || len(sum) != 32 {
			continue
		}
		out = append(out, Offer{Path: path, Custom: p, Offer: publish.Offer{
			Layer:   ocispec.Descriptor{MediaType: publish.BundleFileType, Digest: digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(sum)), Size: tf.Length},
			Version: p.Version, Kind: p.Kind, Base: p.Base, Boards: p.HardwareIDs, Microkit: p.Microkit, Floor: p.Floor, MinInstalled: p.MinInstalled,
		}})
	}
	return out
}
