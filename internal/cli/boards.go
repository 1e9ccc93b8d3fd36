package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/pipeline"
)

// boardFlags is the flag group of verbs that read board files.
type boardFlags struct{ dir string }

func (b *boardFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&b.dir, "boards-dir", "", "also read board files from `DIR`; they add to and override the built-in boards (default $PLINTH_BOARDS_DIR)")
}

// load reads the built-in boards and those of --boards-dir: all of them, or
// with names only those boards and what they inherit from. Problems are
// printed; ok is false when there were errors.
func (b *boardFlags) load(e *env, names ...string) (set *boards.Set, ok bool) {
	dir := b.dir
	if dir == "" {
		dir = e.getenv("PLINTH_BOARDS_DIR")
	}
	var d diag.List
	sources := []boards.Source{boards.Embedded()}
	if dir != "" {
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			d.Errorf(diag.Pos{File: dir}, "boards directory does not exist")
		} else {
			sources = append(sources, boards.Dir(os.DirFS(dir), dir))
		}
	}
	if len(names) > 0 {
		set = boards.Select(&d, names, sources...)
	} else {
		set = boards.Load(&d, sources...)
	}
	d.Write(e.stderr)
	return set, !d.HasErrors()
}

// loadOne loads one board (and what it inherits from); problems, or an
// unknown name, are printed.
func (b *boardFlags) loadOne(e *env, name string) (*boards.Board, bool) {
	set, ok := b.load(e, name)
	if !ok {
		return nil, false
	}
	board, found := set.Get(name)
	if !found {
		fmt.Fprintf(e.stderr, "%s: %s\n", e.path, set.UnknownError(name))
		return nil, false
	}
	return board, true
}

func boardsCommand() *command {
	return &command{
		name:    "boards",
		summary: "list the boards plinth knows",
		help: `List every board: architecture, seL4 platform, image types, configurations,
cores, and whether QEMU emulates it. Board files are data: add your own with
--boards-dir.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			asJSON := fs.Bool("json", false, "print every board's full data as JSON")
			asMarkdown := fs.Bool("markdown", false, "print the table as Markdown (docs/boards-table.md is made this way)")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q (did you mean 'plinth boards show %s'?)", args[0], args[0]))
				}
				set, ok := bf.load(e)
				if !ok {
					return ExitFail
				}
				switch {
				case *asJSON:
					return writeJSON(e, set.All())
				case *asMarkdown:
					writeBoardMarkdown(e.stdout, set.All())
				default:
					writeBoardTable(e.stdout, set.All())
				}
				return ExitOK
			}
		},
		sub: []*command{boardsShowCommand(), boardsVerifyCommand()},
	}
}

func boardsShowCommand() *command {
	return &command{
		name:     "show",
		args:     "BOARD",
		summary:  "show everything plinth knows about one board",
		complete: boardNames,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			asJSON := fs.Bool("json", false, "print the board as JSON")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one board name")
				}
				b, ok := bf.loadOne(e, args[0])
				if !ok {
					return ExitFail
				}
				if *asJSON {
					return writeJSON(e, b)
				}
				writeBoard(e.stdout, b)
				return ExitOK
			}
		},
	}
}

func writeJSON(e *env, v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return ExitOK
}

func imageList(b *boards.Board) string {
	parts := []string{string(b.Image.Default)}
	for _, t := range b.Image.Allowed {
		if t != b.Image.Default {
			parts = append(parts, string(t))
		}
	}
	return strings.Join(parts, ",")
}

func configSummary(b *boards.Board) string {
	var plain []string
	smp := false
	for _, c := range b.ConfigList {
		if c.SMP {
			smp = true
		} else {
			plain = append(plain, c.Name)
		}
	}
	if smp {
		plain = append(plain, "smp-*")
	}
	return strings.Join(plain, ",")
}

// boardRow is one board's line of the board table.
func boardRow(b *boards.Board) []string {
	plat := b.Kernel.Platform
	if b.Kernel.ARMPlatform != "" {
		plat += "/" + b.Kernel.ARMPlatform
	}
	cores := "1"
	if b.SMPCores > 0 {
		cores = fmt.Sprint(b.SMPCores)
	}
	emu := "-"
	if b.Emulator != nil {
		emu = b.Emulator.Command
	}
	return []string{b.Name, string(b.Arch), plat, imageList(b), configSummary(b), cores, emu}
}

var boardColumns = []string{"BOARD", "ARCH", "PLATFORM", "IMAGE", "CONFIGS", "CORES", "EMULATED"}

func writeBoardTable(w io.Writer, list []*boards.Board) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(boardColumns, "\t"))
	for _, b := range list {
		fmt.Fprintln(tw, strings.Join(boardRow(b), "\t"))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d boards. 'plinth boards show BOARD' shows one; IMAGE lists the default first.\n", len(list))
}

func writeBoardMarkdown(w io.Writer, list []*boards.Board) {
	fmt.Fprintf(w, "<!-- Made by 'make generate' (plinth boards --markdown); do not edit. -->\n\n")
	fmt.Fprintf(w, "| %s | since |\n|%s---|\n", strings.Join(boardColumns, " | "), strings.Repeat("---|", len(boardColumns)))
	for _, b := range list {
		fmt.Fprintf(w, "| %s | %s |\n", strings.Join(boardRow(b), " | "), b.Since)
	}
	fmt.Fprintf(w, "\n%d boards. IMAGE lists the default image type first; smp-* are the multicore configurations.\n", len(list))
}

func writeBoard(w io.Writer, b *boards.Board) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("board", b.Name)
	row("description", b.Description)
	row("file", b.File)
	if len(b.Chain) > 0 {
		row("inherits", strings.Join(b.Chain, " -> "))
	}
	row("arch", string(b.Arch))
	row("cpu", b.CPU)
	row("since", "Microkit "+b.Since)
	row("platform", b.Kernel.Platform)
	row("arm platform", b.Kernel.ARMPlatform)
	if b.Loader != nil {
		row("loader link", fmt.Sprintf("%#x", b.Loader.LinkAddress))
	}
	row("image", imageList(b)+" (default "+string(b.Image.Default)+"; Microkit before "+boards.ImageTypesFrom+" writes only binary)")
	if b.SMPCores > 0 {
		row("smp cores", fmt.Sprint(b.SMPCores))
	}
	for i, r := range b.Memory {
		end, _ := r.End()
		row(map[bool]string{true: "memory", false: ""}[i == 0], fmt.Sprintf("[%#x, %#x) %s", r.Base, end, size(r.Size)))
	}
	if c := b.Console; c != nil {
		desc := c.Compatible
		if c.Base != 0 {
			desc += fmt.Sprintf(" at %#x", c.Base)
		}
		if c.IOPort != 0 {
			desc += fmt.Sprintf(" I/O port %#x", c.IOPort)
		}
		if c.Node != "" {
			desc += " (" + c.Node + ")"
		}
		if c.Baud != 0 {
			desc += fmt.Sprintf(", %d baud", c.Baud)
		}
		if c.SBI {
			desc += ", printed to through SBI"
		}
		row("console", strings.TrimSpace(desc))
	}
	row("boot", bootSummary(b.Boot))
	row("boot notes", b.Boot.Notes)
	for _, v := range slices.Sorted(maps.Keys(b.Boot.Before)) {
		if old := b.Boot.Before[v]; old != nil {
			row("boot <"+v, bootSummary(*old))
			row("notes <"+v, old.Notes)
		}
	}
	if u, err := pipeline.UBootFacts(b, ""); err == nil {
		how := "plinth build … --boot uboot [--boot-key K]; write boot-uboot/disk.img to the board's SD card (dd if=disk.img of=/dev/sdX bs=4M conv=fsync); U-Boot itself stays where the board keeps it. "
		if b.Emulator != nil && b.Emulator.UBoot != nil {
			how = "plinth run RECIPE --board " + b.Name + " --boot uboot --uboot u-boot.bin boots it in QEMU with a software TPM. "
		}
		row("U-Boot FIT", fmt.Sprintf("%sU-Boot's standard boot runs boot.scr from partition 1, which loads slot A's image.fit to ${kernel_addr_r}; bootm verifies it (with signature.dtb's key in U-Boot's control device tree: required = conf), measures it and starts it (FIT os %s, arch %s)", how, u.OS, u.Arch))
	}
	if b.Emulator != nil {
		row("emulator", b.Emulator.Command+" "+strings.Join(b.Emulator.Args, " "))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nconfigurations:\n")
	for _, c := range b.ConfigList {
		fmt.Fprintf(w, "  %-14s %s\n", c.Name, c.Description)
	}
	writeKernelOptions(w, b.ConfigList)
	if s := b.SDDF; s != nil {
		fmt.Fprintf(w, "\nsDDF devices (%s):\n", s.DTS)
		classes := make([]string, 0, len(s.Devices))
		for c := range s.Devices {
			classes = append(classes, string(c))
		}
		sort.Strings(classes)
		for _, c := range classes {
			for _, d := range s.Devices[boards.DeviceClass(c)] {
				var regs, irqs []string
				for _, r := range d.Regs {
					regs = append(regs, fmt.Sprintf("%#x+%#x", r.Base, r.Size))
				}
				for _, r := range d.IOPorts {
					regs = append(regs, fmt.Sprintf("port %#x+%d", r.Base, r.Size))
				}
				for _, q := range d.IRQs {
					switch {
					case q.IRQ != nil:
						irqs = append(irqs, fmt.Sprintf("%d %s", *q.IRQ, q.Trigger))
					case q.IOAPICPin != nil:
						irqs = append(irqs, fmt.Sprintf("ioapic pin %d", *q.IOAPICPin))
					}
				}
				node := d.Node
				if node == "" {
					node = "(no device tree)"
				}
				fmt.Fprintf(w, "  %-8s %-10s %s  regs %s  irqs %s\n", c, d.Driver, node, orNone(regs), orNone(irqs))
			}
		}
	}
	if len(b.Refs) > 0 {
		fmt.Fprintf(w, "\nsources of these facts: 'plinth boards show %s --json' (refs)\n", b.Name)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

func size(n uint64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// writeKernelOptions prints the options every configuration shares, then
// what each configuration sets differently.
func writeKernelOptions(w io.Writer, configs []boards.ConfigInfo) {
	if len(configs) == 0 {
		return
	}
	common := map[string]string{}
	for k, v := range configs[0].KernelOptions {
		common[k] = v.String()
	}
	for _, c := range configs[1:] {
		for k, v := range common {
			if o, ok := c.KernelOptions[k]; !ok || o.String() != v {
				delete(common, k)
			}
		}
	}
	fmt.Fprintf(w, "\nkernel options (all configurations):\n")
	for _, k := range slices.Sorted(maps.Keys(common)) {
		fmt.Fprintf(w, "  %s=%s\n", k, common[k])
	}
	for _, c := range configs {
		var extra []string
		for _, k := range slices.Sorted(maps.Keys(c.KernelOptions)) {
			if _, shared := common[k]; !shared {
				extra = append(extra, k+"="+c.KernelOptions[k].String())
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", c.Name, orNone(extra))
	}
}
