package boards

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
)

// imageTypesByArch is what the Microkit tool can write for each architecture.
var imageTypesByArch = map[Arch][]ImageType{
	"aarch64": {"binary", "elf"},
	"riscv64": {"binary", "elf", "uimage"},
	"x86_64":  {"elf"},
}

// factKeys are the top-level keys whose facts must name their source.
var factKeys = []string{"since", "kernel", "loader", "image", "memory", "console", "boot", "uboot", "emulator", "sddf"}

var (
	optionName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	configName   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	placeholders = regexp.MustCompile(`\{[^}]*\}`)
)

// validate checks a merged board for everything a type cannot say.
func validate(b *Board, d *diag.List) {
	at := b.Meta.At

	// The loader: present except on x86-64, and linked inside RAM.
	switch {
	case b.Arch == "x86_64" && b.Loader != nil:
		d.Errorf(at("loader"), "x86_64 boards have no Microkit loader; remove loader")
	case b.Arch != "x86_64" && b.Arch != "" && b.Loader == nil:
		d.Errorf(at("arch"), "missing required key \"loader\" (every %s board has a loader link address)", b.Arch)
	}
	validateMemory(b, d)
	if b.Loader != nil && len(b.Memory) > 0 && !inRAM(b.Memory, b.Loader.LinkAddress) {
		d.Errorf(b.Loader.Meta.At("link_address"), "loader.link_address %#x is outside RAM (%s)", b.Loader.LinkAddress, describeRegions(b.Memory))
	}

	// Image types the tool can write for the architecture.
	if supported, ok := imageTypesByArch[b.Arch]; ok {
		seen := map[ImageType]bool{}
		for _, t := range b.Image.Allowed {
			if seen[t] {
				d.Errorf(b.Image.Meta.At("allowed"), "image.allowed lists %q twice", t)
			}
			seen[t] = true
			if !slices.Contains(supported, t) {
				d.Errorf(b.Image.Meta.At("allowed"), "image type %q is not available on %s (the Microkit tool writes %s)", t, b.Arch, joinImages(supported))
			}
		}
		if b.Image.Default != "" && !seen[b.Image.Default] {
			d.Errorf(b.Image.Meta.At("default"), "image.default %q is not among image.allowed", b.Image.Default)
		}
	}

	// Configurations.
	if b.SMPCores < 0 {
		d.Errorf(at("smp_cores"), "smp_cores must not be negative")
	}
	plain := 0
	for _, name := range slices.Sorted(maps.Keys(b.Configs)) {
		c := b.Configs[name]
		if !configName.MatchString(name) {
			d.Errorf(c.Meta.Pos, "config name %q must be lower-case letters, digits and '-'", name)
		}
		if !c.SMP {
			plain++
		}
		checkOptions(c.KernelOptions, c.Meta.At("kernel_options"), d)
	}
	if b.Configs != nil && plain == 0 {
		d.Errorf(at("configs"), "the board has no configuration that works without SMP")
	}
	checkOptions(b.Kernel.Defaults, b.Kernel.Meta.At("defaults"), d)
	checkOptions(b.Kernel.Options, b.Kernel.Meta.At("options"), d)

	// Boot and emulation.
	if (b.Boot.Method == "multiboot") != (b.Arch == "x86_64") && b.Arch != "" && b.Boot.Method != "" {
		d.Errorf(b.Boot.Meta.At("method"), "boot method %q does not fit a %s board (multiboot is for x86_64 and x86_64 only)", b.Boot.Method, b.Arch)
	}
	// Where the boot loader puts the image must be RAM.
	inRAM := func(addr uint64) bool {
		for _, m := range b.Memory {
			if addr >= m.Base && addr-m.Base < m.Size {
				return true
			}
		}
		return len(b.Memory) == 0 // nothing to check against
	}
	if a := b.Boot.LoadAddress; a != 0 && !inRAM(a) {
		d.Errorf(b.Boot.Meta.At("load_address"), "boot.load_address %#x is outside the board's memory (%s)", a, memoryList(b.Memory))
	}
	for _, v := range slices.Sorted(maps.Keys(b.Boot.Before)) {
		if old := b.Boot.Before[v]; old != nil && old.LoadAddress != 0 && !inRAM(old.LoadAddress) {
			d.Errorf(old.Meta.At("load_address"), "boot.before.%s.load_address %#x is outside the board's memory (%s)", v, old.LoadAddress, memoryList(b.Memory))
		}
	}
	if e := b.Emulator; e != nil && e.UBoot != nil && e.UBoot.EventLog != 0 && !inRAM(e.UBoot.EventLog) {
		d.Errorf(e.UBoot.Meta.At("event_log"), "emulator.uboot.event_log %#x is outside the board's memory (%s)", e.UBoot.EventLog, memoryList(b.Memory))
	}
	if u := b.UBoot; u != nil && u.FirstPartition%(1<<20) != 0 {
		d.Errorf(u.Meta.At("first_partition"), "uboot.first_partition %#x is not a multiple of 1 MiB", u.FirstPartition)
	}
	for _, v := range slices.Sorted(maps.Keys(b.Boot.Before)) {
		if !releasePattern.MatchString(v) {
			d.Errorf(b.Boot.Meta.At("before"), "boot.before: %q is not a Microkit release like 2.1.0", v)
		} else if old := b.Boot.Before[v]; old != nil && old.Method == "" {
			d.Errorf(b.Boot.Meta.At("before"), "boot.before.%s: give the method the board boots by before Microkit %s", v, v)
		}
	}
	if e := b.Emulator; e != nil {
		all := strings.Join(e.Args, " ")
		if !strings.Contains(all, "{image}") {
			d.Errorf(e.Meta.At("args"), "emulator.args must place the image with {image}")
		}
		for _, p := range placeholders.FindAllString(all, -1) {
			if p != "{image}" && p != "{kernel}" {
				d.Errorf(e.Meta.At("args"), "emulator.args: unknown placeholder %s (known: {image}, {kernel})", p)
			}
		}
		if u := e.UBoot; u != nil {
			all := strings.Join(u.Args, " ")
			if u.OS != "" && u.OS != "u-boot" && u.OS != "linux" {
				d.Errorf(u.Meta.At("os"), "emulator.uboot.os: %q is not u-boot or linux", u.OS)
			}
			for _, p := range []string{"{uboot}", "{dtb}", "{disk}"} {
				if !strings.Contains(all, p) {
					d.Errorf(u.Meta.At("args"), "emulator.uboot.args must place %s", p)
				}
			}
			for _, p := range placeholders.FindAllString(all, -1) {
				if !slices.Contains([]string{"{uboot}", "{dtb}", "{disk}", "{tpm}", "{env}"}, p) {
					d.Errorf(u.Meta.At("args"), "emulator.uboot.args: unknown placeholder %s (known: {uboot}, {dtb}, {disk}, {tpm}, {env})", p)
				}
				if p == "{env}" && u.EnvFlash == 0 {
					d.Errorf(u.Meta.At("args"), "emulator.uboot.args place {env}: give env_flash, the flash bank's size")
				}
			}
		}
	}
	if c := b.Console; c != nil && c.Base == 0 && c.IOPort == 0 {
		d.Errorf(at("console"), "console needs base (MMIO) or ioport")
	}
	validateSDDF(b, d)

	// Every fact names its source.
	known := map[string]bool{}
	for _, k := range factKeys {
		known[k] = true
	}
	for _, k := range []string{"cpu", "smp_cores", "description"} {
		known[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(b.Refs)) {
		if !known[k] {
			d.Errorf(at("refs"), "refs: %q is not a key of a board file", k)
		}
	}
	for _, k := range factKeys {
		if b.Meta.Has(k) && len(b.Refs[k]) == 0 {
			d.Errorf(at(k), "%s: no source given; add refs.%s saying where these facts come from", k, k)
		}
	}
}

func validateMemory(b *Board, d *diag.List) {
	for i, r := range b.Memory {
		if r.Size == 0 {
			d.Errorf(r.Meta.At("size"), "memory[%d]: size must be greater than zero", i)
		}
		if _, over := r.End(); over {
			d.Errorf(r.Meta.Pos, "memory[%d]: %#x + %#x overflows 64 bits", i, r.Base, r.Size)
		}
		for j := 0; j < i; j++ {
			if overlap(b.Memory[j], r) {
				d.Errorf(r.Meta.Pos, "memory[%d] [%#x, +%#x) overlaps memory[%d] at %s", i, r.Base, r.Size, j, b.Memory[j].Meta.Pos)
			}
		}
	}
}

func validateSDDF(b *Board, d *diag.List) {
	s := b.SDDF
	if s == nil {
		return
	}
	if s.PaddrTop != 0 && len(b.Memory) > 0 && !inRAM(b.Memory, s.PaddrTop-1) {
		d.Errorf(s.Meta.At("paddr_top"), "sddf.paddr_top %#x is not the top of a RAM range (%s)", s.PaddrTop, describeRegions(b.Memory))
	}
	for i, x := range s.Extra {
		switch {
		case (x.Driver == "") != (x.Vaddr == 0):
			d.Errorf(x.Meta.Pos, "sddf.extra[%d]: give both driver and vaddr, or neither", i)
		case x.Vaddr%0x1000 != 0 || x.Base%0x1000 != 0:
			d.Errorf(x.Meta.Pos, "sddf.extra[%d]: a region a driver maps needs page-aligned base and vaddr", i)
		}
	}
	for _, class := range slices.Sorted(maps.Keys(s.Devices)) {
		for i, dev := range s.Devices[class] {
			where := fmt.Sprintf("sddf.devices.%s[%d]", class, i)
			for _, r := range dev.Regs {
				if r.Size == 0 {
					d.Errorf(r.Meta.At("size"), "%s: a register region's size must be greater than zero", where)
				}
				if r.Base+r.Size < r.Base {
					d.Errorf(r.Meta.At("size"), "%s: register region %#x+%#x runs past the end of the address space", where, r.Base, r.Size)
				}
			}
			for _, q := range dev.IRQs {
				switch {
				case q.IRQ == nil && q.IOAPICPin == nil:
					d.Errorf(q.Meta.Pos, "%s: an interrupt needs irq (or, on x86, ioapic_pin)", where)
				case q.IRQ != nil && q.IOAPICPin != nil:
					d.Errorf(q.Meta.Pos, "%s: give irq or ioapic_pin, not both", where)
				}
			}
		}
	}
}

func checkOptions(opts map[string]Value, pos diag.Pos, d *diag.List) {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !optionName.MatchString(k) {
			d.Errorf(pos, "kernel option %q is not a CMake variable name", k)
		}
	}
}

func inRAM(mem []Region, addr uint64) bool {
	for _, r := range mem {
		end, over := r.End()
		if addr >= r.Base && (over || addr < end) {
			return true
		}
	}
	return false
}

func overlap(a, b Region) bool {
	ae, _ := a.End()
	be, _ := b.End()
	return a.Base < be && b.Base < ae
}

func describeRegions(mem []Region) string {
	var parts []string
	for _, r := range mem {
		end, _ := r.End()
		parts = append(parts, fmt.Sprintf("[%#x, %#x)", r.Base, end))
	}
	return "RAM is " + strings.Join(parts, ", ")
}

func joinImages(list []ImageType) string {
	var s []string
	for _, t := range list {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

var releasePattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func memoryList(regions []Region) string {
	var parts []string
	for _, m := range regions {
		parts = append(parts, fmt.Sprintf("[%#x, %#x)", m.Base, m.Base+m.Size))
	}
	return strings.Join(parts, ", ")
}
