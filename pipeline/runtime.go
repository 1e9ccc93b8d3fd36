package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/boards"
)

// runtimeBuild is how one board/configuration's SDK runtime is built from
// source for a Microkit 2.0.x tree: seL4 configured with the board file's
// kernel options, then the loader, the monitor and libmicrokit with the
// variables those makefiles take, laid out as the SDK's board/B/C.
// build_sdk.py does the same for the boards written into it; this takes the
// options from the board file, so one board's option changes that board's
// runtime and nothing else.
type runtimeBuild struct {
	board            *boards.Board
	config           string
	options          map[string]boards.Value
	microkit, kernel string // the source trees, relative to the work directory
	python           string
	pythonPath       []string // seL4's build-time Python modules (pyfdt), relative to the work directory
	prefix           string   // the C toolchain prefix, with its trailing -
}

// cmakeArgs are the -D arguments, sorted; a path option written
// microkit:PATH or kernel:PATH is resolved in that tree.
func (rb runtimeBuild) cmakeArgs(work string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(rb.options)) {
		v := rb.options[k].String()
		if rest, ok := strings.CutPrefix(v, "microkit:"); ok {
			v = filepath.Join(work, rb.microkit, filepath.FromSlash(rest))
		} else if rest, ok := strings.CutPrefix(v, "kernel:"); ok {
			v = filepath.Join(work, rb.kernel, filepath.FromSlash(rest))
		}
		out = append(out, "-D"+k+"="+v)
	}
	return out
}

// run builds the runtime into sc.Work/sdk/board/B/C.
func (rb runtimeBuild) run(ctx context.Context, sc *builder.StepContext, h builder.Hermetic) error {
	w := sc.Work
	var pp []string
	for _, p := range rb.pythonPath {
		pp = append(pp, filepath.Join(w, p))
	}
	withPython := func(env map[string]string) map[string]string {
		out := map[string]string{"PYTHONPATH": strings.Join(pp, ":")}
		maps.Copy(out, env)
		return out
	}
	sel4Build, sel4Install := filepath.Join(w, "build", "sel4"), filepath.Join(w, "build", "sel4-install")
	kernelCross, err := wrappedPrefix(filepath.Join(w, "cc-kernel"), rb.prefix, h.Path, mapWork(w))
	if err != nil {
		return err
	}
	argv := []string{"cmake", "-GNinja", "-DCMAKE_INSTALL_PREFIX=" + sel4Install, "-DPYTHON3=" + rb.python, "-DCROSS_COMPILER_PREFIX=" + kernelCross}
	argv = append(argv, rb.cmakeArgs(w)...)
	argv = append(argv, "-S", filepath.Join(w, rb.kernel), "-B", sel4Build)
	for _, cmd := range [][]string{argv, {"cmake", "--build", sel4Build}, {"cmake", "--install", sel4Build}} {
		if err := h.RunCommand(ctx, w, w, cmd, withPython(nil), sc.Log); err != nil {
			return fmt.Errorf("seL4: %w", err)
		}
	}

	dest := filepath.Join(w, "sdk", "board", rb.board.Name, rb.config)
	for _, d := range []string{"elf", "lib", "include"} {
		if err := os.MkdirAll(filepath.Join(dest, d), 0o755); err != nil {
			return err
		}
	}
	for src, dst := range map[string]string{
		filepath.Join(sel4Install, "bin", "kernel.elf"):                                 "elf/sel4.elf",
		filepath.Join(sel4Build, "generated", "invocations_all.json"):                   "invocations_all.json",
		filepath.Join(sel4Build, "gen_headers", "plat", "machine", "platform_gen.json"): "platform_gen.json",
	} {
		if err := builder.CopyFile(src, filepath.Join(dest, filepath.FromSlash(dst)), 0o644); err != nil {
			return fmt.Errorf("seL4 left no %s: %w", filepath.Base(src), err)
		}
	}
	for _, part := range []string{"kernel_Config", "libsel4", "libsel4/sel4_Config", "libsel4/autoconf"} {
		src := filepath.Join(sel4Install, filepath.FromSlash(part), "include")
		if _, err := os.Stat(src); os.IsNotExist(err) {
			continue // not every seL4 installs every part
		}
		if err := overlayTree(src, filepath.Join(dest, "include")); err != nil {
			return err
		}
	}

	genConfig, err := readGenConfig(filepath.Join(sel4Install, "libsel4", "include", "kernel", "gen_config.json"))
	if err != nil {
		return err
	}
	loaderVars := map[string]string{"LINK_ADDRESS": "0x" + strconv.FormatUint(rb.board.Loader.LinkAddress, 16), "PRINTING": "0"}
	if rb.board.Configs[rb.config].Debug {
		loaderVars["PRINTING"] = "1"
	}
	switch rb.board.Arch {
	case "riscv64":
		loaderVars["FIRST_HART_ID"] = fmt.Sprint(genConfig["FIRST_HART_ID"])
	case "aarch64":
		switch {
		case truthy(genConfig["ARM_PA_SIZE_BITS_40"]):
			loaderVars["PHYSICAL_ADDRESS_BITS"] = "40"
		case truthy(genConfig["ARM_PA_SIZE_BITS_44"]):
			loaderVars["PHYSICAL_ADDRESS_BITS"] = "44"
		default:
			return fmt.Errorf("seL4's configuration gives neither 40 nor 44 physical address bits")
		}
	}
	cross, err := wrappedPrefix(filepath.Join(w, "cc-runtime"), rb.prefix, h.Path, mapWork(w, bareMetalFlags(rb.prefix)...))
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name, output, into string
		vars               map[string]string
	}{
		{"loader", "loader.elf", "elf", loaderVars},
		{"monitor", "monitor.elf", "elf", nil},
		{"libmicrokit", "libmicrokit.a", "lib", nil},
	} {
		build := filepath.Join(w, "build", c.name)
		if err := os.MkdirAll(build, 0o755); err != nil {
			return err
		}
		env := map[string]string{"ARCH": string(rb.board.Arch), "BUILD_DIR": build, "SEL4_SDK": dest, "TOOLCHAIN": cross}
		if c.name != "libmicrokit" {
			env["BOARD"] = rb.board.Name
		}
		if rb.board.Arch == "aarch64" && rb.board.CPU != "" {
			env["GCC_CPU"] = rb.board.CPU
		}
		maps.Copy(env, c.vars)
		if err := h.RunCommand(ctx, w, w, []string{"make", "-C", filepath.Join(w, rb.microkit, c.name)}, withPython(env), sc.Log); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if err := builder.CopyFile(filepath.Join(build, c.output), filepath.Join(dest, c.into, c.output), 0o644); err != nil {
			return err
		}
	}
	lib := filepath.Join(w, rb.microkit, "libmicrokit")
	if err := builder.CopyFile(filepath.Join(lib, "microkit.ld"), filepath.Join(dest, "lib", "microkit.ld"), 0o644); err != nil {
		return err
	}
	if err := overlayTree(filepath.Join(lib, "include"), filepath.Join(dest, "include")); err != nil {
		return err
	}
	return scrubWorkPath(dest, w)
}

// overlayTree copies src's files into dst, replacing files already there
// (later parts of the SDK's include directory win, as in build_sdk.py).
func overlayTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
			return err
		}
		return builder.CopyFile(p, target, 0o644)
	})
}

// truthy is how build_sdk.py reads a gen_config.json value.
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != "" && v != "0" && !strings.EqualFold(v, "off")
	}
	return false
}

// wrappedPrefix is a directory holding the prefix's tools, in which some
// (gcc, as) always add extra flags before the caller's, and the prefix that
// names it. Every compiler and assembler run of the SDK step goes through
// one: seL4's CMake build and Microkit's makefiles set their own flags, so
// the flags that map the work directory out of debug info and __FILE__ can
// only be added here.
func wrappedPrefix(dir, prefix, path string, extra map[string][]string) (string, error) {
	gcc, err := builder.LookPathIn(prefix+"gcc", path)
	if err != nil {
		return "", fmt.Errorf("no %sgcc on PATH", prefix)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tools, _ := filepath.Glob(filepath.Join(filepath.Dir(gcc), prefix+"*"))
	for _, t := range tools {
		name := strings.TrimPrefix(filepath.Base(t), prefix)
		flags, wrapped := extra[name]
		if !wrapped {
			if err := os.Symlink(t, filepath.Join(dir, filepath.Base(t))); err != nil && !os.IsExist(err) {
				return "", err
			}
			continue
		}
		script := "#!/bin/sh\nexec " + shellQuote(t)
		for _, f := range flags {
			script += " " + shellQuote(f)
		}
		script += " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(t)), []byte(script), 0o755); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, prefix), nil
}

// mapWork are the flags, by tool, that keep the work directory out of what
// gcc and as write. gcc gets the assembler's flag too: compiling a .S file
// with -g, it runs its own as (not the wrapper), and Debian's RISC-V gcc 12
// does not pass its prefix map on, so gas wrote the work directory as the
// DW_AT_comp_dir of the loader's and kernel's assembly units.
func mapWork(work string, gccFlags ...string) map[string][]string {
	return map[string][]string{
		"gcc": append(gccFlags, builder.PrefixMap(work), "-Wa,--debug-prefix-map="+work+"=."),
		"as":  {"--debug-prefix-map", work + "=."},
	}
}

// bareMetalFlags make a Linux cross compiler (aarch64-linux-gnu- and the
// like, which build position-independent executables by default) behave as
// the bare-metal one Microkit's makefiles are written for. Without them
// RISC-V's loader fails to link ("dangerous relocation ...
// R_RISCV_GOT_HI20").
func bareMetalFlags(prefix string) []string {
	if linuxPrefix(prefix) {
		return []string{"-fno-pie", "-no-pie"}
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// scrubWorkPath rewrites the work directory out of the text files under
// dir (generators such as seL4's bitfield compiler write the absolute path
// of their input into the headers they make), as -ffile-prefix-map does
// for compiled code: WORK/x becomes ./x.
func scrubWorkPath(dir, work string) error {
	from, to := []byte(work+"/"), []byte("./")
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 || !bytes.Contains(data, from) {
			return nil // binary, or nothing to rewrite
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(p, bytes.ReplaceAll(data, from, to), info.Mode().Perm())
	})
}

func readGenConfig(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seL4 left no gen_config.json: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
