package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	// It writes its process group's id where the test can see it: the
	// test follows the processes it started by id, never by name.
	pids := t.TempDir()
	os.WriteFile(recipeFile, append(text, []byte(`  - name: slow
    needs: [compile, notes]
    run: [sh, -c, "echo $(ps -o pgid= $$) > `+pids+`/pgid.$(date +%s%N); sleep 3; echo done > out/slow.txt"]
    tools: [sleep, ps]
    outputs: [slow.txt]
`)...), 0o644)
	// groupGone waits until no process of the step's group is left.
	groupGone := func(within time.Duration) (int, bool) {
		files, _ := filepath.Glob(filepath.Join(pids, "pgid.*"))
		if len(files) != 1 {
			t.Fatalf("want one step group, found %v", files)
		}
		b, _ := os.ReadFile(files[0])
		os.Remove(files[0])
		pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pgid <= 1 {
			t.Fatalf("pgid %q", b)
		}
		for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if !groupAlive(pgid) {
				return pgid, true
			}
		}
		return pgid, false
	}
	bin := plinthBinary(t)
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
		for time.Now().Before(deadline) {
			if files, _ := filepath.Glob(filepath.Join(pids, "pgid.*")); len(files) > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		start := time.Now()
		cmd.Wait()
		// kill -9 cannot be caught: the step's group must still go, by
		// the parent-death signal, long before its sleep would end.
		if pgid, gone := groupGone(2 * time.Second); !gone {
			syscall.Kill(-pgid, syscall.SIGKILL) // the test's own, by id
			t.Errorf("%v: the step's processes (group %d) outlived plinth", sig, pgid)
		}
		if sig == syscall.SIGINT {
			if time.Since(start) > 5*time.Second || !strings.Contains(log.String(), "interrupted") {
				t.Errorf("Ctrl-C did not stop the build at once (%v):\n%s", time.Since(start), log.String())
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

// groupAlive says whether a process group has a member that is not a
// zombie (an orphan waiting for init to reap it is dead already, though
// kill(-pgid, 0) still finds it).
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) == syscall.ESRCH {
		return false
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so read
		// after its closing parenthesis.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
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
