package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Digest is a SHA-256 in lower-case hex.
type Digest string

// hashBuf pools the buffers file hashing reads through: large reads keep
// SHA-256 (with the CPU's SHA instructions) the bottleneck, not the syscalls.
var hashBuf = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// HashReader digests everything r gives.
func HashReader(r io.Reader) (Digest, int64, error) {
	h := sha256.New()
	buf := hashBuf.Get().(*[]byte)
	defer hashBuf.Put(buf)
	n, err := io.CopyBuffer(h, r, *buf)
	if err != nil {
		return "", n, err
	}
	return Digest(hex.EncodeToString(h.Sum(nil))), n, nil
}

// HashFile digests a file's contents.
func HashFile(path string) (Digest, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return HashReader(onlyReader{f})
}

// onlyReader hides a file's WriteTo/ReadFrom so CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }

// HashBytes digests a byte slice.
func HashBytes(b []byte) Digest {
	s := sha256.Sum256(b)
	return Digest(hex.EncodeToString(s[:]))
}

// HashJSON digests the canonical JSON encoding of v (encoding/json sorts
// map keys, so equal values give equal digests).
func HashJSON(v any) (Digest, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return HashBytes(b), nil
}

// treeEntry is one file of a tree, as its digest sees it.
type treeEntry struct {
	Path   string `json:"path"`
	Mode   string `json:"mode"` // "x" executable, "f" file, "l" symlink
	Digest Digest `json:"digest,omitempty"`
	Target string `json:"target,omitempty"`
}

// HashTree digests a directory: every file's path, whether it is executable
// and its contents, and every symlink's target, in sorted order. Times,
// owners and other mode bits do not count, so the same tree checked out
// anywhere has the same digest.
func HashTree(root string) (Digest, error) {
	var entries []treeEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && p != root {
				return filepath.SkipDir
			}
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries = append(entries, treeEntry{Path: rel, Mode: "l", Target: t})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			dg, _, err := HashFile(p)
			if err != nil {
				return err
			}
			mode := "f"
			if info.Mode()&0o111 != 0 {
				mode = "x"
			}
			entries = append(entries, treeEntry{Path: rel, Mode: mode, Digest: dg})
		default:
			return fmt.Errorf("%s: not a file, directory or symlink", p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return HashJSON(entries)
}
