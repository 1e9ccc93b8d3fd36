package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/testbazel"
	"github.com/pointsav/plinth/internal/testrepo"
)

// farmRunner is what one runner of a simulated farm did.
type farmRunner struct {
	shard      string
	hits, ran  int
	down, up   int64
	cpu        time.Duration
	killed     bool // it died halfway and was run again
	events     []builder.Event
	stderr     string
	exitStatus error
}

// simFarm is a simulated build farm on this machine: runners as separate
// processes with their own caches, sharing one bazel-remote.
type simFarm struct {
	t       *testing.T
	bin     string
	release string
	remote  string
	env     []string
}

// runner runs one shard to its end; with kill, it is killed (SIGKILL, by
// its process id) after its first finished step and run again.
func (f *simFarm) runner(k, n int, kill bool) *farmRunner {
	shard := fmt.Sprintf("%d/%d", k, n)
	cache, out := filepath.Join(f.t.TempDir(), "cache"), filepath.Join(f.t.TempDir(), "out")
	r := &farmRunner{shard: shard}
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(f.bin, "build", f.release, "--shard", shard, "--json", "--cache-dir", cache, "-o", out, "--remote-cache", f.remote)
		cmd.Env = f.env
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			f.t.Fatal(err)
		}
		killing := kill && attempt == 0
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e builder.Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			r.events = append(r.events, e)
			switch e.Kind {
			case "hit":
				r.hits++
			case "done":
				r.ran++
				if killing {
					cmd.Process.Kill()
					r.killed = true
				}
			case "remote":
				r.down += e.Bytes
				r.up += e.Sent
			}
		}
		err := cmd.Wait()
		if cmd.ProcessState != nil {
			r.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		r.stderr += stderr.String()
		if !killing || !r.killed {
			r.exitStatus = err
			return r
		}
	}
}

// run runs shard 0 (the steps several shards need), then the n shards at
// once, killing the one numbered kill (0: none) halfway and running it
// again; it returns the runners (shard 0 first) and the wall time.
func (f *simFarm) run(n, kill int) ([]*farmRunner, time.Duration) {
	start := time.Now()
	runners := make([]*farmRunner, n+1)
	runners[0] = f.runner(0, n, false)
	var wg sync.WaitGroup
	for k := 1; k <= n; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runners[k] = f.runner(k, n, k == kill)
		}()
	}
	wg.Wait()
	for _, r := range runners {
		if r.exitStatus != nil {
			f.t.Fatalf("runner %s: %v\n%s", r.shard, r.exitStatus, r.stderr)
		}
	}
	return runners, time.Since(start)
}

// releaseFiles lists a release directory's files and their contents but
// the step logs (which name the cache directory the step ran in).
func releaseFiles(t *testing.T, dir string) map[string]string {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "logs" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			files[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameRelease fails the test unless both directories hold the same files
// with the same bytes (logs aside).
func sameRelease(t *testing.T, a, b string) int {
	t.Helper()
	fa, fb := releaseFiles(t, a), releaseFiles(t, b)
	for p, x := range fa {
		if y, ok := fb[p]; !ok {
			t.Errorf("%s is only in %s", p, a)
		} else if x != y {
			t.Errorf("%s differs", p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			t.Errorf("%s is only in %s", p, b)
		}
	}
	if _, ok := fa["release.json"]; !ok {
		t.Errorf("%s has no release.json", a)
	}
	return len(fa)
}

// farmRelease builds a release on a simulated farm of n runners (shard
// kill dies halfway and is run again), assembles it from the shared cache,
// builds it on one machine and checks the two are byte-identical.
func farmRelease(t *testing.T, bin, release string, env []string, n, kill int) {
	server := testbazel.Start(t)
	f := &simFarm{t: t, bin: bin, release: release, remote: server.GRPCURL(), env: env}
	runners, wall := f.run(n, kill)
	var cpu time.Duration
	var down, up int64
	for _, r := range runners {
		cpu += r.cpu
		down += r.down
		up += r.up
		t.Logf("runner %s: %d steps ran, %d from the cache, %s down, %s up, CPU %.1f s%s", r.shard, r.ran, r.hits, humanBytes(r.down), humanBytes(r.up), r.cpu.Seconds(), map[bool]string{true: " (killed after its first step and run again)"}[r.killed])
	}
	if kill > 0 && (!runners[kill].killed || runners[kill].hits == 0) {
		t.Errorf("runner %d was not killed halfway, or its second run took nothing from the cache", kill)
	}
	t.Logf("farm of %d runners after shard 0: wall %.1f s, CPU %.1f s, %s down and %s up in all", n, wall.Seconds(), cpu.Seconds(), humanBytes(down), humanBytes(up))

	assembled := filepath.Join(t.TempDir(), "release")
	cmd := exec.Command(bin, "release", "assemble", release, "-o", assembled, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "--remote-cache", f.remote)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "jobs assembled in") {
		t.Fatalf("assemble: %v\n%s", err, out)
	}

	// One machine, in a directory of its own with relative -o and
	// --cache-dir, as a user types them.
	work := t.TempDir()
	one := filepath.Join(work, "one")
	abs, _ := filepath.Abs(release)
	cmd = exec.Command(bin, "build", abs, "-o", "one", "--cache-dir", "cache", "--json")
	cmd.Env, cmd.Dir = env, work
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("one machine: %v\n%s", err, out)
	}
	kinds := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		var e builder.Event
		if json.Unmarshal([]byte(line), &e) == nil {
			kinds[e.Kind]++
		}
	}
	t.Logf("one machine: %d steps ran, %d from the cache, wall %.1f s, CPU %.1f s", kinds["done"], kinds["hit"], time.Since(start).Seconds(), (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds())
	files := sameRelease(t, assembled, one)
	t.Logf("the assembled release and the one-machine build: %d files, byte-identical (logs aside)", files)
}

// sixBoards is the stand-in SDK's six AArch64 boards.
var sixBoards = []string{"qemu_virt_aarch64", "imx8mm_evk", "imx8mp_evk", "imx8mq_evk", "maaxboard", "odroidc4"}

// A release of hello for six boards (on the stand-in SDK), built in four
// shards by four runner processes sharing a bazel-remote over REAPI gRPC,
// one of them killed after its first step and run again, assembled from
// the shared cache: byte for byte the release one machine builds. Then a
// shard no runner built makes assemble fail naming the missing jobs, and
// write nothing.
func TestAReleaseBuiltInShardsIsTheOneMachineRelease(t *testing.T) {
	sdk := fakeSDK(t)
	for _, b := range sixBoards[1:] {
		if out, err := exec.Command("cp", "-r", filepath.Join(sdk, "board", "qemu_virt_aarch64"), filepath.Join(sdk, "board", b)).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	dir := t.TempDir()
	recipeDir := filepath.Join(dir, "hello")
	os.MkdirAll(recipeDir, 0o755)
	// The app from git, as upstream sources come: each runner fetches it
	// into its own store.
	repo, commit := testrepo.Git(t, map[string]string{
		"hello.c":      "#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hello, world\\n\"); }\nvoid notified(unsigned ch) { (void)ch; }\n",
		"hello.system": `<system><protection_domain name="hello"><program_image path="hello.elf" /></protection_domain></system>`,
	})
	text := strings.Replace(helloRecipe("farm-hello", "hello for six boards", strings.Join(sixBoards, ", "), sdk), "app: {path: app}", "app: {git: "+repo+", commit: "+commit+"}", 1)
	os.WriteFile(filepath.Join(recipeDir, "recipe.yaml"), []byte(text), 0o644)
	release := filepath.Join(dir, "release.yaml")
	os.WriteFile(release, []byte("name: farm-hello-6\njobs:\n  - recipe: hello\n"), 0o644)

	bin := plinthBinary(t)
	env := append(os.Environ(), "PLINTH_REMOTE_CACHE=")

	// The plan: six jobs over four shards, every job in exactly one.
	out, err := exec.Command(bin, "plan", release, "--shards", "4", "--json", "--cache-dir", filepath.Join(t.TempDir(), "cache")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Jobs []struct {
			Board string `json:"board"`
			Shard int    `json:"shard"`
			Steps []struct {
				Step     string `json:"step"`
				Identity string `json:"identity"`
				Action   string `json:"action"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(out, &plan); err != nil || len(plan.Jobs) != 6 {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	perShard := map[int]int{}
	for _, j := range plan.Jobs {
		perShard[j.Shard]++
		if len(j.Steps) == 0 || j.Steps[0].Identity == "" || j.Steps[0].Action == "" {
			t.Errorf("%s: a first step without identity or action digest: %+v", j.Board, j.Steps)
		}
	}
	if len(perShard) != 4 || perShard[1]+perShard[2]+perShard[3]+perShard[4] != 6 {
		t.Errorf("shards: %v", perShard)
	}

	// The same plan for people; shards outside 0…N and a shard of a
	// recipe are usage errors.
	text, stderr, code := plinth(t, "plan", release, "--shards", "4", "--cache-dir", filepath.Join(t.TempDir(), "cache"))
	if code != 0 || !strings.Contains(text, "release farm-hello-6: 6 jobs, 4 shards") || !strings.Contains(text, "1/4: 2 jobs, predicted") || !strings.Contains(text, "4/4: 1 job, predicted") {
		t.Errorf("plan: exit %d\n%s%s", code, text, stderr)
	}
	for _, args := range [][]string{{"build", release, "--shard", "5/4"}, {"build", recipeDir, "--shard", "1/2"}} {
		if _, stderr, code := plinth(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, stderr)
		}
	}

	farmRelease(t, bin, release, env, 4, 2)

	// Only shards 1 and 2 of 3 are built into a fresh server: assemble
	// names the jobs of shard 3 and writes nothing.
	server := testbazel.Start(t)
	f := &simFarm{t: t, bin: bin, release: release, remote: server.GRPCURL(), env: env}
	f.runner(1, 3, false)
	f.runner(2, 3, false)
	target := filepath.Join(t.TempDir(), "release")
	cmd := exec.Command(bin, "release", "assemble", release, "-o", target, "--cache-dir", filepath.Join(t.TempDir(), "cache"), "--remote-cache", f.remote)
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "2 of 6 jobs of release farm-hello-6 are missing; nothing was written") {
		t.Fatalf("assemble with a shard missing: %v\n%s", err, b)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("assemble wrote a release with jobs missing")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".release.assembling-*")); len(left) > 0 {
		t.Errorf("assemble left %v", left)
	}
	t.Logf("%s", b)
}

// plinthBinary builds plinth for tests that run it as processes.
func plinthBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "plinth")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/plinth").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return bin
}

// The farm with the real chain: the shipped release of Microkit's hello for
// six boards, from upstream sources through mirrors, built by four runners
// (one killed halfway and run again) and assembled: the same bytes as one
// machine's build. The figures it logs are docs/build.md's.
func TestAFarmBuildsMicrokitHelloForSixBoards(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no upstream sources to build Microkit from (the stand-ins' farm test runs in CI)")
	}
	env := append(os.Environ(), "PLINTH_REMOTE_CACHE=", "PLINTH_MIRRORS="+mirrors)
	farmRelease(t, plinthBinary(t), "../../releases/microkit-hello.yaml", env, 4, 2)
}
