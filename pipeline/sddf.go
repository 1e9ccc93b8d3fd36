package pipeline

import (
	"context"
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/sddf"
	"github.com/pointsav/plinth/sdf"
)

// The confirming protection domain, compiled like sDDF's own components
// (its file is placed in the sDDF tree's copy, under plinth/).
//
//go:embed confirm/confirm.c
var confirmSource []byte

// ConfirmPD is the confirming protection domain's name (and, with .elf,
// its program's).
const ConfirmPD = "plinth_confirm"

// sddfUtilSources are the util library's files (util/NAME.c); each
// library adds its putchar.
var sddfUtilSources = []string{"cache", "printf", "newlibc", "assert", "bitarray", "fsmalloc"}

// sddfParts are the steps that build sDDF's parts for a recipe: the util
// libraries, and each asked-for class's driver; compose then wires them
// into the system in the image step.
type sddfParts struct {
	util       *builder.Step
	components []*builder.Step // drivers and virtualisers, each outputs NAME.elf
	all        []sddf.Driver
	source     string
}

// sddfFlags are the C flags sDDF's parts and its clients compile with:
// its headers and the SDK's, the board's CPU, freestanding, as the sDDF
// examples compile them (less clang's -target, and less -Werror, which
// only some examples set: the drivers meet warnings under GCC that their
// clang builds do not).
func sddfFlags(b *boards.Board, arch, work, boardDir string, tc Toolchain) []string {
	flags := []string{"-ffreestanding", "-nostdlib", "-g3", "-O3", "-Wall", "-Wno-unused-function", builder.PrefixMap(work)}
	flags = append(flags, archCFlags[arch]...)
	if arch == "aarch64" && b.CPU != "" {
		flags = append(flags, "-mcpu="+b.CPU)
	}
	if linuxPrefix(tc.Prefix) {
		flags = append(flags, "-fno-pie")
	}
	return append(flags, "-I"+filepath.Join(boardDir, "include"), "-I"+filepath.Join(work, "sddf", "include"), "-I"+filepath.Join(work, "sddf", "include", "microkit"))
}

// sddfStepsFor plans the util and driver steps of a recipe's sddf section.
func sddfStepsFor(r *recipe.Recipe, b *boards.Board, config string, fetched map[string]builder.Fetched, h builder.Hermetic, tc Toolchain, tools *builder.Tools, sdk sdkInput, sdkDeps []*builder.Step, boardKey map[string]any, epoch int64) (*sddfParts, error) {
	s := r.SDDF
	src, ok := fetched[s.Source]
	if !ok {
		return nil, fmt.Errorf("the sDDF source %s was not fetched", s.Source)
	}
	drivers, err := sddf.LoadDrivers(os.DirFS(src.Dir))
	if err != nil {
		return nil, err
	}
	ar, err := tools.Identify(tc.Prefix + "ar")
	if err != nil {
		return nil, fmt.Errorf("sDDF's util library: %w", err)
	}
	arch := string(b.Arch)
	sh := builder.Hermetic{Path: h.Path, Epoch: epoch}
	placeSDDF := func(sc *builder.StepContext) error {
		return builder.CopyTree(src.Dir, filepath.Join(sc.Work, "sddf"))
	}
	parts := &sddfParts{all: drivers, source: s.Source}
	util := &builder.Step{Name: "sddf-util", Deps: sdkDeps, Outputs: []string{"libsddf_util_debug.a", "libsddf_util.a"}}
	util.Key = map[string]any{"kind": "sddf-util", "sddf": src.Digest, "sdk": sdk.digest, "toolchain": tc, "ar": ar, "board": boardKey, "env": sh.KeyEnv(nil)}
	util.Run = func(ctx context.Context, sc *builder.StepContext) error {
		if err := sdk.place(sc, b.Name, config); err != nil {
			return err
		}
		if err := placeSDDF(sc); err != nil {
			return err
		}
		flags := sddfFlags(b, arch, sc.Work, filepath.Join(sc.Work, "sdk", "board", b.Name, config), tc)
		os.MkdirAll(filepath.Join(sc.Work, "obj"), 0o755)
		compile := func(name string) (string, error) {
			obj := filepath.Join("obj", name+".o")
			argv := append(append([]string{tc.CC.Path, "-c"}, flags...), filepath.Join("sddf", "util", name+".c"), "-o", obj)
			return obj, sh.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log)
		}
		var base []string
		for _, name := range sddfUtilSources {
			obj, err := compile(name)
			if err != nil {
				return err
			}
			base = append(base, obj)
		}
		for lib, putchar := range map[string]string{"libsddf_util_debug.a": "putchar_debug", "libsddf_util.a": "putchar_serial"} {
			obj, err := compile(putchar)
			if err != nil {
				return err
			}
			argv := append([]string{ar.Path, "crsD", filepath.Join("out", lib)}, append(base, obj)...)
			if err := sh.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log); err != nil {
				return err
			}
		}
		return nil
	}
	parts.util = util

	// component is a step that compiles sDDF C files (paths in the sDDF
	// tree) and links them with the debug util library into NAME.elf.
	// plinthFiles are files of plinth's own a component compiles, by
	// their path in the sDDF tree's copy.
	plinthFiles := map[string]map[string][]byte{}
	component := func(name string, srcs []string, extra ...string) *builder.Step {
		st := &builder.Step{Name: "sddf-" + name, Deps: append(append([]*builder.Step(nil), sdkDeps...), util), Outputs: []string{name + ".elf"}}
		own := plinthFiles[name]
		st.Key = map[string]any{"kind": "sddf-component", "srcs": srcs, "plinth_files": own, "cflags": extra, "sddf": src.Digest, "sdk": sdk.digest, "toolchain": tc, "board": boardKey, "env": sh.KeyEnv(nil)}
		st.Run = func(ctx context.Context, sc *builder.StepContext) error {
			if err := sdk.place(sc, b.Name, config); err != nil {
				return err
			}
			if err := placeSDDF(sc); err != nil {
				return err
			}
			for rel, data := range own {
				dst := filepath.Join(sc.Work, "sddf", filepath.FromSlash(rel))
				os.MkdirAll(filepath.Dir(dst), 0o755)
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					return err
				}
			}
			boardDir := filepath.Join(sc.Work, "sdk", "board", b.Name, config)
			flags := append(sddfFlags(b, arch, sc.Work, boardDir, tc), extra...)
			os.MkdirAll(filepath.Join(sc.Work, "obj"), 0o755)
			var objs []string
			for i, rel := range srcs {
				// A driver's own headers live beside its sources or in
				// include/ there.
				here := filepath.Join(sc.Work, "sddf", filepath.Dir(rel))
				obj := filepath.Join("obj", fmt.Sprintf("%d.o", i))
				argv := append(append([]string{tc.CC.Path, "-c"}, flags...), "-I"+filepath.Join(here, "include"), "-I"+here, filepath.Join("sddf", rel), "-o", obj)
				if err := sh.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log); err != nil {
					return err
				}
				objs = append(objs, obj)
			}
			utilLib := filepath.Join(sc.Deps[util.Name], "libsddf_util_debug.a")
			argv := append([]string{tc.LD.Path, "-L" + filepath.Join(boardDir, "lib")}, objs...)
			argv = append(argv, "--start-group", "-lmicrokit", "-Tmicrokit.ld", utilLib, "--end-group", "-o", filepath.Join("out", name+".elf"))
			return sh.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log)
		}
		parts.components = append(parts.components, st)
		return st
	}
	driver := func(class boards.DeviceClass, name string) error {
		dev := b.SDDF.Devices[class][0]
		drv, err := sddf.MatchDriver(drivers, string(class), dev.Compatible)
		if err != nil {
			return fmt.Errorf("board %s %s %s: %w", b.Name, class, dev.Node, err)
		}
		found, _ := filepath.Glob(filepath.Join(src.Dir, "drivers", filepath.FromSlash(drv.Dir), "*.c"))
		if len(found) == 0 {
			return fmt.Errorf("sDDF driver %s has no C sources", drv.Dir)
		}
		var srcs []string
		for _, f := range found {
			rel, _ := filepath.Rel(src.Dir, f)
			srcs = append(srcs, filepath.ToSlash(rel))
		}
		component(name, srcs, dev.CFlags...)
		return nil
	}
	if s.Timer != nil {
		if err := driver("timer", "timer_driver"); err != nil {
			return nil, err
		}
	}
	if s.Serial != nil {
		if err := driver("serial", "serial_driver"); err != nil {
			return nil, err
		}
		component("serial_virt_tx", []string{"serial/components/virt_tx.c"})
		if s.Serial.RX == nil || *s.Serial.RX {
			component("serial_virt_rx", []string{"serial/components/virt_rx.c"})
		}
	}
	if s.Network != nil {
		if err := driver("network", "ethernet_driver"); err != nil {
			return nil, err
		}
		component("net_virt_rx", []string{"network/components/virt_rx.c"})
		component("net_virt_tx", []string{"network/components/virt_tx.c"})
		// One copier program; compose gives each client's copier a copy.
		component("net_copy", []string{"network/components/copy.c"})
	}
	if s.I2C != nil {
		if err := driver("i2c", "i2c_driver"); err != nil {
			return nil, err
		}
		component("i2c_virt", []string{"i2c/components/virt.c"})
	}
	if s.Blk != nil || r.Confirming() {
		if err := driver("blk", "blk_driver"); err != nil {
			return nil, err
		}
		component("blk_virt", []string{"blk/components/virt.c"})
	}
	if r.Confirming() {
		plinthFiles[ConfirmPD] = map[string][]byte{"plinth/confirm.c": confirmSource}
		component(ConfirmPD, []string{"plinth/confirm.c"})
	}
	return parts, nil
}

// compose adds the recipe's sDDF classes to the system description in
// sysFile, writes the result to dst, and writes each component's config
// into the ELFs in elves.
func (p *sddfParts) compose(r *recipe.Recipe, b *boards.Board, config, sysFile, dst, elves string) error {
	data, err := os.ReadFile(sysFile)
	if err != nil {
		return err
	}
	target, err := sdf.TargetFor(b, config, r.SDK.Version)
	if err != nil {
		return err
	}
	var d diag.List
	sys := sdf.Parse(sysFile, data, target, &d)
	if d.HasErrors() {
		return d.Err()
	}
	composer, err := sddf.NewComposer(sys, b, p.all, r.SDDF.Release)
	if err != nil {
		return err
	}
	// Errors name the recipe's line for the class.
	at := func(class string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", r.SDDF.Meta.At(class), err)
		}
		return nil
	}
	if t := r.SDDF.Timer; t != nil {
		if err := at("timer", composer.Timer(t.Clients)); err != nil {
			return err
		}
	}
	if s := r.SDDF.Serial; s != nil {
		opts := sddf.Serial{Clients: s.Clients, Begin: sddf.DefaultSerialBegin, Colour: true, RX: true}
		if s.Begin != nil {
			opts.Begin = *s.Begin
		}
		if s.Colour != nil {
			opts.Colour = *s.Colour
		}
		if s.RX != nil {
			opts.RX = *s.RX
		}
		if err := at("serial", composer.Serial(opts)); err != nil {
			return err
		}
	}
	if bl := r.SDDF.Blk; bl != nil || r.Confirming() {
		var clients []sddf.BlkClientSpec
		if bl != nil {
			for _, c := range bl.Clients {
				clients = append(clients, sddf.BlkClientSpec{Name: c.Name, Partition: c.Partition, QueueCapacity: c.QueueCapacity, DataSize: uint64(c.DataSize)})
			}
		}
		if r.Confirming() {
			// The lowest priority: it confirms once everything else
			// has come up and settled.
			if sys.PD(ConfirmPD) != nil {
				return fmt.Errorf("%s: update.confirm adds the protection domain %s, and the system already has one", r.Update.Meta.At("confirm"), ConfirmPD)
			}
			sys.PDs = append(sys.PDs, &sdf.PD{Name: ConfirmPD, Priority: 1, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: 0x1000, FPU: true, Program: ConfirmPD + ".elf"})
			sys.Changed()
			clients = append(clients, sddf.BlkClientSpec{Name: ConfirmPD, Partition: image.StatePartition - 1})
		}
		if err := at("blk", composer.Blk(clients)); err != nil {
			return err
		}
	}
	if c := r.SDDF.I2C; c != nil {
		if err := at("i2c", composer.I2C(c.Clients)); err != nil {
			return err
		}
	}
	if n := r.SDDF.Network; n != nil {
		var clients []sddf.NetClientSpec
		for _, c := range n.Clients {
			spec := sddf.NetClientSpec{Name: c.Name, Lwip: c.Lwip}
			if c.MAC != "" {
				mac, err := net.ParseMAC(c.MAC)
				if err != nil {
					return at("network", err)
				}
				spec.MAC = mac
			}
			clients = append(clients, spec)
		}
		if err := at("network", composer.Net(clients)); err != nil {
			return err
		}
		for _, copier := range sddf.Copiers(clients) {
			if err := builder.CopyFile(filepath.Join(elves, "net_copy.elf"), filepath.Join(elves, copier), 0o644); err != nil {
				return err
			}
		}
	}
	composed := composer.Out
	text := sdf.Format(sys)
	again := sdf.Parse(dst, text, target, &d)
	sdf.Check(again, target, &d)
	if d.HasErrors() {
		return fmt.Errorf("the composed system does not check: %w", d.Err())
	}
	if err := os.WriteFile(dst, text, 0o644); err != nil {
		return err
	}
	for elf, sections := range composed.Sections {
		path := filepath.Join(elves, elf)
		if err := sddf.SetSectionsFile(path, path, sections); err != nil {
			return err
		}
	}
	return nil
}
