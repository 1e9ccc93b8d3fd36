package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/proc"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/recipe"
)

// offlineCargo gives cargo a private home in the step's work directory that
// replaces crates.io with nothing and patches each crate the recipe pins to
// its source (crates maps a crate, or URL#crate for a git dependency, to
// SOURCE or SOURCE/DIR), so builds are offline and use only pinned code.
// It returns the environment cargo runs with.
//
// The crates are copied under the workspace (workspace/.plinth-crates):
// cargo hashes a path dependency's location into symbol names, relative to
// the workspace when it lies inside it and absolute otherwise, so only
// there do they give the same binary in every work directory.
func offlineCargo(sc *builder.StepContext, workspace string, vendor []string, fetched map[string]builder.Fetched, crates, extra map[string]string) (map[string]string, error) {
	return offlineCargoWith(sc, workspace, "", vendor, nil, fetched, crates, extra)
}

// offlineCargoWith is offlineCargo whose crates.io is the standard
// library's own vendored crates (stdVendor, from the toolchain's source)
// when the step builds core and alloc for a bare-metal target, with the
// crates plinth itself provides (local: crate -> directory) patched in too.
func offlineCargoWith(sc *builder.StepContext, workspace, stdVendor string, vendor []string, local map[string]string, fetched map[string]builder.Fetched, crates, extra map[string]string) (map[string]string, error) {
	var cfg strings.Builder
	registry := stdVendor
	if registry == "" || len(vendor) > 0 {
		registry = filepath.Join(sc.Work, "vendor")
		if err := os.MkdirAll(registry, 0o755); err != nil {
			return nil, err
		}
		// Crates a Cargo.lock pins, laid out as cargo vendor does; the
		// standard library's own beside them when it is built here too.
		if err := writeVendor(registry, vendor, fetched); err != nil {
			return nil, err
		}
		if stdVendor != "" {
			entries, err := os.ReadDir(stdVendor)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if _, err := os.Lstat(filepath.Join(registry, e.Name())); os.IsNotExist(err) {
					if err := os.Symlink(filepath.Join(stdVendor, e.Name()), filepath.Join(registry, e.Name())); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	fmt.Fprintf(&cfg, "[source.crates-io]\nreplace-with = \"pinned\"\n[source.pinned]\ndirectory = %q\n[net]\noffline = true\n", registry)
	patches := map[string][]string{} // registry or git URL -> lines
	copied := map[string]bool{}
	for _, crate := range sortedKeys(crates) {
		s, dir, _ := strings.Cut(crates[crate], "/")
		if !copied[s] {
			if err := builder.CopyTree(fetched[s].Dir, filepath.Join(workspace, ".plinth-crates", s)); err != nil {
				return nil, err
			}
			copied[s] = true
		}
		where, name := "crates-io", crate
		if url, c, ok := strings.Cut(crate, "#"); ok {
			where, name = fmt.Sprintf("%q", url), c
		}
		patches[where] = append(patches[where], fmt.Sprintf("%s = { path = %q }", name, filepath.Join(workspace, ".plinth-crates", s, filepath.FromSlash(dir))))
	}
	for _, name := range slices.Sorted(maps.Keys(local)) {
		patches["crates-io"] = append(patches["crates-io"], fmt.Sprintf("%s = { path = %q }", name, local[name]))
	}
	for _, where := range slices.Sorted(maps.Keys(patches)) {
		fmt.Fprintf(&cfg, "[patch.%s]\n%s\n", where, strings.Join(patches[where], "\n"))
	}
	home := filepath.Join(sc.Work, "cargo-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg.String()), 0o644); err != nil {
		return nil, err
	}
	env := map[string]string{"CARGO_HOME": home, "CARGO_TARGET_DIR": filepath.Join(sc.Work, "target")}
	maps.Copy(env, extra)
	return env, nil
}

// rustupEnv lets rustup's cargo and rustc proxies find their toolchains
// under the hermetic environment's private HOME.
func rustupEnv() map[string]string {
	if rh := os.Getenv("RUSTUP_HOME"); rh != "" {
		return map[string]string{"RUSTUP_HOME": rh}
	}
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, ".rustup")); err == nil {
			return map[string]string{"RUSTUP_HOME": filepath.Join(home, ".rustup")}
		}
	}
	return map[string]string{}
}

// RustTarget is the Rust target a component builds for on a board: the
// one it names ({arch} replaced), else the board architecture's bare-metal
// target.
func RustTarget(c recipe.Component, arch string) string {
	if c.Target == "" {
		return recipe.BareMetalTarget(boards.Arch(arch))
	}
	return strings.ReplaceAll(c.Target, "{arch}", arch)
}

// bareMetal says whether a target has no operating system under it, so
// its PD is a static library linked with the C toolchain against
// libmicrokit and microkit.ld.
func bareMetal(target string) bool {
	return strings.Contains(target, "-none") || strings.HasSuffix(target, ".json")
}

// rustToolchain finds cargo and rustc for a Rust PD: for a bare-metal
// target, a toolchain whose source tree (core, alloc and their vendored
// crates) is installed — Debian's rustc-web, cargo-web and rust-web-src
// first, then what PATH has — and returns the vendored crates' directory.
func rustToolchain(tools *builder.Tools, target string) (cargo, rustc builder.Tool, vendor string, err error) {
	candidates := [][2]string{{"cargo", "rustc"}}
	if bareMetal(target) {
		candidates = [][2]string{{"/usr/bin/cargo", "/usr/bin/rustc"}, {"cargo", "rustc"}}
	}
	var why error
	for _, cand := range candidates {
		c, err1 := tools.Identify(cand[0])
		r, err2 := tools.Identify(cand[1])
		if err1 != nil || err2 != nil {
			why = errors.Join(err1, err2)
			continue
		}
		if !bareMetal(target) {
			return c, r, "", nil
		}
		sysroot, err := rustSysroot(r.Path)
		if err != nil {
			why = err
			continue
		}
		v := filepath.Join(sysroot, "lib", "rustlib", "src", "rust", "library", "vendor")
		if _, err := os.Stat(v); err != nil {
			why = fmt.Errorf("%s has no source of the standard library (%s)", r.Path, v)
			continue
		}
		return c, r, v, nil
	}
	return builder.Tool{}, builder.Tool{}, "", fmt.Errorf("no Rust toolchain builds for %s here (%v): apt-get install rustc-web cargo-web rust-web-src", target, why)
}

// rustSysroot is where a rustc keeps its libraries and sources.
func rustSysroot(rustc string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), builder.ProbeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, rustc, "--print", "sysroot")
	proc.Bind(cmd)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s --print sysroot: %w", rustc, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// rustPDStep builds a Rust protection domain with cargo, offline: the
// recipe's package for the board's target, with the SDK's headers in
// SEL4_INCLUDE_DIRS (as rust-sel4 expects). For a bare-metal target core
// (and what build_std names) is built from the toolchain's source, the
// package is built as a static library and linked with the C toolchain's
// ld against microkit.ld and libmicrokit, as a C PD is; otherwise cargo
// links it with the SDK's libraries on the search path and the recipe's
// ldflags.
// It returns the standard library's step too when it made it (the first
// PD of its target and crates; stdSteps remembers it for the others).
func rustPDStep(c recipe.Component, b *boards.Board, config string, sdk sdkInput, deps []*builder.Step, fetched map[string]builder.Fetched, h builder.Hermetic, tools *builder.Tools, tc Toolchain, boardKey map[string]any, epoch int64, stdSteps map[string]*builder.Step) (*builder.Step, *builder.Step, error) {
	target := RustTarget(c, string(b.Arch))
	cargo, rustc, vendor, err := rustToolchain(tools, target)
	if err != nil {
		return nil, nil, fmt.Errorf("component %s: %w", c.Name, err)
	}
	ids := []builder.Tool{cargo, rustc}
	digests := map[string]builder.Digest{c.Source: fetched[c.Source].Digest}
	crates := maps.Clone(c.Crates)
	if crates == nil {
		crates = map[string]string{}
	}
	maps.Copy(crates, c.LockedGit)
	for _, loc := range crates {
		s, _, _ := strings.Cut(loc, "/")
		digests[s] = fetched[s].Digest
	}
	for _, s := range c.Vendor {
		digests[s] = fetched[s].Digest
	}
	extra := rustupEnv()
	buildStd := c.BuildStd
	if bareMetal(target) {
		extra["RUSTC_BOOTSTRAP"] = "1" // -Z build-std on a stable toolchain
		if len(buildStd) == 0 {
			buildStd = []string{"core"}
		}
	}
	ch := builder.Hermetic{Path: h.Path, Epoch: epoch}
	pkg := c.Package
	if pkg == "" {
		pkg = c.Name
	}
	var binding builder.Digest
	var std, newStd *builder.Step
	if bareMetal(target) {
		if binding, err = rustMicrokitDigest(); err != nil {
			return nil, nil, err
		}
		name := "rust-std-" + strings.TrimSuffix(filepath.Base(target), ".json") + "-" + strings.Join(buildStd, "-")
		if std = stdSteps[name]; std == nil {
			std = rustStdStep(name, target, buildStd, cargo, rustc, vendor, h, extra)
			stdSteps[name], newStd = std, std
		}
		deps = append(append([]*builder.Step{}, deps...), std)
	}
	st := &builder.Step{Name: "pd-" + c.Name, Deps: deps, Outputs: []string{c.ELF()}}
	st.Key = map[string]any{"kind": "microkit-pd-rust", "component": c, "target": target, "binding": binding, "sources": digests, "sdk": sdk.digest, "tools": ids, "toolchain": tc, "board": boardKey, "env": ch.KeyEnv(extra)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		if err := sdk.place(sc, b.Name, config); err != nil {
			return err
		}
		if err := builder.CopyTree(fetched[c.Source].Dir, filepath.Join(sc.Work, "src")); err != nil {
			return err
		}
		dir := filepath.Join(sc.Work, "src", filepath.FromSlash(c.Dir))
		var local map[string]string
		bindingDir := filepath.Join(dir, ".plinth-crates", "plinth-microkit")
		if bareMetal(target) {
			if err := writeRustMicrokit(bindingDir); err != nil {
				return err
			}
			local = map[string]string{"plinth-microkit": bindingDir}
		}
		env, err := offlineCargoWith(sc, dir, vendor, c.Vendor, local, fetched, crates, extra)
		if err != nil {
			return err
		}
		env["RUSTC"] = rustc.Path
		boardDir := filepath.Join(sc.Work, "sdk", "board", b.Name, config)
		flags := []string{"--remap-path-prefix=" + sc.Work + "=."}
		if std != nil {
			// core and the rest, built once for the target by their own step.
			sysroot := filepath.Join(sc.Work, "sysroot")
			if err := builder.Extract(filepath.Join(sc.Deps[std.Name], "sysroot.tar"), sysroot, 0); err != nil {
				return err
			}
			flags = append(flags, "--sysroot="+sysroot)
		}
		if !bareMetal(target) {
			flags = append(flags, "-L", "native="+filepath.Join(boardDir, "lib"))
			for _, f := range c.LDFlags {
				flags = append(flags, "-C", "link-arg="+f)
			}
		}
		env["SEL4_INCLUDE_DIRS"] = filepath.Join(boardDir, "include")
		env["MICROKIT_BOARD"], env["MICROKIT_CONFIG"], env["MICROKIT_SDK"] = b.Name, config, filepath.Join(sc.Work, "sdk")
		env["CARGO_ENCODED_RUSTFLAGS"] = strings.Join(flags, "\x1f")
		argv := []string{cargo.Path, "build", "--release", "--offline", "-p", pkg}
		if bareMetal(target) {
			argv = append(argv, "--lib")
		}
		if len(c.Features) > 0 {
			argv = append(argv, "--features", strings.Join(c.Features, ","))
		}
		if target != "" {
			argv = append(argv, "--target", target)
		}
		if len(buildStd) > 0 && std == nil {
			argv = append(argv, "-Z", "build-std="+strings.Join(buildStd, ","), "-Z", "build-std-features=compiler-builtins-mem")
		}
		if err := ch.RunCommand(ctx, sc.Work, dir, argv, env, sc.Log); err != nil {
			return err
		}
		release := filepath.Join(sc.Work, "target", strings.TrimSuffix(filepath.Base(target), ".json"), "release")
		if !bareMetal(target) {
			return builder.CopyFile(filepath.Join(release, pkg), filepath.Join(sc.Out, c.ELF()), 0o755)
		}
		// The binding's shim, compiled against this SDK's microkit.h.
		shim := filepath.Join(sc.Work, "plinth_microkit_shim.o")
		cc := append([]string{tc.CC.Path, "-c", "-ffreestanding", "-nostdlib", "-O2", "-g", builder.PrefixMap(sc.Work)}, archCFlags[string(b.Arch)]...)
		if b.Arch == "aarch64" && b.CPU != "" {
			cc = append(cc, "-mcpu="+b.CPU)
		}
		if linuxPrefix(tc.Prefix) {
			cc = append(cc, "-fno-pie")
		}
		cc = append(cc, "-I"+filepath.Join(boardDir, "include"), filepath.Join(bindingDir, "shim.c"), "-o", shim)
		if err := ch.RunCommand(ctx, sc.Work, sc.Work, cc, nil, sc.Log); err != nil {
			return err
		}
		// The static library after libmicrokit (which calls its init and
		// notified), in one group (it calls libmicrokit and the shim back).
		lib := filepath.Join(release, "lib"+strings.ReplaceAll(pkg, "-", "_")+".a")
		link := []string{tc.LD.Path, "-T", filepath.Join(boardDir, "lib", "microkit.ld"), "-L", filepath.Join(boardDir, "lib"), "--gc-sections"}
		link = append(link, c.LDFlags...)
		link = append(link, "--start-group", "-lmicrokit", shim, lib, "--end-group", "-o", filepath.Join(sc.Out, c.ELF()))
		return ch.RunCommand(ctx, sc.Work, sc.Work, link, nil, sc.Log)
	}
	return st, newStd, nil
}

// rustStdStep builds a target's standard library crates (core, and what
// else build_std names) from the toolchain's own source once, as a sysroot
// (sysroot.tar) that every Rust PD of that target and toolchain uses with
// --sysroot: building core takes about 20 s, a PD then well under one.
func rustStdStep(name, target string, crates []string, cargo, rustc builder.Tool, vendor string, h builder.Hermetic, extra map[string]string) *builder.Step {
	st := &builder.Step{Name: name, Outputs: []string{"sysroot.tar"}}
	st.Key = map[string]any{"kind": "rust-std", "target": target, "crates": crates, "tools": []builder.Tool{cargo, rustc}, "env": h.KeyEnv(extra)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		dir := filepath.Join(sc.Work, "plinth-std")
		if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
			return err
		}
		manifest := "[package]\nname = \"plinth-std\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/lib.rs\"\n\n[profile.release]\npanic = \"abort\"\n"
		if err := os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(manifest), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "src", "lib.rs"), []byte("#![no_std]\n"), 0o644); err != nil {
			return err
		}
		env, err := offlineCargoWith(sc, dir, vendor, nil, nil, nil, nil, extra)
		if err != nil {
			return err
		}
		env["RUSTC"] = rustc.Path
		env["CARGO_ENCODED_RUSTFLAGS"] = "--remap-path-prefix=" + sc.Work + "=."
		argv := []string{cargo.Path, "build", "--release", "--offline", "--target", target,
			"-Z", "build-std=" + strings.Join(crates, ","), "-Z", "build-std-features=compiler-builtins-mem"}
		if err := h.RunCommand(ctx, sc.Work, dir, argv, env, sc.Log); err != nil {
			return err
		}
		deps := filepath.Join(sc.Work, "target", strings.TrimSuffix(filepath.Base(target), ".json"), "release", "deps")
		lib := filepath.Join(sc.Work, "sysroot", "lib", "rustlib", strings.TrimSuffix(filepath.Base(target), ".json"), "lib")
		if err := os.MkdirAll(lib, 0o755); err != nil {
			return err
		}
		rlibs, _ := filepath.Glob(filepath.Join(deps, "*.rlib"))
		for _, r := range rlibs {
			if strings.HasPrefix(filepath.Base(r), "libplinth_std-") {
				continue
			}
			if err := builder.CopyFile(r, filepath.Join(lib, filepath.Base(r)), 0o644); err != nil {
				return err
			}
		}
		return TarDir(filepath.Join(sc.Out, "sysroot.tar"), filepath.Join(sc.Work, "sysroot"), []string{"lib"})
	}
	return st
}
