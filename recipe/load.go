// Package recipe defines plinth's recipe format: which pinned sources, which
// Microkit SDK, which components and which system description make an image,
// for which boards and configurations, and what a boot in the emulator must
// show. Recipes are YAML, decoded strictly; Check reports every problem with
// file:line:col.
package recipe

import (
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/pointsav/plinth/internal/safename"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
	"github.com/pointsav/plinth/sdf"
)

// Parse decodes a recipe from data. The recipe is returned even when it has
// problems (they are in diags), so callers can report everything at once.
func Parse(file string, data []byte, diags *diag.List) *Recipe {
	root := strictyaml.Parse(file, data, diags)
	if root == nil {
		return nil
	}
	r := &Recipe{File: file, Dir: path.Dir(file)}
	dec := &strictyaml.Decoder{File: file, Diags: diags}
	dec.Decode(root, r)
	return r
}

// Check validates a decoded recipe against the boards and, through fsys, the
// local files it names (relative to the recipe's directory; fsys may be nil
// to skip file checks).
func Check(r *Recipe, set *boards.Set, fsys fs.FS, diags *diag.List) {
	at := r.Meta.At
	checkSources(r, fsys, diags)

	// Boards and configurations.
	seen := map[string]bool{}
	var listed []*boards.Board
	for i, name := range r.Boards {
		if seen[name] {
			diags.Errorf(at(fmt.Sprintf("boards[%d]", i)), "boards[%d]: %q is listed twice", i, name)
			continue
		}
		seen[name] = true
		b, ok := set.Get(name)
		if !ok {
			diags.Errorf(at(fmt.Sprintf("boards[%d]", i)), "boards[%d]: %s", i, set.UnknownError(name))
			continue
		}
		listed = append(listed, b)
		if r.SDK.Version != "" && b.Since != "" && sdf.CompareVersions(b.Since, r.SDK.Version) > 0 {
			diags.Errorf(at(fmt.Sprintf("boards[%d]", i)), "boards[%d]: %s needs Microkit %s or later, but the recipe's SDK is %s", i, name, b.Since, r.SDK.Version)
		}
	}
	if r.Meta.Has("boards") && len(r.Boards) == 0 && !diags.HasErrorAt(at("boards")) {
		diags.Errorf(at("boards"), "boards: list at least one board")
	}
	cseen := map[string]bool{}
	for i, c := range r.Configs {
		if cseen[c] {
			diags.Errorf(at(fmt.Sprintf("configs[%d]", i)), "configs[%d]: %q is listed twice", i, c)
			continue
		}
		cseen[c] = true
		for _, b := range listed {
			if !b.HasConfig(c) {
				diags.Errorf(at(fmt.Sprintf("configs[%d]", i)), "configs[%d]: board %s has no configuration %q (it has: %s)", i, b.Name, c, strings.Join(b.ConfigNames(), ", "))
			}
		}
	}
	if r.Meta.Has("configs") && len(r.Configs) == 0 {
		diags.Errorf(at("configs"), "configs: list at least one configuration")
	}

	checkSDK(r, diags)
	if u := r.UBoot; u != nil {
		requireSource(r, u.Source, u.Meta.At("source"), "uboot.source", diags)
		for name, loc := range u.Blobs {
			src, rest, _ := strings.Cut(loc, "/")
			requireSource(r, src, u.Meta.At("blobs"), "uboot.blobs."+name, diags)
			if err := safename.RelPath(rest); err != nil {
				diags.Errorf(u.Meta.At("blobs"), "uboot.blobs.%s: give SOURCE/PATH: %v", name, err)
			}
		}
		if u.Firmware != "" {
			requireSource(r, u.Firmware, u.Meta.At("firmware"), "uboot.firmware", diags)
		}
		for _, b := range listed {
			if b.UBoot == nil {
				diags.Errorf(u.Meta.Pos, "uboot: board %s's file does not say how U-Boot is built for it (uboot: defconfig)", b.Name)
				continue
			}
			// What the board's U-Boot needs that is not U-Boot's: named,
			// not guessed.
			for _, blob := range b.UBoot.Blobs {
				if _, ok := u.Blobs[blob.Name]; !ok {
					diags.Errorf(u.Meta.Pos, "uboot: board %s's U-Boot needs %s, which the recipe does not give (uboot.blobs: {%s: SOURCE/PATH}): %s", b.Name, blob.Name, blob.Name, blob.What)
				}
			}
			if len(b.UBoot.Firmware) > 0 && u.Firmware == "" {
				diags.Errorf(u.Meta.Pos, "uboot: board %s boots with firmware files beside U-Boot the recipe does not give (uboot.firmware: SOURCE): %s", b.Name, strings.Join(b.UBoot.Firmware, ", "))
			}
		}
	}
	checkComponents(r, fsys, diags)
	checkRustTargets(r, listed, diags)
	checkSDDF(r, listed, diags)
	checkSteps(r, diags)
	checkLock(r, diags)

	// The system description: when it is local, check it now for every
	// board and configuration, as the recipe's Microkit version reads it.
	if r.System.Source != "" {
		requireSource(r, r.System.Source, r.System.Meta.At("source"), "system.source", diags)
	}
	sdfSafe := true
	if r.System.SDF != "" {
		if err := safename.RelPath(r.System.SDF); err != nil {
			diags.Errorf(r.System.Meta.At("sdf"), "system.sdf: %v (the system description must lie inside the recipe's directory or its source)", err)
			sdfSafe = false
		}
	}
	if file, ok := localSDF(r); ok && fsys != nil && sdfSafe {
		if checkLocalFile(fsys, file, r.System.Meta.At("sdf"), "system.sdf", diags) {
			checkSystem(r, file, fsys, listed, diags)
		}
	}

	for _, arch := range slices.Sorted(maps.Keys(r.Toolchain)) {
		if !slices.Contains(boards.Arch("").Values(), arch) {
			diags.Errorf(r.Meta.At("toolchain"), "toolchain: unknown architecture %q (expected one of: %s)", arch, strings.Join(boards.Arch("").Values(), ", "))
		}
	}

	// Outputs.
	if t := r.Outputs.ImageType; t != "" {
		if !slices.Contains(boards.ImageType("").Values(), t) {
			diags.Errorf(r.Outputs.Meta.At("image_type"), "outputs.image_type: unknown image type %q (expected one of: %s)", t, strings.Join(boards.ImageType("").Values(), ", "))
		} else {
			var tooOld []string
			for _, b := range listed {
				_, allowed := b.ImageFor(r.SDK.Version)
				switch {
				case slices.Contains(allowed, boards.ImageType(t)):
				case slices.Contains(b.Image.Allowed, boards.ImageType(t)):
					tooOld = append(tooOld, b.Name)
				default:
					diags.Errorf(r.Outputs.Meta.At("image_type"), "outputs.image_type: board %s cannot take image type %q (it allows: %s)", b.Name, t, imageTypes(b.Image.Allowed))
				}
			}
			if len(tooOld) > 0 {
				diags.Errorf(r.Outputs.Meta.At("image_type"), "outputs.image_type: Microkit %s writes only raw binaries (--image-type came with %s): %s would take %q from a later SDK", r.SDK.Version, boards.ImageTypesFrom, strings.Join(tooOld, ", "), t)
			}
		}
	}
	for _, k := range []string{"image", "report"} {
		name := map[string]string{"image": r.Outputs.Image, "report": r.Outputs.Report}[k]
		if name == "" {
			continue
		}
		if err := safename.Name(name); err != nil {
			diags.Errorf(r.Outputs.Meta.At(k), "outputs.%s: %v", k, err)
		}
	}

	// Expectations are checked on the boards QEMU emulates; a recipe whose
	// boards have none never has them checked. (Boards without an emulator
	// beside one with it are built only; check's summary says which.)
	if r.Expect != nil && r.Expect.Boot != nil {
		if len(r.Expect.Boot.Serial) == 0 && r.Expect.Boot.Meta.Has("serial") {
			diags.Errorf(r.Expect.Boot.Meta.At("serial"), "expect.boot.serial: list at least one expected text")
		}
		var without []string
		for _, b := range listed {
			if b.Emulator == nil {
				without = append(without, b.Name)
			}
		}
		if len(listed) > 0 && len(without) == len(listed) {
			diags.Warnf(r.Expect.Meta.At("boot"), "expect.boot: no board of the recipe has an emulator (%s); the expectations are never checked", strings.Join(without, ", "))
		}
	}
}

func checkSources(r *Recipe, fsys fs.FS, diags *diag.List) {
	if r.CratesURL != "" {
		if u, err := url.Parse(r.CratesURL); err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") {
			diags.Errorf(r.Meta.At("crates_url"), "crates_url: %q is not an http, https or file URL", diag.Clip(r.CratesURL))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
		s := r.Sources[name]
		where := "sources." + name
		if s == nil {
			continue
		}
		if err := safename.Name(name); err != nil {
			diags.Errorf(s.Meta.Pos, "%s: the source's name becomes a directory name: %v", where, err)
		}
		kinds := 0
		for _, k := range []string{"git", "archive", "path"} {
			if s.Meta.Has(k) {
				kinds++
			}
		}
		switch {
		case kinds == 0:
			diags.Errorf(s.Meta.Pos, "%s: give one of git (with commit), archive (with sha256) or path", where)
			continue
		case kinds > 1:
			diags.Errorf(s.Meta.Pos, "%s: give only one of git, archive and path", where)
			continue
		}
		switch s.Kind() {
		case "git":
			if !s.Meta.Has("commit") && !r.locked(name, "commit") {
				hint := ""
				if s.Ref != "" {
					hint = fmt.Sprintf(" (ref %q is not a pin; plinth lock resolves it)", s.Ref)
				}
				diags.Errorf(s.Meta.Pos, "%s: git source is not pinned: add commit: <40 hex digits>%s", where, hint)
			}
			foreign(s, where, diags, "sha256", "strip", "path")
		case "archive":
			if !s.Meta.Has("sha256") && !r.locked(name, "sha256") {
				diags.Errorf(s.Meta.Pos, "%s: archive source is not pinned: add sha256: <64 hex digits> (or run plinth lock)", where)
			}
			foreign(s, where, diags, "commit", "ref", "submodules", "path")
		case "path":
			foreign(s, where, diags, "commit", "ref", "submodules", "sha256", "strip")
			if fsys != nil {
				p := path.Join(r.Dir, s.Path)
				if info, err := fs.Stat(fsys, p); err != nil || !info.IsDir() {
					diags.Errorf(s.Meta.At("path"), "%s: %q is not a directory next to the recipe", where, s.Path)
				}
			}
		}
		if s.Strip < 0 {
			diags.Errorf(s.Meta.At("strip"), "%s.strip must not be negative", where)
		}
	}
	// A source nobody uses is probably a mistake.
	used := usedSources(r)
	for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
		if !used[name] && r.Sources[name] != nil {
			diags.Warnf(r.Sources[name].Meta.Pos, "sources.%s is not used by the sdk, a component or the system", name)
		}
	}
}

// locked reports whether the recipe's lock pins a source.
func (r *Recipe) locked(name, what string) bool {
	if r.Lock == nil {
		return false
	}
	p := r.Lock.Sources[name]
	return (what == "commit" && p.Commit != "") || (what == "sha256" && p.SHA256 != "")
}

func foreign(s *Source, where string, diags *diag.List, keys ...string) {
	for _, k := range keys {
		if s.Meta.Has(k) {
			diags.Errorf(s.Meta.At(k), "%s: %s does not apply to a %s source", where, k, s.Kind())
		}
	}
}

func usedSources(r *Recipe) map[string]bool {
	used := map[string]bool{r.System.Source: true}
	if b := r.SDK.Build; b != nil {
		used[b.Microkit], used[b.SeL4] = true, true
		for _, p := range b.PythonPath {
			used[p] = true
		}
		for _, c := range b.ToolCrates {
			src, _, _ := strings.Cut(c, "/")
			used[src] = true
		}
	}
	if r.SDDF != nil {
		used[r.SDDF.Source] = true
	}
	if r.UBoot != nil {
		used[r.UBoot.Source] = true
		used[r.UBoot.Firmware] = true
		for _, loc := range r.UBoot.Blobs {
			src, _, _ := strings.Cut(loc, "/")
			used[src] = true
		}
	}
	for _, c := range r.Components {
		used[c.Source] = true
		for _, loc := range c.Crates {
			src, _, _ := strings.Cut(loc, "/")
			used[src] = true
		}
	}
	for _, st := range r.Steps {
		for _, src := range st.Sources {
			used[src] = true
		}
	}
	return used
}

func checkSDK(r *Recipe, diags *diag.List) {
	s := &r.SDK
	n := 0
	for _, k := range []string{"build", "release", "path"} {
		if s.Meta.Has(k) {
			n++
		}
	}
	if n != 1 && r.Meta.Has("sdk") {
		diags.Errorf(r.Meta.At("sdk"), "sdk: give exactly one of build, release and path")
	}
	if r.Meta.Has("system") && !r.Meta.Has("sdk") {
		diags.Errorf(r.Meta.At("system"), "system: an image needs an sdk (build, release or path)")
	}

	if b := s.Build; b != nil {
		requireSource(r, b.Microkit, b.Meta.At("microkit"), "sdk.build.microkit", diags)
		requireSource(r, b.SeL4, b.Meta.At("sel4"), "sdk.build.sel4", diags)
		for i, p := range b.PythonPath {
			requireSource(r, p, b.Meta.At(fmt.Sprintf("python_path[%d]", i)), fmt.Sprintf("sdk.build.python_path[%d]", i), diags)
		}
		for _, crate := range slices.Sorted(maps.Keys(b.ToolCrates)) {
			src, _, _ := strings.Cut(b.ToolCrates[crate], "/")
			requireSource(r, src, b.Meta.At("tool_crates"), "sdk.build.tool_crates."+crate, diags)
		}
		if len(b.ToolCrates) > 0 && !b.Tool {
			diags.Warnf(b.Meta.At("tool_crates"), "sdk.build.tool_crates is given but tool is not true: the crates are not used")
		}
		if b.ToolLock != "" {
			if err := safename.RelPath(b.ToolLock); err != nil {
				diags.Errorf(b.Meta.At("tool_lock"), "sdk.build.tool_lock: %v (it must be a path inside the microkit source)", err)
			}
			if !b.Tool {
				diags.Warnf(b.Meta.At("tool_lock"), "sdk.build.tool_lock is given but tool is not true: the lock is not used")
			}
		}
	}
}

func checkComponents(r *Recipe, fsys fs.FS, diags *diag.List) {
	names := map[string]bool{}
	elves := map[string]string{}
	for i, c := range r.Components {
		where := fmt.Sprintf("components[%d]", i)
		if c.Name != "" {
			if names[c.Name] {
				diags.Errorf(c.Meta.At("name"), "%s: component name %q is used twice", where, c.Name)
			}
			names[c.Name] = true
			if other, dup := elves[c.ELF()]; dup {
				diags.Errorf(c.Meta.At("name"), "%s: output %s is also produced by component %s", where, c.ELF(), other)
			}
			elves[c.ELF()] = c.Name
		}
		if c.Output != "" {
			if err := safename.Name(c.Output); err != nil {
				diags.Errorf(c.Meta.At("output"), "%s.output: %v", where, err)
			}
		}
		requireSource(r, c.Source, c.Meta.At("source"), where+".source", diags)
		switch c.Lang {
		case "c":
			if len(c.Srcs) == 0 {
				diags.Errorf(c.Meta.Pos, "%s: a C component needs srcs", where)
			}
			for j, src := range c.RecipeSrcs {
				if err := safename.RelPath(src); err != nil {
					diags.Errorf(c.Meta.At("recipe_srcs"), "%s.recipe_srcs[%d]: %v (it must be a path inside the recipe's directory)", where, j, err)
				} else if fsys != nil {
					checkLocalFile(fsys, path.Join(r.Dir, src), c.Meta.At("recipe_srcs"), fmt.Sprintf("%s.recipe_srcs[%d]", where, j), diags)
				}
			}
			for _, k := range []string{"package", "features", "target", "build_std", "crates", "cargo_lock"} {
				if c.Meta.Has(k) {
					diags.Errorf(c.Meta.At(k), "%s: %s applies to Rust components only", where, k)
				}
			}
		case "rust":
			if c.CargoLock != "" {
				if err := safename.RelPath(path.Clean(c.CargoLock)); err != nil {
					diags.Errorf(c.Meta.At("cargo_lock"), "%s.cargo_lock: %v (it must be a path inside the component's directory)", where, err)
				}
			}
			for _, k := range []string{"srcs", "include", "cflags", "libc", "recipe_srcs"} {
				if c.Meta.Has(k) {
					diags.Errorf(c.Meta.At(k), "%s: %s applies to C components only", where, k)
				}
			}
			for _, crate := range slices.Sorted(maps.Keys(c.Crates)) {
				src, _, _ := strings.Cut(c.Crates[crate], "/")
				requireSource(r, src, c.Meta.At("crates"), fmt.Sprintf("%s.crates.%s", where, crate), diags)
			}
		}
		for _, p := range append(append([]string{c.Dir}, c.Srcs...), c.Include...) {
			if p == "" || p == "." {
				continue
			}
			if err := safename.RelPath(path.Clean(p)); err != nil {
				diags.Errorf(c.Meta.Pos, "%s: %v (it must be a path inside the source)", where, err)
			}
		}
		// Files of local sources can be checked before any fetch.
		if s, ok := r.Sources[c.Source]; ok && s != nil && s.Kind() == "path" && fsys != nil {
			for j, src := range c.Srcs {
				checkLocalFile(fsys, path.Join(r.Dir, s.Path, c.Dir, src), c.Meta.At(fmt.Sprintf("srcs[%d]", j)), fmt.Sprintf("%s.srcs[%d]", where, j), diags)
			}
		}
	}
}

// reservedStep says whether a step name is taken: a step's outputs land in
// BUILD-DIR/NAME, beside plinth's own steps' and its logs/ and signatures/.
func reservedStep(name string) bool {
	switch name {
	case "sdk", "tool", "image", "disk", "logs", "signatures":
		return true
	}
	return strings.HasPrefix(name, "pd-") || strings.HasPrefix(name, "sddf-")
}

// checkRustTargets refuses a Rust component whose target cannot run on a
// board the recipe lists: one with an operating system under it (the
// host's), or one for another architecture.
func checkRustTargets(r *Recipe, listed []*boards.Board, diags *diag.List) {
	for i, c := range r.Components {
		if c.Lang != "rust" || c.Target == "" {
			continue // the board's bare-metal target
		}
		for _, b := range listed {
			target := strings.ReplaceAll(c.Target, "{arch}", string(b.Arch))
			where := fmt.Sprintf("components[%d].target", i)
			switch {
			case strings.HasSuffix(target, ".json") || strings.Contains(target, "sel4"):
				continue // a target specification made for seL4
			case !strings.Contains(target, "-none"):
				diags.Errorf(c.Meta.At("target"), "%s: %q has an operating system under it, and a protection domain runs on seL4: leave target out (the board's bare-metal target) or name one such as %s", where, target, BareMetalTarget(b.Arch))
				return
			case rustArch(target) != string(b.Arch):
				diags.Errorf(c.Meta.At("target"), "%s: %q is for %s, but board %s is %s (its target: %s)", where, target, rustArch(target), b.Name, b.Arch, BareMetalTarget(b.Arch))
				return
			}
		}
	}
}

// rustArch is the architecture a Rust target triple is for, in plinth's
// board terms.
func rustArch(target string) string {
	arch, _, _ := strings.Cut(target, "-")
	switch {
	case strings.HasPrefix(arch, "riscv64"):
		return "riscv64"
	case arch == "aarch64":
		return "aarch64"
	case arch == "x86_64":
		return "x86_64"
	}
	return arch
}

// BareMetalTarget is the Rust target a board architecture's protection
// domains are built for when a component names none.
func BareMetalTarget(arch boards.Arch) string {
	return map[boards.Arch]string{"aarch64": "aarch64-unknown-none", "riscv64": "riscv64gc-unknown-none-elf", "x86_64": "x86_64-unknown-none"}[arch]
}

var placeholder = regexp.MustCompile(`\{[^}]*\}`)

func checkSteps(r *Recipe, diags *diag.List) {
	byName := map[string]int{}
	for i, st := range r.Steps {
		if _, dup := byName[st.Name]; dup && st.Name != "" {
			diags.Errorf(st.Meta.At("name"), "steps[%d]: step name %q is used twice", i, st.Name)
		}
		if reservedStep(st.Name) {
			diags.Errorf(st.Meta.At("name"), "steps[%d]: %q is a name plinth uses in every build directory (its own steps: sdk, tool, image, disk, pd-*, sddf-*; and logs, signatures): choose another", i, st.Name)
		}
		byName[st.Name] = i
	}
	for i, st := range r.Steps {
		where := fmt.Sprintf("steps[%d]", i)
		if st.Meta.Has("run") && len(st.Run) == 0 {
			diags.Errorf(st.Meta.At("run"), "%s: run needs a command", where)
		}
		for j, src := range st.Sources {
			requireSource(r, src, st.Meta.At(fmt.Sprintf("sources[%d]", j)), fmt.Sprintf("%s.sources[%d]", where, j), diags)
		}
		for j, n := range st.Needs {
			if _, ok := byName[n]; !ok {
				diags.Errorf(st.Meta.At(fmt.Sprintf("needs[%d]", j)), "%s.needs[%d]: no step named %q", where, j, n)
			}
		}
		for j, o := range st.Outputs {
			if err := safename.RelPath(o); err != nil {
				diags.Errorf(st.Meta.At(fmt.Sprintf("outputs[%d]", j)), "%s.outputs[%d]: %v (it must be a path inside {out})", where, j, err)
			}
		}
		for j, arg := range st.Run {
			for _, ph := range placeholder.FindAllString(arg, -1) {
				kind, name, _ := strings.Cut(strings.Trim(ph, "{}"), ":")
				ok := false
				switch kind {
				case "out", "board", "config", "arch", "prefix_map":
					ok = name == ""
				case "src":
					ok = slices.Contains(st.Sources, name)
				case "in":
					ok = slices.Contains(st.Needs, name)
				}
				if !ok {
					diags.Errorf(st.Meta.At(fmt.Sprintf("run[%d]", j)), "%s.run[%d]: %s is not a placeholder of this step (known: {out}, {board}, {config}, {arch}, {prefix_map}, {src:NAME} for its sources, {in:STEP} for the steps it needs)", where, j, ph)
				}
			}
		}
	}
	// Cycles among needs.
	state := map[string]int{}
	var visit func(name string, trail []string) bool
	visit = func(name string, trail []string) bool {
		i, ok := byName[name]
		if !ok {
			return false
		}
		switch state[name] {
		case 1:
			diags.Errorf(r.Steps[i].Meta.At("needs"), "steps: dependency cycle %s -> %s", strings.Join(trail, " -> "), name)
			return true
		case 2:
			return false
		}
		state[name] = 1
		for _, n := range r.Steps[i].Needs {
			if visit(n, append(trail, name)) {
				return true
			}
		}
		state[name] = 2
		return false
	}
	for _, st := range r.Steps {
		if visit(st.Name, nil) {
			break
		}
	}
}

func requireSource(r *Recipe, name string, pos diag.Pos, where string, diags *diag.List) {
	if name == "" {
		return
	}
	if _, ok := r.Sources[name]; !ok {
		msg := fmt.Sprintf("%s: no source named %q", where, name)
		if s, ok := diag.Closest(name, slices.Sorted(maps.Keys(r.Sources))); ok {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		diags.Errorf(pos, "%s", msg)
	}
}

func checkLocalFile(fsys fs.FS, p string, pos diag.Pos, where string, diags *diag.List) bool {
	if info, err := fs.Stat(fsys, p); err != nil || info.IsDir() {
		diags.Errorf(pos, "%s: file %s does not exist", where, p)
		return false
	}
	return true
}

// localSDF is the system description's path when it can be read before any
// fetch: beside the recipe, or in a local (path) source.
func localSDF(r *Recipe) (string, bool) {
	if r.System.SDF == "" {
		return "", false
	}
	if r.System.Source == "" {
		return path.Join(r.Dir, r.System.SDF), true
	}
	if s, ok := r.Sources[r.System.Source]; ok && s != nil && s.Kind() == "path" {
		return path.Join(r.Dir, s.Path, r.System.SDF), true
	}
	return "", false
}

// checkSystem checks the system description for every board and
// configuration of the recipe, and against its policy. A problem the same
// for several boards is reported once.
func checkSystem(r *Recipe, file string, fsys fs.FS, listed []*boards.Board, diags *diag.List) {
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		diags.Errorf(r.System.Meta.At("sdf"), "system.sdf: %v", err)
		return
	}
	for _, b := range listed {
		for _, c := range r.Configs {
			t, err := sdf.TargetFor(b, c, r.SDK.Version)
			if err != nil {
				continue // reported with the configs
			}
			t.SearchPaths = []string{path.Dir(file)}
			if _, native := fsys.(interface{ Native() }); !native {
				t.SearchPaths = nil // prefill files inside embedded recipes are not read here
			}
			s := sdf.Parse(file, data, t, diags)
			if s != nil && r.Policy != nil {
				r.Policy.File = r.File
				sdf.CheckPolicy(s, r.Policy, diags)
			}
		}
	}
}

func imageTypes(list []boards.ImageType) string {
	var s []string
	for _, x := range list {
		s = append(s, string(x))
	}
	return strings.Join(s, ", ")
}
