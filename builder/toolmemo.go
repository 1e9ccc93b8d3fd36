package builder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// toolStamp is what a tool's file looked like when it was identified: the
// same path, size, times and inode mean the same file, so its digest and
// version need not be worked out again (as git's index and ccache judge
// files). A replaced or touched binary gets a new stamp.
type toolStamp struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	CTime int64  `json:"ctime_ns"`
	Inode uint64 `json:"inode"`
}

type toolMemoEntry struct {
	Stamp   toolStamp `json:"stamp"`
	Digest  Digest    `json:"digest"`
	Version string    `json:"version"`
}

// toolMemo remembers tool identities in the cache (tools.json), so a build
// with nothing to do does not run every tool's --version again.
type toolMemo struct {
	file    string
	mu      sync.Mutex
	entries map[string]toolMemoEntry
}

func stampOf(path string) (toolStamp, bool) {
	info, err := os.Stat(path)
	if err != nil {
		return toolStamp{}, false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return toolStamp{}, false
	}
	return toolStamp{Size: info.Size(), MTime: info.ModTime().UnixNano(), CTime: st.Ctim.Nano(), Inode: st.Ino}, true
}

func (c *Cache) tools() *toolMemo {
	c.toolsOnce.Do(func() {
		c.toolMemo = &toolMemo{file: filepath.Join(c.Dir, "tools.json"), entries: map[string]toolMemoEntry{}}
		if b, err := os.ReadFile(c.toolMemo.file); err == nil {
			json.Unmarshal(b, &c.toolMemo.entries)
		}
	})
	return c.toolMemo
}

// identity is the digest and version of the tool found at found (the file
// real), from the memo when the file is as it was, else from identify
// (then remembered).
func (m *toolMemo) identity(found, real string, identify func() (Digest, string, error)) (Digest, string, error) {
	key := found + " -> " + real
	stamp, ok := stampOf(real)
	m.mu.Lock()
	e, known := m.entries[key]
	m.mu.Unlock()
	if ok && known && e.Stamp == stamp {
		return e.Digest, e.Version, nil
	}
	d, v, err := identify()
	if err != nil || !ok {
		return d, v, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[key] = toolMemoEntry{Stamp: stamp, Digest: d, Version: v}
	b, _ := json.Marshal(m.entries)
	atomicfile.Write(m.file, b, 0o644) // a memo: losing it costs time only
	return d, v, nil
}
