package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A tool whose --version hangs (even one that leaves a child holding its
// output) fails the probe within the timeout, naming the tool.
func TestAHangingToolIsNamed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hangs"), []byte("#!/bin/sh\nsleep 30 &\nexec sleep 30\n"), 0o755)
	old := ProbeTimeout
	ProbeTimeout = 300 * time.Millisecond
	defer func() { ProbeTimeout = old }()
	start := time.Now()
	_, err := (&Tools{Path: dir}).Identify("hangs")
	if err == nil || !strings.Contains(err.Error(), "tool hangs") || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("%v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the probe took %s", time.Since(start))
	}
}

// A tool's identity is remembered in the cache: a second build does not
// run its --version again, unless the file changed.
func TestToolIdentitiesAreRemembered(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	tool := filepath.Join(dir, "bin", "mytool")
	os.MkdirAll(filepath.Dir(tool), 0o755)
	write := func(version string) {
		os.WriteFile(tool, []byte("#!/bin/sh\necho x >> "+count+"\necho mytool "+version+"\n"), 0o755)
	}
	write("1.0")
	cache, err := OpenCache(filepath.Join(dir, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	probes := func() int { b, _ := os.ReadFile(count); return strings.Count(string(b), "x") }
	identify := func() Tool {
		tl, err := (&Tools{Path: filepath.Dir(tool), Cache: cache}).Identify("mytool")
		if err != nil {
			t.Fatal(err)
		}
		return tl
	}
	first := identify()
	if again := identify(); again != first || probes() != 1 {
		t.Errorf("asked again: %d probes, %+v then %+v", probes(), first, again)
	}
	// A new cache (another process) reads the memo.
	cache, _ = OpenCache(filepath.Join(dir, "cache"), nil)
	if identify(); probes() != 1 {
		t.Errorf("a new process asked again: %d probes", probes())
	}
	time.Sleep(10 * time.Millisecond)
	write("2.0")
	if changed := identify(); changed.Version != "mytool 2.0" || changed.Digest == first.Digest || probes() != 2 {
		t.Errorf("after the tool changed: %+v, %d probes", changed, probes())
	}
}
