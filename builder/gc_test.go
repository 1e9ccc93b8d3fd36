package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gc sweeps what a killed build leaves: an abandoned work directory goes, a
// locked one (a step still running) stays.
func TestGCSweepsLeftovers(t *testing.T) {
	cache, err := OpenCache(filepath.Join(t.TempDir(), "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(cache.WorkRoot(), "aaaa")
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "junk"), make([]byte, 1000), 0o644)
	os.WriteFile(stale+".lock", nil, 0o644)
	busy, release, err := cache.workDir(Digest(strings.Repeat("b", 64)))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, freed, err := cache.GC(1 << 30)
	if err != nil || freed < 1000 {
		t.Fatalf("freed %d: %v", freed, err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the abandoned work directory is still there")
	}
	if _, err := os.Stat(busy); err != nil {
		t.Error("a running step's work directory was removed")
	}
	// What an interrupted fetch leaves in the store goes once it is an hour
	// old; a download under way (touched now) stays.
	store := filepath.Join(cache.Dir, "store")
	hourAgo := time.Now().Add(-2 * time.Hour)
	var stale2 []string
	for _, p := range []string{"archives/.download-123", "src/.git-0123456789ab-x", "src/.archive-y"} {
		full := filepath.Join(store, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, make([]byte, 100), 0o644)
		os.Chtimes(full, hourAgo, hourAgo)
		stale2 = append(stale2, full)
	}
	fresh := filepath.Join(store, "archives", ".download-now")
	os.WriteFile(fresh, []byte("x"), 0o644)
	if _, _, err := cache.GC(1 << 30); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale2 {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a download under way was removed")
	}
}
