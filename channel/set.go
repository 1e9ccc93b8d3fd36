package channel

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pointsav/plinth/publish"
)

// Roles are TUF's top-level roles, in the order a set is pushed.
var Roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// DefaultExpiry is how long each role's metadata stays valid: the root
// (offline keys) a year, targets three months, the snapshot a week, the
// timestamp (an online key, signed again by a job) a day.
var DefaultExpiry = map[string]time.Duration{
	metadata.ROOT: 365 * 24 * time.Hour, metadata.TARGETS: 90 * 24 * time.Hour,
	metadata.SNAPSHOT: 7 * 24 * time.Hour, metadata.TIMESTAMP: 24 * time.Hour,
}

// Limits on what a device reads of each file (TUF's "endless data").
var limits = map[string]int64{metadata.ROOT: 512 << 10, metadata.TIMESTAMP: 16 << 10, metadata.SNAPSHOT: 256 << 10, metadata.TARGETS: 4 << 20}

// FileName is the name a role's version is kept under (consistent
// snapshots: every version its own file; the timestamp always the same).
func FileName(role string, version int64) string {
	if role == metadata.TIMESTAMP {
		return "timestamp.json"
	}
	return fmt.Sprintf("%d.%s.json", version, role)
}

// Set is a channel's metadata as its operator changes it: the four roles,
// the root before a rotation (whose keys sign the new one too), and which
// roles changed and are to be signed and pushed.
type Set struct {
	Root      *metadata.Metadata[metadata.RootType]
	Targets   *metadata.Metadata[metadata.TargetsType]
	Snapshot  *metadata.Metadata[metadata.SnapshotType]
	Timestamp *metadata.Metadata[metadata.TimestampType]
	PrevRoot  *metadata.Metadata[metadata.RootType]
	Changed   map[string]bool
	// Expiry is how long each role's new versions are valid.
	Expiry map[string]time.Duration
	// Now is when new versions are made (their expiry counts from it).
	Now time.Time
}

// RoleKeys are the public keys of each role, and how many must sign.
type RoleKeys struct {
	Keys       map[string][]crypto.PublicKey
	Thresholds map[string]int // missing: 1
}

// New makes version 1 of a channel: a root naming keys, empty targets, a
// snapshot and a timestamp, none signed yet.
func New(keys RoleKeys, now time.Time, expiry map[string]time.Duration) (*Set, error) {
	s := &Set{Changed: map[string]bool{}, Expiry: withDefaults(expiry), Now: now.UTC()}
	s.Root = metadata.Root(s.expires(metadata.ROOT))
	s.Root.Signed.ConsistentSnapshot = true
	if err := s.setKeys(keys); err != nil {
		return nil, err
	}
	s.Targets = metadata.Targets(s.expires(metadata.TARGETS))
	s.Snapshot = metadata.Snapshot(s.expires(metadata.SNAPSHOT))
	s.Timestamp = metadata.Timestamp(s.expires(metadata.TIMESTAMP))
	s.link()
	for _, r := range Roles {
		s.Changed[r] = true
	}
	return s, nil
}

func withDefaults(expiry map[string]time.Duration) map[string]time.Duration {
	e := maps.Clone(DefaultExpiry)
	maps.Copy(e, expiry)
	return e
}

func (s *Set) expires(role string) time.Time {
	return s.Now.Add(s.Expiry[role]).Truncate(time.Second)
}

// setKeys gives each role in keys its keys and threshold; roles keys does
// not name keep theirs.
func (s *Set) setKeys(k RoleKeys) error {
	for _, role := range Roles {
		pubs, ok := k.Keys[role]
		if !ok {
			r := s.Root.Signed.Roles[role]
			if r == nil || len(r.KeyIDs) == 0 {
				return fmt.Errorf("the %s role needs a key", role)
			}
			if n, ok := k.Thresholds[role]; ok {
				if n < 1 || n > len(r.KeyIDs) {
					return fmt.Errorf("the %s role's threshold %d is not between 1 and its %d keys", role, n, len(r.KeyIDs))
				}
				s.Root.Signed.Roles[role] = &metadata.Role{KeyIDs: r.KeyIDs, Threshold: n}
			}
			continue
		}
		var ids []string
		for _, pub := range pubs {
			key, err := tufKey(pub)
			if err != nil {
				return fmt.Errorf("a %s key: %w", role, err)
			}
			id, err := key.ID()
			if err != nil {
				return err
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
			s.Root.Signed.Keys[id] = key
		}
		threshold := max(k.Thresholds[role], 1)
		if threshold > len(ids) {
			return fmt.Errorf("the %s role's threshold %d is more than its %d keys", role, threshold, len(ids))
		}
		slices.Sort(ids)
		s.Root.Signed.Roles[role] = &metadata.Role{KeyIDs: ids, Threshold: threshold}
	}
	// Keys no role names any more go (a revoked key stays out).
	used := map[string]bool{}
	for _, r := range s.Root.Signed.Roles {
		for _, id := range r.KeyIDs {
			used[id] = true
		}
	}
	maps.DeleteFunc(s.Root.Signed.Keys, func(id string, _ *metadata.Key) bool { return !used[id] })
	return nil
}

// Load reads the channel's newest metadata from the remote: the root
// versions in turn until the next is not there, then the timestamp and the
// snapshot and targets it names. An operator's set is not judged here
// (an expired one is what a refresh replaces); Push checks signatures.
func Load(ctx context.Context, r Remote, now time.Time, expiry map[string]time.Duration) (*Set, error) {
	s := &Set{Changed: map[string]bool{}, Expiry: withDefaults(expiry), Now: now.UTC()}
	for v := int64(1); ; v++ {
		data, err := r.Get(ctx, FileName(metadata.ROOT, v), limits[metadata.ROOT])
		if errors.Is(err, publish.ErrNotFound) && v > 1 {
			break
		}
		if errors.Is(err, publish.ErrNotFound) {
			return nil, fmt.Errorf("the channel has no metadata (no 1.root.json): make it with plinth release init")
		}
		if err != nil {
			return nil, err
		}
		if s.Root, err = metadata.Root().FromBytes(data); err != nil {
			return nil, fmt.Errorf("%s: %w", FileName(metadata.ROOT, v), err)
		}
	}
	data, err := r.Get(ctx, FileName(metadata.TIMESTAMP, 0), limits[metadata.TIMESTAMP])
	if err != nil {
		return nil, err
	}
	if s.Timestamp, err = metadata.Timestamp().FromBytes(data); err != nil {
		return nil, fmt.Errorf("timestamp.json: %w", err)
	}
	name := FileName(metadata.SNAPSHOT, s.Timestamp.Signed.Meta["snapshot.json"].Version)
	if data, err = r.Get(ctx, name, limits[metadata.SNAPSHOT]); err != nil {
		return nil, err
	}
	if s.Snapshot, err = metadata.Snapshot().FromBytes(data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	name = FileName(metadata.TARGETS, s.Snapshot.Signed.Meta["targets.json"].Version)
	if data, err = r.Get(ctx, name, limits[metadata.TARGETS]); err != nil {
		return nil, err
	}
	if s.Targets, err = metadata.Targets().FromBytes(data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Bump makes a new version of a role, valid from now for its expiry, and
// the new snapshot and timestamp that name it.
func (s *Set) Bump(role string) {
	if s.Changed[role] {
		return
	}
	s.Changed[role] = true
	switch role {
	case metadata.ROOT:
		prev := *s.Root
		s.PrevRoot = &prev
		signed := s.Root.Signed
		signed.Keys = maps.Clone(signed.Keys)
		signed.Roles = maps.Clone(signed.Roles)
		s.Root = &metadata.Metadata[metadata.RootType]{Signed: signed}
		s.Root.Signed.Version++
		s.Root.Signed.Expires = s.expires(role)
		return // a new root alone changes nothing the snapshot names
	case metadata.TARGETS:
		s.Targets.Signed.Version++
		s.Targets.Signed.Expires = s.expires(role)
		s.Targets.ClearSignatures()
		s.Bump(metadata.SNAPSHOT)
	case metadata.SNAPSHOT:
		s.Snapshot.Signed.Version++
		s.Snapshot.Signed.Expires = s.expires(role)
		s.Snapshot.ClearSignatures()
		s.Bump(metadata.TIMESTAMP)
	case metadata.TIMESTAMP:
		s.Timestamp.Signed.Version++
		s.Timestamp.Signed.Expires = s.expires(role)
		s.Timestamp.ClearSignatures()
	}
	s.link()
}

// link makes the snapshot name the targets' version and the timestamp
// the snapshot's. Versions only: a signature added to a staged file
// changes its bytes, never its version.
func (s *Set) link() {
	s.Snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metadata.MetaFile(s.Targets.Signed.Version)}
	s.Timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metadata.MetaFile(s.Snapshot.Signed.Version)}
}

// AddTargets puts files in the targets (a path already there is
// replaced) and makes new targets, snapshot and timestamp versions.
func (s *Set) AddTargets(files map[string]*metadata.TargetFiles) {
	s.Bump(metadata.TARGETS)
	maps.Copy(s.Targets.Signed.Targets, files)
}

// RemoveTargets takes paths out of the targets.
func (s *Set) RemoveTargets(paths []string) error {
	for _, p := range paths {
		if _, ok := s.Targets.Signed.Targets[p]; !ok {
			return fmt.Errorf("the channel's targets have no %s", p)
		}
	}
	s.Bump(metadata.TARGETS)
	for _, p := range paths {
		delete(s.Targets.Signed.Targets, p)
	}
	return nil
}

// Rotate makes a new root with the keys given (roles not named keep
// theirs), signed by the old root's keys and the new ones; roles whose
// keys changed are made again, to be signed by their new keys.
func (s *Set) Rotate(keys RoleKeys) error {
	before := map[string][]string{}
	for _, r := range Roles {
		before[r] = s.Root.Signed.Roles[r].KeyIDs
	}
	s.Bump(metadata.ROOT)
	if err := s.setKeys(keys); err != nil {
		return err
	}
	for _, r := range Roles[1:] {
		if !slices.Equal(before[r], s.Root.Signed.Roles[r].KeyIDs) {
			s.Bump(r)
		}
	}
	return nil
}

// Sign signs each changed role whose keys include the signer's (for a new
// root, the old root's keys too). It says which roles it signed.
func (s *Set) Sign(signer crypto.Signer) ([]string, error) {
	id, err := KeyID(signer.Public())
	if err != nil {
		return nil, err
	}
	if err := checkSigner(signer); err != nil {
		return nil, err
	}
	var signed []string
	for _, role := range Roles {
		if !s.Changed[role] || !s.keyOf(role, id) {
			continue
		}
		var err error
		switch role {
		case metadata.ROOT:
			err = signOnce(s.Root, id, signer)
		case metadata.TARGETS:
			err = signOnce(s.Targets, id, signer)
		case metadata.SNAPSHOT:
			err = signOnce(s.Snapshot, id, signer)
		case metadata.TIMESTAMP:
			err = signOnce(s.Timestamp, id, signer)
		}
		if err != nil {
			return signed, fmt.Errorf("signing %s: %w", role, err)
		}
		signed = append(signed, role)
	}
	return signed, nil
}

func (s *Set) keyOf(role, id string) bool {
	if slices.Contains(s.Root.Signed.Roles[role].KeyIDs, id) {
		return true
	}
	return role == metadata.ROOT && s.PrevRoot != nil && slices.Contains(s.PrevRoot.Signed.Roles[role].KeyIDs, id)
}

func signOnce[T metadata.Roles](md *metadata.Metadata[T], id string, signer crypto.Signer) error {
	md.Signatures = slices.DeleteFunc(md.Signatures, func(sig metadata.Signature) bool { return sig.KeyID == id })
	_, err := md.Sign(tufSigner{signer})
	return err
}

// Missing says, for each changed role, what its signatures lack.
func (s *Set) Missing() []string {
	var out []string
	check := func(role string, err error) {
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", FileName(role, s.version(role)), err))
		}
	}
	for _, role := range Roles {
		if !s.Changed[role] {
			continue
		}
		switch role {
		case metadata.ROOT:
			if s.PrevRoot != nil {
				check(role, explain(s.PrevRoot, role, s.PrevRoot.VerifyDelegate(role, s.Root)))
			}
			check(role, explain(s.Root, role, s.Root.VerifyDelegate(role, s.Root)))
		case metadata.TARGETS:
			check(role, explain(s.Root, role, s.Root.VerifyDelegate(role, s.Targets)))
		case metadata.SNAPSHOT:
			check(role, explain(s.Root, role, s.Root.VerifyDelegate(role, s.Snapshot)))
		case metadata.TIMESTAMP:
			check(role, explain(s.Root, role, s.Root.VerifyDelegate(role, s.Timestamp)))
		}
	}
	return out
}

// explain says which keys a role's threshold counts, for an operator.
func explain(root *metadata.Metadata[metadata.RootType], role string, err error) error {
	if err == nil {
		return nil
	}
	r := root.Signed.Roles[role]
	return fmt.Errorf("needs %d signatures of root version %d's %s keys (%s): %v", r.Threshold, root.Signed.Version, role, ShortKeyIDs(r.KeyIDs), err)
}

// ShortKeyIDs is key ids as people read them: the first 12 digits of each.
func ShortKeyIDs(ids []string) string {
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = id[:min(12, len(id))]
	}
	return strings.Join(short, ", ")
}

func (s *Set) version(role string) int64 {
	switch role {
	case metadata.ROOT:
		return s.Root.Signed.Version
	case metadata.TARGETS:
		return s.Targets.Signed.Version
	case metadata.SNAPSHOT:
		return s.Snapshot.Signed.Version
	}
	return s.Timestamp.Signed.Version
}

// Files are the changed roles' files, by name, in the order they are
// pushed.
func (s *Set) Files() ([]string, map[string][]byte, error) {
	var names []string
	files := map[string][]byte{}
	for _, role := range Roles {
		if !s.Changed[role] {
			continue
		}
		var data []byte
		var err error
		switch role {
		case metadata.ROOT:
			data, err = s.Root.ToBytes(false)
		case metadata.TARGETS:
			data, err = s.Targets.ToBytes(false)
		case metadata.SNAPSHOT:
			data, err = s.Snapshot.ToBytes(false)
		case metadata.TIMESTAMP:
			data, err = s.Timestamp.ToBytes(false)
		}
		if err != nil {
			return nil, nil, err
		}
		name := FileName(role, s.version(role))
		names = append(names, name)
		files[name] = data
	}
	return names, files, nil
}

// Push puts the changed roles' files in the remote (root first, the
// timestamp last, so a device never sees a timestamp naming what is not
// there yet); it refuses while any lacks signatures.
func (s *Set) Push(ctx context.Context, r Remote) ([]string, error) {
	if missing := s.Missing(); len(missing) > 0 {
		return nil, fmt.Errorf("not enough signatures, nothing pushed:\n  %s", strings.Join(missing, "\n  "))
	}
	names, files, err := s.Files()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := r.Put(ctx, name, files[name]); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", name, err)
		}
	}
	return names, nil
}
