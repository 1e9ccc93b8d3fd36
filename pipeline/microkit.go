package pipeline

import (
	"archive/tar"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/doctor"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/sdf"
)

// microkitSources are the sources the Microkit steps use.
func microkitSources(r *recipe.Recipe) []string {
	var out []string
	if b := r.SDK.Build; b != nil {
		out = append(out, b.Microkit, b.SeL4)
		out = append(out, b.PythonPath...)
		if b.Tool {
			for _, crate := range sortedKeys(b.ToolCrates) {
				src, _, _ := strings.Cut(b.ToolCrates[crate], "/")
				out = append(out, src)
			}
		}
	}
	for _, c := range r.Components {
		out = append(out, c.Source)
		for _, crate := range sortedKeys(c.Crates) {
			src, _, _ := strings.Cut(c.Crates[crate], "/")
			out = append(out, src)
		}
	}
	if r.System.Source != "" {
		out = append(out, r.System.Source)
	}
	if r.SDDF != nil {
		out = append(out, r.SDDF.Source)
	}
	if u := r.UBoot; u != nil {
		out = append(out, u.Source)
		if u.Firmware != "" {
			out = append(out, u.Firmware)
		}
		for _, name := range sortedKeys(u.Blobs) {
			src, _, _ := strings.Cut(u.Blobs[name], "/")
			out = append(out, src)
		}
	}
	return out
}

// sdkInput is where the steps get the SDK's files for one board and
// configuration from: the sdk step's tarball, or a directory (a release
// tarball unpacked, or an SDK on this machine).
type sdkInput struct {
	step   *builder.Step  // the sdk step, or nil
	dir    string         // the SDK root otherwise
	digest builder.Digest // of what protection domains compile against (board/B/C)
	tool   builder.Digest // of bin/microkit, which only the image step runs
}

// place puts the SDK (board/B/C and bin/microkit) into work/sdk.
func (s sdkInput) place(sc *builder.StepContext, board, config string) error {
	dst := filepath.Join(sc.Work, "sdk")
	if s.step != nil {
		return builder.Extract(filepath.Join(sc.Deps[s.step.Name], "sdk.tar"), dst, 0)
	}
	rel := filepath.Join("board", board, config)
	if err := builder.CopyTree(filepath.Join(s.dir, rel), filepath.Join(dst, rel)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dst, "bin"), 0o755); err != nil {
		return err
	}
	return builder.CopyFile(filepath.Join(s.dir, "bin", "microkit"), filepath.Join(dst, "bin", "microkit"), 0o755)
}

// MicrokitSteps returns the steps that make a recipe's Microkit image for
// one board and configuration: the SDK's runtime (seL4, loader, monitor,
// libmicrokit) when it is built from source, the Microkit tool, each
// protection domain, and the image.
func MicrokitSteps(r *recipe.Recipe, b *boards.Board, config string, fetched map[string]builder.Fetched, h builder.Hermetic, tools *builder.Tools) ([]*builder.Step, error) {
	if r.System.SDF == "" {
		return nil, nil
	}
	arch := string(b.Arch)
	tc, err := FindToolchain(tools, arch, r.Toolchain[arch])
	if err != nil {
		return nil, err
	}
	boardKey := map[string]any{"name": b.Name, "arch": b.Arch, "cpu": b.CPU, "config": config}
	var steps []*builder.Step
	var sdk sdkInput
	var toolStep *builder.Step
	epochOf := func(names ...string) int64 {
		var e int64
		for _, n := range names {
			e = max(e, fetched[n].Epoch)
		}
		return e
	}
	switch {
	case r.SDK.Build != nil:
		bs := r.SDK.Build
		if sdf.CompareVersions(r.SDK.Version, "2.1.0") >= 0 {
			return nil, fmt.Errorf("building Microkit %s from source needs its capDL initialiser, a Rust program for a bare-metal target this machine cannot compile; use sdk.release (the pinned SDK tarball) instead", r.SDK.Version)
		}
		python, err := tools.Identify(pythonForSeL4())
		if err != nil {
			return nil, err
		}
		var ids []builder.Tool
		for _, name := range []string{"cmake", "ninja", "make", "dtc", tc.Prefix + "objcopy"} {
			t, err := tools.Identify(name)
			if err != nil {
				return nil, fmt.Errorf("the SDK build: %w", err)
			}
			ids = append(ids, t)
		}
		if b.Emulator != nil {
			// seL4's build for an emulated board asks QEMU for its device tree.
			if t, err := tools.Identify(b.Emulator.Command); err == nil {
				ids = append(ids, t)
			} else {
				return nil, fmt.Errorf("the SDK build: %w", err)
			}
		}
		srcs := append([]string{bs.Microkit, bs.SeL4}, bs.PythonPath...)
		digests := map[string]builder.Digest{}
		for _, s := range srcs {
			digests[s] = fetched[s].Digest
		}
		opts, err := b.KernelOptionsFor(config, r.SDK.Version)
		if err != nil {
			return nil, err
		}
		optKey := map[string]string{}
		for k, v := range opts {
			optKey[k] = v.String()
		}
		rb := runtimeBuild{board: b, config: config, options: opts, microkit: filepath.Join("src", bs.Microkit), kernel: filepath.Join("src", bs.SeL4), python: python.Path, prefix: tc.Prefix}
		for _, s := range bs.PythonPath {
			rb.pythonPath = append(rb.pythonPath, filepath.Join("src", s))
		}
		sh := builder.Hermetic{Path: h.Path, Epoch: epochOf(srcs...)}
		st := &builder.Step{Name: "sdk", Outputs: []string{"sdk.tar"}}
		// The key holds the kernel options and the loader's facts, so editing
		// one board's file rebuilds that board's runtime and nothing else.
		st.Key = map[string]any{"kind": "microkit-sdk-runtime", "version": r.SDK.Version, "sources": digests, "python": python, "tools": ids, "toolchain": tc,
			"board": boardKey, "kernel_options": optKey, "loader_link_address": b.Loader.LinkAddress, "debug": b.Configs[config].Debug, "env": sh.KeyEnv(nil)}
		st.Run = func(ctx context.Context, sc *builder.StepContext) error {
			for _, s := range srcs {
				if err := builder.CopyTree(fetched[s].Dir, filepath.Join(sc.Work, "src", s)); err != nil {
					return err
				}
			}
			if err := rb.run(ctx, sc, sh); err != nil {
				return err
			}
			version, err := os.ReadFile(filepath.Join(sc.Work, rb.microkit, "VERSION"))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(sc.Work, "sdk", "VERSION"), version, 0o644); err != nil {
				return err
			}
			return TarDir(filepath.Join(sc.Out, "sdk.tar"), filepath.Join(sc.Work, "sdk"), []string{filepath.Join("board", b.Name, config), "VERSION"})
		}
		steps = append(steps, st)
		sdk = sdkInput{step: st}
		if bs.Tool {
			toolStep, err = toolStepFor(r, fetched, h, tools, epochOf)
			if err != nil {
				return nil, err
			}
			steps = append(steps, toolStep)
		}
	case r.SDK.Release != nil:
		f, ok := fetched["sdk-release"]
		if !ok {
			return nil, fmt.Errorf("the SDK release was not fetched")
		}
		sdk = sdkInput{dir: f.Dir, digest: f.Digest}
	case r.SDK.Path != "":
		dir := r.SDK.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(r.Dir, dir)
		}
		d, err := builder.HashTree(filepath.Join(dir, "board", b.Name, config))
		if err != nil {
			return nil, fmt.Errorf("SDK %s has no board/%s/%s: %w", dir, b.Name, config, err)
		}
		t, _, err := builder.HashFile(filepath.Join(dir, "bin", "microkit"))
		if err != nil {
			return nil, fmt.Errorf("SDK %s has no bin/microkit: %w", dir, err)
		}
		sdk = sdkInput{dir: dir, digest: d, tool: t}
	}
	sdkDeps := func() []*builder.Step {
		if sdk.step != nil {
			return []*builder.Step{sdk.step}
		}
		return nil
	}

	var parts *sddfParts
	var sddfDigest builder.Digest
	if r.SDDF != nil {
		sddfDigest = fetched[r.SDDF.Source].Digest
		parts, err = sddfStepsFor(r, b, config, fetched, h, tc, tools, sdk, sdkDeps(), boardKey, epochOf(r.SDDF.Source))
		if err != nil {
			return nil, err
		}
		steps = append(append(steps, parts.util), parts.components...)
	}

	// Protection domains.
	var pdSteps []*builder.Step
	stdSteps := map[string]*builder.Step{} // one standard library a target, shared
	for _, c := range r.Components {
		c := c
		if c.Lang == "rust" {
			epoch := epochOf(c.Source)
			for _, loc := range c.Crates {
				src, _, _ := strings.Cut(loc, "/")
				epoch = max(epoch, epochOf(src))
			}
			st, std, err := rustPDStep(c, b, config, sdk, sdkDeps(), fetched, h, tools, tc, boardKey, epoch, stdSteps)
			if err != nil {
				return nil, err
			}
			if std != nil {
				steps = append(steps, std)
			}
			pdSteps = append(pdSteps, st)
			steps = append(steps, st)
			continue
		}
		st, err := cPDStep(r, c, b, config, sdk, sdkDeps(), parts, fetched, builder.Hermetic{Path: h.Path, Epoch: epochOf(c.Source)}, tc, boardKey)
		if err != nil {
			return nil, err
		}
		pdSteps = append(pdSteps, st)
		steps = append(steps, st)
	}

	// The image.
	image, report := r.Outputs.ImageName(), r.Outputs.Report
	if report == "" {
		report = "report.txt"
	}
	deps := append(sdkDeps(), pdSteps...)
	if parts != nil {
		deps = append(deps, parts.components...)
	}
	if toolStep != nil {
		deps = append(deps, toolStep)
	}
	sysSrc := r.System.Source
	sysDigest := fetched[sysSrc].Digest
	sysFile := filepath.Join(fetched[sysSrc].Dir, filepath.FromSlash(r.System.SDF))
	if sysSrc == "" {
		if sysFile, err = RecipeFile(r, r.System.SDF); err != nil {
			return nil, fmt.Errorf("system.sdf: %w", err)
		}
	}
	// The file itself: a source's digest covers it, but a description
	// beside the recipe is in no source.
	sysFileDigest, _, err := builder.HashFile(sysFile)
	if err != nil {
		return nil, fmt.Errorf("system description: %w", err)
	}
	outputs := []string{image, report}
	if r.SDDF != nil {
		outputs = append(outputs, "system.system") // as composed
	}
	capdl := sdf.CompareVersions(r.SDK.Version, "2.3.0") >= 0
	if capdl {
		outputs = append(outputs, "capdl.json") // the final capDL spec, structured
	}
	st := &builder.Step{Name: "image", Deps: deps, Outputs: outputs}
	// What the image step reads of the board: the name and configuration
	// the Microkit tool takes, and for sDDF systems the devices and memory
	// the composition places (not the CPU, which only compilers read).
	imageBoard := map[string]any{"name": b.Name, "arch": b.Arch, "config": config}
	if r.SDDF != nil {
		imageBoard["sddf"], imageBoard["memory"] = b.SDDF, b.Memory
	}
	st.Key = map[string]any{"kind": "microkit-image", "version": r.SDK.Version, "system": r.System, "system_source": sysDigest, "system_file": sysFileDigest, "sdk_tool": sdk.tool, "sddf": r.SDDF, "sddf_source": sddfDigest, "sdk": sdk.digest, "outputs": r.Outputs, "board": imageBoard, "env": h.KeyEnv(nil)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		if err := sdk.place(sc, b.Name, config); err != nil {
			return err
		}
		mk := filepath.Join(sc.Work, "sdk", "bin", "microkit")
		if toolStep != nil {
			os.MkdirAll(filepath.Dir(mk), 0o755)
			if err := builder.CopyFile(filepath.Join(sc.Deps[toolStep.Name], "microkit"), mk, 0o755); err != nil {
				return err
			}
		}
		if _, err := os.Stat(mk); err != nil {
			return fmt.Errorf("the SDK has no Microkit tool (bin/microkit): set sdk.build.tool")
		}
		elves := filepath.Join(sc.Work, "elves")
		os.MkdirAll(elves, 0o755)
		for _, p := range pdSteps {
			if err := builder.CopyTree(sc.Deps[p.Name], elves); err != nil {
				return err
			}
		}
		if parts != nil {
			for _, d := range parts.components {
				if err := builder.CopyTree(sc.Deps[d.Name], elves); err != nil {
					return err
				}
			}
			// The composed system is also an output, to read and to graph.
			if err := parts.compose(r, b, config, sysFile, filepath.Join(sc.Work, "out", "system.system"), elves); err != nil {
				return err
			}
			if err := builder.CopyFile(filepath.Join(sc.Work, "out", "system.system"), filepath.Join(sc.Work, "system.system"), 0o644); err != nil {
				return err
			}
		} else if err := builder.CopyFile(sysFile, filepath.Join(sc.Work, "system.system"), 0o644); err != nil {
			return err
		}
		if err := checkProgramImages(filepath.Join(sc.Work, "system.system"), sysFile, elves, r.SDK.Version); err != nil {
			return err
		}
		argv := []string{mk, "system.system", "--search-path", "elves", "--board", b.Name, "--config", config, "-o", filepath.Join("out", image), "-r", filepath.Join("out", report)}
		if r.Outputs.ImageType != "" && sdf.CompareVersions(r.SDK.Version, "2.1.0") >= 0 {
			argv = append(argv, "--image-type", r.Outputs.ImageType)
		}
		if capdl {
			argv = append(argv, "--capdl-json", filepath.Join("out", "capdl.json"))
		}
		var toolOut strings.Builder
		err := h.RunCommand(ctx, sc.Work, sc.Work, argv, map[string]string{"MICROKIT_SDK": filepath.Join(sc.Work, "sdk")}, io.MultiWriter(sc.Log, &toolOut))
		if err != nil {
			if diags := toolDiagnostics(toolOut.String(), sysFile); diags != "" {
				return fmt.Errorf("the Microkit tool refused the system:\n%s", diags)
			}
		}
		return err
	}
	steps = append(steps, st)
	if r.SDDF != nil && r.SDDF.Blk != nil && r.SDDF.Blk.Disk != nil {
		steps = append(steps, diskStep(r.SDDF.Blk.Disk))
	}
	return steps, nil
}

var toolLocation = regexp.MustCompile(`system\.system:(\d+):(\d+)`)

// checkProgramImages checks, before the Microkit tool runs, that each
// protection domain's program image has what the tool needs of it: Microkit
// before 2.1 looks up __sel4_ipc_buffer_obj in every image and panics
// ("Could not find __sel4_ipc_buffer_obj") when an image was not linked
// with microkit.ld. The error names the PD, the image and the symbol, at
// the PD's line of the recipe's system description.
func checkProgramImages(system, shown, elves, version string) error {
	if sdf.CompareVersions(version, "2.1.0") >= 0 {
		return nil
	}
	data, err := os.ReadFile(system)
	if err != nil {
		return err
	}
	var d diag.List
	s := sdf.Parse(shown, data, sdf.Permissive(""), &d)
	if s == nil {
		return nil // the tool says what is wrong
	}
	var problems []string
	for _, pd := range s.AllPDs() {
		if pd.Program == "" {
			continue
		}
		f, err := elf.Open(filepath.Join(elves, filepath.FromSlash(pd.Program)))
		if err != nil {
			continue // missing: the tool says so, at the right place
		}
		syms, _ := f.Symbols()
		f.Close()
		size := map[string]uint64{}
		for _, sym := range syms {
			size[sym.Name] = sym.Size
		}
		// What libmicrokit defines and the tool writes (2.0.1: missing,
		// the IPC buffer's is a panic, the others an error naming no PD).
		var lacks []string
		for _, sym := range []string{"__sel4_ipc_buffer_obj", "microkit_name", "microkit_passive", "microkit_irqs", "microkit_notifications", "microkit_pps"} {
			if _, ok := size[sym]; !ok {
				lacks = append(lacks, sym)
			}
		}
		if len(lacks) > 0 {
			what := "the symbol " + lacks[0]
			if len(lacks) > 1 {
				what = "the symbols " + strings.Join(lacks, ", ")
			}
			problems = append(problems, fmt.Sprintf("%s: error: protection domain %s: %s lacks %s the Microkit tool needs (link it with the SDK's microkit.ld and libmicrokit)", pd.El.Pos, pd.Name, pd.Program, what))
		}
		// Each setvar the tool writes as 8 bytes (a smaller variable fails
		// an assertion inside the tool).
		check := func(sym string, pos diag.Pos, attr string) {
			if sym == "" {
				return
			}
			n, ok := size[sym]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: error: protection domain %s: %s has no symbol %s for %s to set (declare it: uint64_t %s; in C, #[no_mangle] static mut %s: u64 = 0; in Rust)", pos, pd.Name, pd.Program, sym, attr, sym, sym))
			case n != 0 && n < 8:
				problems = append(problems, fmt.Sprintf("%s: error: protection domain %s: %s's symbol %s is %d bytes, and the Microkit tool writes 8 into it for %s (declare it 64 bits wide: uint64_t or uintptr_t)", pos, pd.Name, pd.Program, sym, n, attr))
			}
		}
		for _, m := range pd.Maps {
			check(m.SetvarVaddr, m.El.At("setvar_vaddr"), "setvar_vaddr")
			check(m.SetvarSize, m.El.At("setvar_size"), "setvar_size")
		}
		for _, sv := range pd.Setvars {
			check(sv.Symbol, sv.El.At("symbol"), "setvar")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the program images cannot go into an image:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}

// toolDiagnostics turns the Microkit tool's errors into FILE:LINE:COL
// diagnostics that point into the recipe's system description (the tool
// saw a copy of it named system.system).
func toolDiagnostics(out, sysFile string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		msg := strings.TrimSpace(l)
		for _, p := range []string{"Error: ", "ERROR: ", "microkit: error: "} {
			if strings.HasPrefix(msg, p) {
				msg = strings.TrimPrefix(msg, p)
				pos := sysFile
				if m := toolLocation.FindStringSubmatch(msg); m != nil {
					pos = sysFile + ":" + m[1] + ":" + m[2]
					msg = strings.TrimSpace(toolLocation.ReplaceAllString(msg, ""))
					msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(msg, ":"), "@"))
				}
				lines = append(lines, pos+": error: "+strings.Trim(msg, `"`))
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}

// toolStepFor builds the Microkit tool with cargo, offline, from the crate
// sources the recipe pins.
func toolStepFor(r *recipe.Recipe, fetched map[string]builder.Fetched, h builder.Hermetic, tools *builder.Tools, epochOf func(...string) int64) (*builder.Step, error) {
	bs := r.SDK.Build
	var ids []builder.Tool
	for _, name := range []string{"cargo", "rustc"} {
		t, err := tools.Identify(name)
		if err != nil {
			return nil, fmt.Errorf("the Microkit tool: %w", err)
		}
		ids = append(ids, t)
	}
	crates := map[string]string{}
	digests := map[string]builder.Digest{bs.Microkit: fetched[bs.Microkit].Digest}
	var names []string
	maps.Copy(crates, bs.ToolCrates)
	maps.Copy(crates, bs.ToolGit)
	for _, loc := range crates {
		src, _, _ := strings.Cut(loc, "/")
		digests[src] = fetched[src].Digest
		names = append(names, src)
	}
	for _, src := range bs.ToolVendor {
		digests[src] = fetched[src].Digest
	}
	extra := rustupEnv()
	th := builder.Hermetic{Path: h.Path, Epoch: epochOf(append(names, bs.Microkit)...)}
	st := &builder.Step{Name: "tool", Outputs: []string{"microkit"}}
	st.Key = map[string]any{"kind": "microkit-tool", "version": r.SDK.Version, "sources": digests, "crates": crates, "tools": ids, "env": th.KeyEnv(extra)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		src := filepath.Join(sc.Work, "src", bs.Microkit)
		if err := builder.CopyTree(fetched[bs.Microkit].Dir, src); err != nil {
			return err
		}
		env, err := offlineCargo(sc, filepath.Join(src, "tool", "microkit"), bs.ToolVendor, fetched, crates, extra)
		if err != nil {
			return err
		}
		cargo, _ := tools.Identify("cargo")
		if err := th.RunCommand(ctx, sc.Work, filepath.Join(src, "tool", "microkit"), []string{cargo.Path, "build", "--release", "--offline"}, env, sc.Log); err != nil {
			return err
		}
		return builder.CopyFile(filepath.Join(sc.Work, "target", "release", "microkit"), filepath.Join(sc.Out, "microkit"), 0o755)
	}
	return st, nil
}

// pythonForSeL4 is the Python seL4's build runs with: Debian's, which sees
// Debian's python3-* modules, when there is one.
func pythonForSeL4() string {
	if p, err := doctor.Python(exec.LookPath); err == nil {
		return p
	}
	return "python3"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TarDir writes the named parts of root (files or directories) as a tar
// with sorted names, zero times and owners, and only the executable bit of
// the mode: the same bytes for the same tree.
func TarDir(dst, root string, parts []string) error {
	var files []string
	for _, p := range parts {
		err := filepath.WalkDir(filepath.Join(root, p), func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				rel, _ := filepath.Rel(root, f)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sort.Strings(files)
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for _, f := range files {
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: mode, Size: info.Size(), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return out.Close()
}
