package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kill -9 in the middle of a build leaves a cache that never returns a
// corrupt entry: the next run finishes, taking the steps done before the
// kill from the cache. Ctrl-C (SIGINT) stops the running step's processes.
func TestKilledBuildResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds plinth")
	}
	dir := engineRecipe(t)
	// A third step that takes a while, after the two quick ones.
	recipeFile := filepath.Join(dir, "recipe.yaml")
	text, _ := os.ReadFile(recipeFile)
	os.WriteFile(recipeFile, append(text, []byte(`  - name: slow
    needs: [compile, notes]
    run: [sh, -c, "sleep 3; echo done > out/slow.txt"]
    tools: [sleep]
    outputs: [slow.txt]
`)...), 0o644)
	bin := filepath.Join(t.TempDir(), "plinth")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/plinth").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cache, out := filepath.Join(t.TempDir(), "cache"), filepath.Join(t.TempDir(), "out")
	if b, err := exec.Command(bin, "lock", dir, "--cache-dir", cache).CombinedOutput(); err != nil {
		t.Fatalf("lock: %v\n%s", err, b)
	}
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		cmd := exec.Command(bin, "build", dir, "--config", "debug", "--cache-dir", cache, "-o", out)
		log := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the slow step to start, then kill plinth.
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(log.String(), "run   slow") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		start := time.Now()
		cmd.Wait()
		if sig == syscall.SIGKILL {
			exec.Command("pkill", "-f", "sleep 3").Run() // what kill -9 of plinth leaves behind
			continue
		}
		if sig == syscall.SIGINT {
			if time.Since(start) > 5*time.Second || !strings.Contains(log.String(), "interrupted") {
				t.Errorf("Ctrl-C did not stop the build at once (%v):\n%s", time.Since(start), log.String())
			}
			if b, _ := exec.Command("pgrep", "-f", "sleep 3").Output(); len(b) > 0 {
				t.Errorf("the step's processes outlived Ctrl-C: %s", b)
			}
		}
	}
	// The next run takes compile and notes from the cache and finishes.
	cmd := exec.Command(bin, "build", dir, "--config", "debug", "--cache-dir", cache, "-o", out)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "cached compile") || !strings.Contains(string(b), "cached notes") || !strings.Contains(string(b), "done  slow") {
		t.Errorf("resume:\n%s", b)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "cli-demo", "qemu_virt_aarch64", "debug", "slow", "slow.txt")); string(got) != "done\n" {
		t.Errorf("slow.txt = %q", got)
	}
	// Nothing half-written was left in the cache's scratch space.
	if left, _ := filepath.Glob(filepath.Join(cache, "tmp", "put-*")); len(left) > 0 {
		t.Errorf("partial cache writes left: %v", left)
	}
}

// lockedBuffer is written by a child process's copier and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
