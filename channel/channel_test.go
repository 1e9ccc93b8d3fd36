package channel

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/update"
)

// memRemote keeps files in memory, as the registry does under tags.
type memRemote struct {
	mu    sync.Mutex
	files map[string][]byte
	gets  []string
}

func newMem() *memRemote { return &memRemote{files: map[string][]byte{}} }

func (m *memRemote) Get(_ context.Context, name string, limit int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets = append(m.gets, name)
	d, ok := m.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, publish.ErrNotFound)
	}
	if int64(len(d)) > limit {
		return nil, fmt.Errorf("%s: too big", name)
	}
	return d, nil
}

func (m *memRemote) Put(_ context.Context, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = data
	return nil
}

func (m *memRemote) snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.files)
}

func key(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// channelOf makes a channel: root (two keys, threshold 2), targets,
// snapshot and timestamp keys; pushed to a memory remote.
type testChannel struct {
	r                            *memRemote
	root1, root2, tgt, snap, tsk crypto.Signer
	trusted                      Trusted
}

func newChannel(t *testing.T) *testChannel {
	c := &testChannel{r: newMem(), root1: key(t), root2: key(t), tgt: key(t), snap: key(t), tsk: key(t)}
	s, err := New(RoleKeys{Keys: map[string][]crypto.PublicKey{
		metadata.ROOT: {c.root1.Public(), c.root2.Public()}, metadata.TARGETS: {c.tgt.Public()},
		metadata.SNAPSHOT: {c.snap.Public()}, metadata.TIMESTAMP: {c.tsk.Public()},
	}, Thresholds: map[string]int{metadata.ROOT: 2}}, t0, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.sign(t, s, c.root1, c.root2, c.tgt, c.snap, c.tsk)
	c.push(t, s)
	c.trusted = Trusted{Root: c.r.files["1.root.json"]}
	return c
}

func (c *testChannel) sign(t *testing.T, s *Set, signers ...crypto.Signer) {
	t.Helper()
	for _, k := range signers {
		if _, err := s.Sign(k); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *testChannel) push(t *testing.T, s *Set) {
	t.Helper()
	if _, err := s.Push(context.Background(), c.r); err != nil {
		t.Fatal(err)
	}
}

func (c *testChannel) load(t *testing.T, now time.Time) *Set {
	t.Helper()
	s, err := Load(context.Background(), c.r, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *testChannel) addTarget(t *testing.T, now time.Time, path string, version uint64) {
	t.Helper()
	s := c.load(t, now)
	tf := metadata.TargetFile()
	tf.Length, tf.Hashes = 10, metadata.Hashes{"sha256": make([]byte, 32)}
	raw := []byte(fmt.Sprintf(`{"plinth":{"boards":["b"],"hardware_ids":["b"],"microkit":"2.0.1","version":%d,"kind":"full","release":"sha256:00"}}`, version))
	custom := json.RawMessage(raw)
	tf.Custom = &custom
	s.AddTargets(map[string]*metadata.TargetFiles{path: tf})
	c.sign(t, s, c.tgt, c.snap, c.tsk)
	c.push(t, s)
}

// refresh runs a device's refresh and keeps what it took.
func (c *testChannel) refresh(t *testing.T, now time.Time) (*Refreshed, error) {
	t.Helper()
	got, err := Refresh(context.Background(), c.r, c.trusted, now)
	if err == nil {
		c.trusted = got.Trusted
	}
	return got, err
}

func checkOf(err error) string {
	var ce *update.CheckError
	if errors.As(err, &ce) {
		return ce.Check
	}
	return ""
}

func TestARefreshTakesTheNewestTargets(t *testing.T) {
	c := newChannel(t)
	c.addTarget(t, t0, "v2/full.bundle", 2)
	got, err := c.refresh(t, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	offers := Offers(got.Targets)
	if len(offers) != 1 || offers[0].Version != 2 || got.Versions[metadata.TARGETS] != 2 {
		t.Fatalf("offers %+v versions %v", offers, got.Versions)
	}
	// Nothing new: the timestamp is the same, the rest is not fetched again.
	c.r.gets = nil
	if _, err := c.refresh(t, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.r.gets, " ") != "2.root.json timestamp.json" {
		t.Errorf("an unchanged channel fetched %v", c.r.gets)
	}
}

func TestRefreshRefusals(t *testing.T) {
	t.Run("expired timestamp (freeze)", func(t *testing.T) {
		c := newChannel(t)
		_, err := c.refresh(t, t0.Add(25*time.Hour))
		if checkOf(err) != "expiry" || !strings.Contains(err.Error(), "timestamp.json") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("rolled-back snapshot", func(t *testing.T) {
		c := newChannel(t)
		old := c.r.snapshot()
		c.addTarget(t, t0, "v2/full.bundle", 2)
		if _, err := c.refresh(t, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// The registry serves the old snapshot and timestamp again.
		c.r.files = old
		_, err := c.refresh(t, t0.Add(time.Hour))
		if checkOf(err) != "rollback" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("rolled-back snapshot under a fresh timestamp", func(t *testing.T) {
		c := newChannel(t)
		c.addTarget(t, t0, "v2/full.bundle", 2)
		if _, err := c.refresh(t, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// A timestamp key holder signs a new timestamp naming snapshot 1.
		s := c.load(t, t0)
		s.Bump(metadata.TIMESTAMP)
		s.Timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(1)
		c.sign(t, s, c.tsk)
		c.push(t, s)
		_, err := c.refresh(t, t0.Add(time.Hour))
		if checkOf(err) != "rollback" || !strings.Contains(err.Error(), "snapshot version 1 must be >= 2") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("mix and match", func(t *testing.T) {
		c := newChannel(t)
		c.addTarget(t, t0, "v2/full.bundle", 2)
		// Snapshot 2's file replaced by snapshot 1's (a mirror mixing versions).
		c.r.files["2.snapshot.json"] = c.r.files["1.snapshot.json"]
		_, err := c.refresh(t, t0.Add(time.Hour))
		if checkOf(err) != "rollback" || !strings.Contains(err.Error(), "mixed") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("targets signed by the wrong key", func(t *testing.T) {
		c := newChannel(t)
		s := c.load(t, t0)
		s.AddTargets(nil)
		c.sign(t, s, c.snap, c.tsk)
		if _, err := s.Targets.Sign(tufSigner{key(t)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Push(context.Background(), c.r); err == nil || !strings.Contains(err.Error(), "2.targets.json") {
			t.Fatalf("an unsigned targets was pushed: %v", err)
		}
		names, files, _ := s.Files()
		for _, n := range names {
			c.r.files[n] = files[n]
		}
		_, err := c.refresh(t, t0.Add(time.Hour))
		if checkOf(err) != "signature" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a root signed by one of two root keys", func(t *testing.T) {
		c := newChannel(t)
		s := c.load(t, t0)
		if err := s.Rotate(RoleKeys{Keys: map[string][]crypto.PublicKey{metadata.TARGETS: {key(t).Public()}}}); err != nil {
			t.Fatal(err)
		}
		c.sign(t, s, c.root1)
		if m := s.Missing(); len(m) == 0 || !strings.Contains(m[0], "2.root.json") {
			t.Fatalf("missing %v", m)
		}
		data, _ := s.Root.ToBytes(false)
		c.r.files["2.root.json"] = data
		_, err := c.refresh(t, t0.Add(time.Hour))
		if checkOf(err) != "signature" || !strings.Contains(err.Error(), "2.root.json") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("expired root", func(t *testing.T) {
		c := newChannel(t)
		_, err := c.refresh(t, t0.Add(366*24*time.Hour))
		if checkOf(err) != "expiry" || !strings.Contains(err.Error(), "root") {
			t.Fatalf("got %v", err)
		}
	})
}

// A targets key is revoked by a new root: what the old key signs after
// that is refused, what the new key signs is taken, and a device that
// skipped versions walks the roots in turn.
func TestRotationRevokesAKey(t *testing.T) {
	c := newChannel(t)
	c.addTarget(t, t0, "v2/full.bundle", 2)
	if _, err := c.refresh(t, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	newTargets, newRoot := key(t), key(t)
	s := c.load(t, t0.Add(2*time.Hour))
	if err := s.Rotate(RoleKeys{Keys: map[string][]crypto.PublicKey{metadata.TARGETS: {newTargets.Public()}, metadata.ROOT: {c.root2.Public(), newRoot.Public()}},
		Thresholds: map[string]int{metadata.ROOT: 2}}); err != nil {
		t.Fatal(err)
	}
	if !s.Changed[metadata.TARGETS] || s.Targets.Signed.Version != 3 {
		t.Fatalf("a rotated targets key did not make new targets: %v", s.Changed)
	}
	// The old root's two keys and the new root's two.
	c.sign(t, s, c.root1, c.root2, newRoot, newTargets, c.snap, c.tsk)
	c.push(t, s)
	got, err := c.refresh(t, t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.Versions[metadata.ROOT] != 2 || got.Versions[metadata.TARGETS] != 3 {
		t.Fatalf("versions %v", got.Versions)
	}
	// The revoked key signs targets 4: refused.
	s = c.load(t, t0.Add(4*time.Hour))
	s.AddTargets(nil)
	c.sign(t, s, c.tgt, c.snap, c.tsk)
	names, files, _ := s.Files()
	for _, n := range names {
		c.r.files[n] = files[n]
	}
	_, err = c.refresh(t, t0.Add(5*time.Hour))
	if checkOf(err) != "signature" || !strings.Contains(err.Error(), "4.targets.json") {
		t.Fatalf("targets signed by a revoked key: %v", err)
	}
	// The new key signs targets 4 again: taken; and a device still
	// provisioned with root 1 walks to root 2 and takes it too.
	s.Targets.ClearSignatures()
	s.Snapshot.ClearSignatures()
	s.Timestamp.ClearSignatures()
	c.sign(t, s, newTargets, c.snap, c.tsk)
	c.push(t, s)
	if got, err = c.refresh(t, t0.Add(5*time.Hour)); err != nil || got.Versions[metadata.TARGETS] != 4 {
		t.Fatalf("targets 4 signed by the new key: %v", err)
	}
	fresh := &testChannel{r: c.r, trusted: Trusted{Root: c.r.files["1.root.json"]}}
	if got, err = fresh.refresh(t, t0.Add(5*time.Hour)); err != nil || got.Versions[metadata.ROOT] != 2 || got.Versions[metadata.TARGETS] != 4 {
		t.Fatalf("a device on root 1: %v %v", err, got)
	}
}

// Staged: the root keys sign in two places, then it is pushed.
func TestStagedSetIsSignedElsewhere(t *testing.T) {
	c := newChannel(t)
	s := c.load(t, t0)
	if err := s.Rotate(RoleKeys{Thresholds: map[string]int{metadata.ROOT: 1}}); err != nil {
		t.Fatal(err)
	}
	c.sign(t, s, c.root1)
	dir := t.TempDir()
	if err := s.Stage(dir); err != nil {
		t.Fatal(err)
	}
	back, err := LoadStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Missing()) == 0 {
		t.Fatal("the old root's threshold of 2 is met by one key")
	}
	if _, err := back.Push(context.Background(), c.r); err == nil {
		t.Fatal("pushed short of signatures")
	}
	c.sign(t, back, c.root2)
	if m := back.Missing(); len(m) != 0 {
		t.Fatal(m)
	}
	c.push(t, back)
	if got, err := c.refresh(t, t0.Add(time.Hour)); err != nil || got.Root.Signed.Roles[metadata.ROOT].Threshold != 1 {
		t.Fatalf("%v", err)
	}
}
