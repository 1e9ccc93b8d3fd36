package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pointsav/plinth/internal/safename"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cache is a content-addressed store of step outputs on disk: blobs by
// digest (cas/), and an action record per step key (ac/) naming the blobs a
// step produced. Every entry is written under a temporary name and renamed;
// every blob is checked against its digest when read, and a corrupt one is
// dropped, never returned. A lock per key lets concurrent builds share it.
type Cache struct {
	Dir    string
	Remote RemoteStore // optional: read through and write back

	toolsOnce sync.Once
	toolMemo  *toolMemo
}

// Output is one file a step produced.
type Output struct {
	Path       string `json:"path"`
	Digest     Digest `json:"digest"`
	Size       int64  `json:"size"`
	Executable bool   `json:"executable,omitempty"`
}

// ActionRecord is what the cache keeps for one step key.
type ActionRecord struct {
	Key Digest `json:"key"`
	// ActionSize is the length of the REAPI Action whose digest is Key.
	ActionSize int64  `json:"action_size"`
	Step       string `json:"step"`
	// The build that made it, for people (not part of the key: another
	// build with the same inputs shares the record).
	Recipe   string   `json:"recipe,omitempty"`
	Board    string   `json:"board,omitempty"`
	Config   string   `json:"config,omitempty"`
	Outputs  []Output `json:"outputs"`
	Log      Digest   `json:"log"`
	Duration float64  `json:"duration_seconds"`
	Created  string   `json:"created"`
}

// ErrCorrupt marks a cache entry whose bytes do not match its digest.
var ErrCorrupt = errors.New("cache entry does not match its digest")

// OpenCache makes the cache's directories.
func OpenCache(dir string, remote RemoteStore) (*Cache, error) {
	// Absolute: steps run their commands in their own work directories,
	// where a relative path would name something else.
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	dir = abs
	for _, sub := range []string{"cas", "ac", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	return &Cache{Dir: dir, Remote: remote}, nil
}

// WorkRoot is where steps run, each in a private directory of its own.
func (c *Cache) WorkRoot() string { return filepath.Join(c.Dir, "work") }

// casPath is where a blob lives. A digest that is not 64 hex digits (from
// a foreign record) names a path that cannot exist inside cas/, never one
// outside it.
func (c *Cache) casPath(d Digest) string {
	if safename.Hex(string(d), 64) != nil {
		return filepath.Join(c.Dir, "cas", "not-a-digest")
	}
	return filepath.Join(c.Dir, "cas", string(d[:2]), string(d))
}

// BlobPath is where the blob of a digest is kept.
func (c *Cache) BlobPath(d Digest) string { return c.casPath(d) }

// RecordPath is where the action record of a key is kept.
func (c *Cache) RecordPath(k Digest) string { return c.acPath(k) }

// checkRecord says what is wrong with a record (local or from the remote
// cache) before anything is written from it: its digests must be digests,
// its step this step, its outputs exactly the declared ones. Any fault is a
// cache miss, never a write.
func checkRecord(rec *ActionRecord, key Digest, step string, outputs []string) error {
	if rec.Key != key {
		return fmt.Errorf("record for another key")
	}
	if rec.Step != step {
		return fmt.Errorf("record for step %q, not %q", rec.Step, step)
	}
	if err := safename.Hex(string(rec.Log), 64); err != nil {
		return fmt.Errorf("log digest: %v", err)
	}
	got := map[string]bool{}
	for _, o := range rec.Outputs {
		if err := safename.RelPath(o.Path); err != nil {
			return fmt.Errorf("output %v", err)
		}
		if err := safename.Hex(string(o.Digest), 64); err != nil {
			return fmt.Errorf("output %s: %v", o.Path, err)
		}
		got[o.Path] = true
	}
	for _, o := range outputs {
		if !got[o] {
			return fmt.Errorf("it lacks the declared output %s", o)
		}
	}
	if len(got) != len(outputs) {
		return fmt.Errorf("it has outputs the step does not declare")
	}
	return nil
}
func (c *Cache) acPath(k Digest) string { return filepath.Join(c.Dir, "ac", string(k)+".json") }

// tempFile makes a file in the cache's own tmp/ (same file system, so a
// rename into place is atomic).
func (c *Cache) tempFile() (*os.File, error) {
	return os.CreateTemp(filepath.Join(c.Dir, "tmp"), "put-*")
}

// PutFile stores a file's contents and returns its digest.
func (c *Cache) PutFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return c.put(f)
}

// PutBytes stores bytes and returns their digest.
func (c *Cache) PutBytes(b []byte) (Digest, error) {
	d, _, err := c.put(strings.NewReader(string(b)))
	return d, err
}

func (c *Cache) put(r io.Reader) (Digest, int64, error) {
	tmp, err := c.tempFile()
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	d, n, err := HashReader(io.TeeReader(r, tmp))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	dst := c.casPath(d)
	if _, err := os.Stat(dst); err == nil {
		return d, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", 0, err
	}
	return d, n, os.Rename(tmp.Name(), dst)
}

// Has reports whether a blob is stored locally.
func (c *Cache) Has(d Digest) bool {
	_, err := os.Stat(c.casPath(d))
	return err == nil
}

// Fetch copies blob d to dest (through a temporary file, then a rename),
// checking its digest on the way. A local blob that does not match is
// removed; a missing one is fetched from the remote cache when there is one.
func (c *Cache) Fetch(d Digest, dest string, executable bool) error {
	if !c.Has(d) && c.Remote != nil {
		if err := c.Remote.GetCAS(d, c); err != nil {
			return err
		}
	}
	src, err := os.Open(c.casPath(d))
	if err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	got, _, err := HashReader(io.TeeReader(src, tmp))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got != d {
		os.Remove(c.casPath(d))
		return fmt.Errorf("blob %s: %w (it hashes to %s); it was removed", d, ErrCorrupt, got)
	}
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// ReadBlob returns a (small) blob's bytes, checked against its digest.
func (c *Cache) ReadBlob(d Digest) ([]byte, error) {
	if !c.Has(d) && c.Remote != nil {
		if err := c.Remote.GetCAS(d, c); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(c.casPath(d))
	if err != nil {
		return nil, err
	}
	if HashBytes(b) != d {
		os.Remove(c.casPath(d))
		return nil, fmt.Errorf("blob %s: %w; it was removed", d, ErrCorrupt)
	}
	return b, nil
}

// GetAction returns the record of a step (its name and declared outputs)
// for a key: local first, then the remote cache (kept locally after, once
// it checks out). Only a well-formed record for exactly this step counts.
func (c *Cache) GetAction(a *Action, step string, outputs []string) (*ActionRecord, bool) {
	key := a.Key
	var rec ActionRecord
	b, err := os.ReadFile(c.acPath(key))
	if err == nil {
		if json.Unmarshal(b, &rec) != nil || checkRecord(&rec, key, step, outputs) != nil {
			os.Remove(c.acPath(key)) // a torn or foreign record is a miss
			return nil, false
		}
	} else if c.Remote != nil {
		rb, rerr := c.Remote.GetAC(key, a.Size)
		if rerr != nil || json.Unmarshal(rb, &rec) != nil || checkRecord(&rec, key, step, outputs) != nil {
			return nil, false
		}
		c.writeAction(key, rb)
	} else {
		return nil, false
	}
	now := time.Now()
	os.Chtimes(c.acPath(key), now, now) // recently used, for gc
	return &rec, true
}

// PutAction records a step's result, locally and in the remote cache with
// the blobs it names and the action's own (its Command, input root and
// inputs), so the server holds the whole action.
func (c *Cache) PutAction(a *Action, rec *ActionRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := c.writeAction(rec.Key, b); err != nil {
		return err
	}
	if c.Remote != nil {
		blobs := []Digest{rec.Log}
		for _, o := range rec.Outputs {
			blobs = append(blobs, o.Digest)
		}
		for _, d := range slices.Sorted(maps.Keys(a.Blobs)) {
			if _, err := c.PutBytes(a.Blobs[d]); err != nil {
				return err
			}
			blobs = append(blobs, d)
		}
		for _, d := range blobs {
			if err := c.Remote.PutCAS(d, c.casPath(d)); err != nil {
				return err
			}
		}
		for _, d := range slices.Sorted(maps.Keys(a.Files)) {
			if err := c.Remote.PutCAS(d, a.Files[d]); err != nil {
				return err
			}
		}
		return c.Remote.PutAC(rec.Key, a.Size, b)
	}
	return nil
}

func (c *Cache) writeAction(key Digest, b []byte) error {
	tmp, err := c.tempFile()
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.acPath(key))
}

// Lock takes the lock of a key, so that of two builds wanting the same step
// one runs it and the other finds it cached. Locks are advisory file locks:
// the kernel drops them when a process dies.
func (c *Cache) Lock(key Digest) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(c.Dir, "locks", string(key)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		funlock(f)
		f.Close()
	}, nil
}

func flock(f *os.File) error   { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// Entry describes one action record for plinth cache ls.
type Entry struct {
	Record ActionRecord
	Used   time.Time
	Size   int64 // bytes of its blobs
}

// Entries lists the action records, most recently used first.
func (c *Cache) Entries() ([]Entry, error) {
	files, err := filepath.Glob(filepath.Join(c.Dir, "ac", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec ActionRecord
		if json.Unmarshal(b, &rec) != nil {
			continue
		}
		info, err := os.Stat(f)
		if err != nil {
			continue
		}
		e := Entry{Record: rec, Used: info.ModTime()}
		for _, o := range rec.Outputs {
			e.Size += o.Size
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Used.After(out[j].Used) })
	return out, nil
}

// Stats is the size of the cache and of the source store beside it.
type Stats struct {
	Actions int   `json:"actions"`
	Blobs   int   `json:"blobs"`
	Bytes   int64 `json:"bytes"`
	// The source store: bare repositories, downloaded archives, and the
	// source trees checked out of them.
	Repositories int   `json:"repositories"`
	Archives     int   `json:"archives"`
	Trees        int   `json:"trees"`
	StoreBytes   int64 `json:"store_bytes"`
}

// Stats counts the cache's records and blobs.
func (c *Cache) Stats() (Stats, error) {
	var s Stats
	acs, _ := filepath.Glob(filepath.Join(c.Dir, "ac", "*.json"))
	s.Actions = len(acs)
	err := filepath.Walk(filepath.Join(c.Dir, "cas"), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			s.Blobs++
			s.Bytes += info.Size()
		}
		return err
	})
	store := filepath.Join(c.Dir, "store")
	repos, _ := filepath.Glob(filepath.Join(store, "git", "*.git"))
	archives, _ := filepath.Glob(filepath.Join(store, "archives", "[0-9a-f]*"))
	trees, _ := filepath.Glob(filepath.Join(store, "src", "[a-z]*"))
	s.Repositories, s.Archives, s.Trees = len(repos), len(archives), len(trees)
	s.StoreBytes = dirSize(store)
	return s, err
}

// GC removes the least recently used action records until the blobs the
// rest name fit in maxBytes, then every blob no record names, and what
// killed builds left behind: partial writes in tmp/ and work directories no
// running build holds. It returns how many records and bytes it removed.
func (c *Cache) GC(maxBytes int64) (records int, freed int64, err error) {
	freed += sweepLeftovers(filepath.Join(c.Dir, "tmp"), c.WorkRoot())
	freed += sweepDownloads(filepath.Join(c.Dir, "store"))
	entries, err := c.Entries()
	if err != nil {
		return 0, 0, err
	}
	var total int64
	keep := map[Digest]bool{}
	for _, e := range entries {
		blobs := append([]Digest{e.Record.Log}, digestsOf(e.Record.Outputs)...)
		var add int64
		for _, d := range blobs {
			if !keep[d] {
				if info, err := os.Stat(c.casPath(d)); err == nil {
					add += info.Size()
				}
			}
		}
		if total+add > maxBytes {
			os.Remove(c.acPath(e.Record.Key))
			records++
			continue
		}
		total += add
		for _, d := range blobs {
			keep[d] = true
		}
	}
	err = filepath.Walk(filepath.Join(c.Dir, "cas"), func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		if !keep[Digest(filepath.Base(p))] {
			freed += info.Size()
			return os.Remove(p)
		}
		return nil
	})
	return records, freed, err
}

func digestsOf(outs []Output) []Digest {
	var ds []Digest
	for _, o := range outs {
		ds = append(ds, o.Digest)
	}
	return ds
}

// sweepLeftovers removes partial cache writes older than an hour and the
// work directories of steps no process is running (their lock is free).
func sweepLeftovers(tmp, workRoot string) (freed int64) {
	old := time.Now().Add(-time.Hour)
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().Before(old) {
			freed += info.Size()
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
	locks, _ := filepath.Glob(filepath.Join(workRoot, "*.lock"))
	for _, l := range locks {
		f, err := os.OpenFile(l, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			dir := strings.TrimSuffix(l, ".lock")
			freed += dirSize(dir)
			os.RemoveAll(dir)
			os.Remove(l)
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		f.Close()
	}
	return freed
}

// sweepDownloads removes what an interrupted fetch left in the source
// store, once nothing has touched it for an hour: partial downloads
// (archives/.download-*) and half-made trees (src/.git-*, src/.archive-*).
func sweepDownloads(store string) (freed int64) {
	old := time.Now().Add(-time.Hour)
	for _, pattern := range []string{"archives/.download-*", "src/.git-*", "src/.archive-*"} {
		matches, _ := filepath.Glob(filepath.Join(store, pattern))
		for _, p := range matches {
			info, err := os.Lstat(p)
			if err != nil || !info.ModTime().Before(old) {
				continue
			}
			if info.IsDir() {
				freed += dirSize(p)
			} else {
				freed += info.Size()
			}
			os.RemoveAll(p)
		}
	}
	return freed
}

func dirSize(dir string) (n int64) {
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
