package pipeline

import (
	"context"
	"fmt"
	"github.com/pointsav/plinth/builder"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
func offlineCargo(sc *builder.StepContext, workspace string, fetched map[string]builder.Fetched, crates, extra map[string]string) (map[string]string, error) {
	var cfg strings.Builder
	empty := filepath.Join(sc.Work, "crates-empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(&cfg, "[source.crates-io]\nreplace-with = \"empty\"\n[source.empty]\ndirectory = %q\n[net]\noffline = true\n", empty)
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

// rustPDStep builds a Rust protection domain with cargo, offline: the
// recipe's package for its target (the host's when none is named), with
// the SDK's headers in SEL4_INCLUDE_DIRS (as rust-sel4 expects), its
// libraries on the linker's search path and the recipe's ldflags passed to
// the linker.
func rustPDStep(c recipe.Component, b *boards.Board, config string, sdk sdkInput, deps []*builder.Step, fetched map[string]builder.Fetched, h builder.Hermetic, tools *builder.Tools, boardKey map[string]any, epoch int64) (*builder.Step, error) {
	var ids []builder.Tool
	for _, name := range []string{"cargo", "rustc"} {
		t, err := tools.Identify(name)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		ids = append(ids, t)
	}
	digests := map[string]builder.Digest{c.Source: fetched[c.Source].Digest}
	for _, loc := range c.Crates {
		s, _, _ := strings.Cut(loc, "/")
		digests[s] = fetched[s].Digest
	}
	extra := rustupEnv()
	ch := builder.Hermetic{Path: h.Path, Epoch: epoch}
	target := strings.ReplaceAll(c.Target, "{arch}", string(b.Arch))
	pkg := c.Package
	if pkg == "" {
		pkg = c.Name
	}
	st := &builder.Step{Name: "pd-" + c.Name, Deps: deps, Outputs: []string{c.ELF()}}
	st.Key = map[string]any{"kind": "microkit-pd-rust", "component": c, "target": target, "sources": digests, "sdk": sdk.digest, "tools": ids, "board": boardKey, "env": ch.KeyEnv(extra)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		if err := sdk.place(sc, b.Name, config); err != nil {
			return err
		}
		if err := builder.CopyTree(fetched[c.Source].Dir, filepath.Join(sc.Work, "src")); err != nil {
			return err
		}
		dir := filepath.Join(sc.Work, "src", filepath.FromSlash(c.Dir))
		env, err := offlineCargo(sc, dir, fetched, c.Crates, extra)
		if err != nil {
			return err
		}
		boardDir := filepath.Join(sc.Work, "sdk", "board", b.Name, config)
		flags := []string{"--remap-path-prefix=" + sc.Work + "=.", "-L", "native=" + filepath.Join(boardDir, "lib")}
		for _, f := range c.LDFlags {
			flags = append(flags, "-C", "link-arg="+f)
		}
		env["SEL4_INCLUDE_DIRS"] = filepath.Join(boardDir, "include")
		env["MICROKIT_BOARD"], env["MICROKIT_CONFIG"], env["MICROKIT_SDK"] = b.Name, config, filepath.Join(sc.Work, "sdk")
		env["CARGO_ENCODED_RUSTFLAGS"] = strings.Join(flags, "\x1f")
		argv := []string{ids[0].Path, "build", "--release", "--offline", "-p", pkg}
		if len(c.Features) > 0 {
			argv = append(argv, "--features", strings.Join(c.Features, ","))
		}
		if target != "" {
			argv = append(argv, "--target", target)
		}
		if len(c.BuildStd) > 0 {
			argv = append(argv, "-Z", "build-std="+strings.Join(c.BuildStd, ","), "-Z", "build-std-features=compiler-builtins-mem")
		}
		if err := ch.RunCommand(ctx, sc.Work, dir, argv, env, sc.Log); err != nil {
			return err
		}
		built := filepath.Join(sc.Work, "target", target, "release", pkg)
		return builder.CopyFile(built, filepath.Join(sc.Out, c.ELF()), 0o755)
	}
	return st, nil
}
