package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/builder"
)

// BenchmarkHelloFromSource times a cold from-source build of Microkit
// 2.0.1's hello by plinth against the upstream flow on the same machine in
// the same run, both for the one board and configuration: Microkit's
// build_sdk.py, the tool with cargo, then the example's Makefile. Then the
// everyday loop with nothing to do: plinth build of the cached hello
// against make -q of the built example (medians of 15 runs each). Both get
// their sources from the mirror map PLINTH_MIRRORS names (the upstream flow
// clones them; its clone time is not counted); the upstream flow's cargo
// uses the crates in PLINTH_UPSTREAM_CARGO_HOME (a CARGO_HOME whose
// config.toml patches the tool's crates to local copies). It reports
// seconds for each and their ratio, and the warm rebuild after editing the
// PD. Run: go test ./internal/cli -run '^$' -bench HelloFromSource -benchtime 1x
func BenchmarkHelloFromSource(b *testing.B) {
	mirrorFile, cargoHome := os.Getenv("PLINTH_MIRRORS"), os.Getenv("PLINTH_UPSTREAM_CARGO_HOME")
	if mirrorFile == "" || cargoHome == "" {
		b.Skip("PLINTH_MIRRORS and PLINTH_UPSTREAM_CARGO_HOME not both set: no upstream sources to build from")
	}
	mirrors, err := builder.LoadMirrors(mirrorFile)
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("../../recipes/microkit-hello/recipe.yaml")
	if err != nil {
		b.Fatal(err)
	}
	run := func(dir string, env []string, argv ...string) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%.2000s", argv, err, out)
		}
	}
	clone := func(url, commit, dst string) {
		from, ok := mirrors.Rewrite(url)
		if !ok {
			b.Fatalf("no mirror for %s", url)
		}
		run("", nil, "git", "clone", "-q", from, dst)
		run(dst, nil, "git", "checkout", "-q", commit)
	}
	var plinthS, upstreamS, warmS, noopS, makeQS float64
	for i := 0; i < b.N; i++ {
		// plinth, cold: an empty cache, sources fetched from the mirrors.
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), src, 0o644)
		cache, out := filepath.Join(b.TempDir(), "cache"), filepath.Join(b.TempDir(), "out")
		start := time.Now()
		if _, stderr, code := plinth(b, "build", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out); code != 0 {
			b.Fatalf("plinth build: %s", stderr)
		}
		plinthS += time.Since(start).Seconds()
		// Nothing to do: every step cached.
		var noop []time.Duration
		for range 15 {
			start := time.Now()
			if _, stderr, code := plinth(b, "build", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out); code != 0 {
				b.Fatalf("plinth build, cached: %s", stderr)
			}
			noop = append(noop, time.Since(start))
		}
		noopS += median(noop).Seconds()

		// plinth, warm: the PD's source edited (a local copy of the example).
		local := strings.Replace(string(src), "    source: microkit\n    dir: example/hello\n", "    source: app\n", 1)
		local = strings.Replace(local, "sources:\n", "sources:\n  app: {path: app}\n", 1)
		os.MkdirAll(filepath.Join(dir, "app"), 0o755)
		os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(local), 0o644)
		hello := "#include <microkit.h>\nvoid init(void) { microkit_dbg_puts(\"hello, world\\n\"); }\nvoid notified(microkit_channel ch) { (void)ch; }\n"
		os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte(hello), 0o644)
		plinth(b, "build", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out)
		os.WriteFile(filepath.Join(dir, "app", "hello.c"), []byte(strings.Replace(hello, "hello, world", "hello, again", 1)), 0o644)
		start = time.Now()
		if _, stderr, code := plinth(b, "build", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out); code != 0 {
			b.Fatalf("plinth build after the edit: %s", stderr)
		}
		warmS += time.Since(start).Seconds()

		// The upstream flow, from clones of the same commits.
		w := b.TempDir()
		clone("https://github.com/seL4/microkit", "3f71a5e4effed7551a02fda77151223822060c46", filepath.Join(w, "microkit"))
		clone("https://github.com/seL4/seL4", "4b97df4c7e24fd0c297e21cae8d997a08b8952b0", filepath.Join(w, "sel4"))
		clone("https://github.com/superna9999/pyfdt", "accbcd254584c9295a18878d32999d0c7c156f8e", filepath.Join(w, "pyfdt"))
		mk := filepath.Join(w, "microkit")
		sdk := filepath.Join(mk, "release", "microkit-sdk-2.0.1")
		start = time.Now()
		run(mk, []string{"PYTHONPATH=" + filepath.Join(w, "pyfdt")}, "/usr/bin/python3", "build_sdk.py", "--sel4", filepath.Join(w, "sel4"),
			"--boards", "qemu_virt_aarch64", "--configs", "debug", "--skip-tool", "--skip-docs", "--skip-tar", "--toolchain-prefix-aarch64", "aarch64-linux-gnu")
		run(filepath.Join(mk, "tool", "microkit"), []string{"CARGO_HOME=" + cargoHome, "CARGO_TARGET_DIR=" + filepath.Join(w, "target")}, "cargo", "build", "--release", "--offline")
		run("", nil, "cp", filepath.Join(w, "target", "release", "microkit"), filepath.Join(sdk, "bin", "microkit"))
		os.MkdirAll(filepath.Join(w, "hello"), 0o755)
		makeArgs := []string{"BUILD_DIR=" + filepath.Join(w, "hello"), "MICROKIT_SDK=" + sdk, "MICROKIT_BOARD=qemu_virt_aarch64", "MICROKIT_CONFIG=debug", "TOOLCHAIN=aarch64-linux-gnu"}
		run(filepath.Join(mk, "example", "hello"), nil, append([]string{"make"}, makeArgs...)...)
		upstreamS += time.Since(start).Seconds()
		if _, err := os.Stat(filepath.Join(w, "hello", "loader.img")); err != nil {
			b.Fatal(err)
		}
		// make -q: nothing to do, and make says so by its exit status.
		var makeQ []time.Duration
		for range 15 {
			start := time.Now()
			run(filepath.Join(mk, "example", "hello"), nil, append([]string{"make", "-q"}, makeArgs...)...)
			makeQ = append(makeQ, time.Since(start))
		}
		makeQS += median(makeQ).Seconds()
	}
	n := float64(b.N)
	b.ReportMetric(plinthS/n, "plinth-cold-s")
	b.ReportMetric(upstreamS/n, "upstream-cold-s")
	b.ReportMetric(plinthS/upstreamS, "ratio")
	b.ReportMetric(warmS/n, "plinth-warm-pd-edit-s")
	b.ReportMetric(noopS/n*1000, "plinth-noop-ms")
	b.ReportMetric(makeQS/n*1000, "make-q-ms")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkRustHello times a cold build of the rust-hello recipe for
// qemu_virt_aarch64 (Microkit from source, core built for the target, the
// Rust PD, the image) and the warm rebuild after editing the PD's .rs,
// which must rerun only the PD's step and the image. Sources come from
// PLINTH_MIRRORS. Run: go test ./internal/cli -run '^$' -bench RustHello -benchtime 1x
func BenchmarkRustHello(b *testing.B) {
	mirrorFile := os.Getenv("PLINTH_MIRRORS")
	if mirrorFile == "" {
		b.Skip("PLINTH_MIRRORS not set: no upstream sources to build from")
	}
	var coldS, warmS float64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if err := os.CopyFS(dir, os.DirFS("../../recipes/rust-hello")); err != nil {
			b.Fatal(err)
		}
		cache, out := filepath.Join(b.TempDir(), "cache"), filepath.Join(b.TempDir(), "out")
		build := func(acc *float64) string {
			start := time.Now()
			stdout, stderr, code := plinth(b, "build", dir, "--board", "qemu_virt_aarch64", "--mirror", mirrorFile, "--offline", "--cache-dir", cache, "-o", out, "--json")
			if code != 0 {
				b.Fatalf("plinth build: %s", stderr)
			}
			*acc += time.Since(start).Seconds()
			var ran []string
			for _, line := range strings.Split(stdout, "\n") {
				var ev struct{ Kind, Step string }
				if json.Unmarshal([]byte(line), &ev) == nil && ev.Kind == "start" {
					ran = append(ran, ev.Step)
				}
			}
			slices.Sort(ran)
			return strings.Join(ran, ",")
		}
		build(&coldS)
		lib := filepath.Join(dir, "pd", "hello", "src", "lib.rs")
		src, err := os.ReadFile(lib)
		if err != nil || !strings.Contains(string(src), "hello from Rust") {
			b.Fatalf("the PD's source: %v", err)
		}
		os.WriteFile(lib, []byte(strings.Replace(string(src), "hello from Rust", "hello again from Rust", 1)), 0o644)
		if ran := build(&warmS); ran != "image,pd-hello" {
			b.Errorf("the warm rebuild ran %s; want image,pd-hello", ran)
		}
	}
	n := float64(b.N)
	b.ReportMetric(coldS/n, "cold-s")
	b.ReportMetric(warmS/n, "warm-rs-edit-s")
}
