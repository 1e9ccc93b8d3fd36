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
