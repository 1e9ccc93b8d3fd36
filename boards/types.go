package boards

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/pointsav/plinth/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

// Board is one board file, after inheritance has been applied.
type Board struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Name        string             `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9_-]*$" patterndoc:"a board name (lower-case letters, digits, '_' and '-')" doc:"The board's name, as Microkit's --board takes it. Must equal the file name without .yaml."`
	Inherits    string             `yaml:"inherits" json:"inherits,omitempty" doc:"The base file or board whose keys this file starts from. Mappings merge key by key; scalars and lists written here replace the inherited ones."`
	Abstract    bool               `yaml:"abstract" json:"-" doc:"true for a base file: shared facts, not a board one can build for."`
	Description string             `yaml:"description" json:"description" required:"concrete" doc:"One line saying what the board is."`
	Arch        Arch               `yaml:"arch" json:"arch" required:"concrete" doc:"The CPU architecture."`
	CPU         string             `yaml:"cpu" json:"cpu,omitempty" doc:"The CPU model (Microkit's gcc_cpu, passed as -mcpu)."`
	Since       string             `yaml:"since" json:"since" required:"concrete" pattern:"^([0-9]+\\.[0-9]+\\.[0-9]+|dev)$" patterndoc:"a Microkit version like 2.0.1, or dev" doc:"The first Microkit release that supports the board (dev: not yet released)."`
	Kernel      Kernel             `yaml:"kernel" json:"kernel" required:"concrete" doc:"How Microkit configures seL4 for this board."`
	Loader      *Loader            `yaml:"loader" json:"loader,omitempty" doc:"The Microkit loader (not used on x86-64)."`
	Image       Image              `yaml:"image" json:"image" required:"concrete" doc:"The image formats the Microkit tool can write for this board."`
	SMPCores    int                `yaml:"smp_cores" json:"smp_cores,omitempty" doc:"Cores the smp-* configs use; 0 or absent when the board has no SMP configs."`
	Configs     map[string]*Config `yaml:"configs" json:"-" required:"concrete" doc:"The kernel configurations Microkit builds, by name. Configs marked smp exist only on boards with smp_cores."`
	Memory      []Region           `yaml:"memory" json:"memory,omitempty" doc:"Main memory (RAM) regions, as the kernel's device tree gives them."`
	Console     *Console           `yaml:"console" json:"console,omitempty" doc:"The serial port the loader and the kernel print on."`
	Boot        Boot               `yaml:"boot" json:"boot" required:"concrete" doc:"How the image is started on the board."`
	UBoot       *UBootBuild        `yaml:"uboot" json:"uboot,omitempty" doc:"How U-Boot is built for the board (a recipe's uboot section builds it)."`
	Emulator    *Emulator          `yaml:"emulator" json:"emulator,omitempty" doc:"How QEMU emulates the board, when it does."`
	SDDF        *SDDF              `yaml:"sddf" json:"sddf,omitempty" doc:"The board's devices as sDDF uses them."`
	Refs        map[string]Refs    `yaml:"refs" json:"refs" required:"concrete" doc:"Where each fact comes from: a top-level key (kernel, memory, …) mapped to one or more sources."`
	ConfigList  []ConfigInfo       `yaml:"-" json:"configs"`
	File        string             `yaml:"-" json:"file"`
	Chain       []string           `yaml:"-" json:"inherits_chain,omitempty"`
}

// Doc describes a board file.
func (Board) Doc() string {
	return "A plinth board file: the facts about one seL4 Microkit board (or, with abstract: true, facts several boards share)."
}

// Arch is a CPU architecture Microkit supports.
type Arch string

// Values lists the architectures.
func (Arch) Values() []string { return []string{"aarch64", "riscv64", "x86_64"} }

// ImageType is a Microkit --image-type.
type ImageType string

// Values lists the image types.
func (ImageType) Values() []string { return []string{"binary", "elf", "uimage"} }

// BootMethod says how a board starts an image.
type BootMethod string

// Values lists the boot methods.
func (BootMethod) Values() []string {
	return []string{"uboot-go", "uboot-bootelf", "uboot-bootm", "opensbi", "gdb", "qemu-loader", "qemu-kernel", "multiboot"}
}

// DeviceClass is an sDDF device class.
type DeviceClass string

// Values lists the device classes.
func (DeviceClass) Values() []string {
	return []string{"serial", "timer", "network", "blk", "i2c", "gpu"}
}

// Trigger is how an interrupt line signals.
type Trigger string

// Values lists the triggers.
func (Trigger) Values() []string { return []string{"level", "edge"} }

// Kernel is how Microkit configures seL4 for a board.
type Kernel struct {
	Meta        strictyaml.Meta          `yaml:"-" json:"-"`
	Platform    string                   `yaml:"platform" json:"platform" required:"concrete" doc:"seL4's KernelPlatform."`
	ARMPlatform string                   `yaml:"arm_platform" json:"arm_platform,omitempty" doc:"seL4's KernelARMPlatform, where the platform has several."`
	ArmPABits   int                      `yaml:"arm_pa_bits" json:"arm_pa_bits,omitempty" doc:"Physical address bits of the ARM CPU (40 or 44; seL4 sets it from the CPU model); it bounds a PD's virtual addresses under the hypervisor."`
	Defaults    map[string]Value         `yaml:"defaults" json:"defaults,omitempty" doc:"Options every board of a family or architecture gets (build_sdk.py's DEFAULT_KERNEL_OPTIONS*). A configuration's options override these."`
	Options     map[string]Value         `yaml:"options" json:"options,omitempty" doc:"The board's own kernel options (build_sdk.py's BoardInfo.kernel_options); they override defaults and configuration options. A path is written microkit:PATH (in the Microkit tree) or kernel:PATH (in the seL4 tree)."`
	Before      map[string]*OptionChange `yaml:"before" json:"before,omitempty" doc:"How older Microkit releases differ: for a release before the version named, these options are unset, then these set."`
}

// OptionChange is how the kernel options of older Microkit releases differ.
type OptionChange struct {
	Meta  strictyaml.Meta  `yaml:"-" json:"-"`
	Unset []string         `yaml:"unset" json:"unset,omitempty" doc:"Options those releases do not set."`
	Set   map[string]Value `yaml:"set" json:"set,omitempty" doc:"Options those releases set (or set differently)."`
}

// Loader describes the Microkit loader.
type Loader struct {
	Meta        strictyaml.Meta `yaml:"-" json:"-"`
	LinkAddress uint64          `yaml:"link_address" json:"link_address" required:"true" doc:"The physical address the loader is linked at (build_sdk.py loader_link_address). Must lie in RAM."`
}

// Image lists the image formats.
type Image struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Default ImageType       `yaml:"default" json:"default" required:"concrete" doc:"What the Microkit tool writes without --image-type."`
	Allowed []ImageType     `yaml:"allowed" json:"allowed" required:"concrete" doc:"Every --image-type the tool accepts for this board."`
}

// Config is one kernel configuration.
type Config struct {
	Meta          strictyaml.Meta          `yaml:"-" json:"-"`
	Description   string                   `yaml:"description" json:"description,omitempty" doc:"What the configuration is for."`
	SMP           bool                     `yaml:"smp" json:"smp,omitempty" doc:"A multicore configuration: only boards with smp_cores have it, and it sets KernelMaxNumNodes to smp_cores."`
	Debug         bool                     `yaml:"debug" json:"debug,omitempty" doc:"The kernel prints and the monitor reports faults (Microkit's debug flag)."`
	KernelOptions map[string]Value         `yaml:"kernel_options" json:"kernel_options,omitempty" doc:"Kernel options this configuration adds."`
	Before        map[string]*OptionChange `yaml:"before" json:"before,omitempty" doc:"How this configuration's options differ in Microkit releases before the version named."`
}

// ConfigInfo is a configuration as listed for one board.
type ConfigInfo struct {
	Name          string           `json:"name"`
	Description   string           `json:"description,omitempty"`
	SMP           bool             `json:"smp,omitempty"`
	Debug         bool             `json:"debug,omitempty"`
	KernelOptions map[string]Value `json:"kernel_options"`
}

// Region is a range of physical addresses.
type Region struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Base uint64          `yaml:"base" json:"base" required:"true" doc:"First address."`
	Size uint64          `yaml:"size" json:"size" required:"true" doc:"Size in bytes."`
}

// End is one past the last address, and whether it overflowed.
func (r Region) End() (uint64, bool) {
	e := r.Base + r.Size
	return e, e < r.Base
}

// Console is the serial port the loader and kernel print on.
type Console struct {
	Meta       strictyaml.Meta `yaml:"-" json:"-"`
	Node       string          `yaml:"node" json:"node,omitempty" doc:"Device-tree path of the UART."`
	Compatible string          `yaml:"compatible" json:"compatible,omitempty" doc:"The UART's device-tree compatible string."`
	Base       uint64          `yaml:"base" json:"base,omitempty" doc:"MMIO base address."`
	IOPort     uint64          `yaml:"ioport" json:"ioport,omitempty" doc:"x86 I/O port base, for PC serial ports."`
	Baud       int             `yaml:"baud" json:"baud,omitempty" doc:"Baud rate."`
	SBI        bool            `yaml:"sbi" json:"sbi,omitempty" doc:"The loader and kernel print through the SBI firmware, which drives this UART (RISC-V)."`
}

// Boot says how an image is started.
type Boot struct {
	Meta        strictyaml.Meta `yaml:"-" json:"-"`
	Method      BootMethod      `yaml:"method" json:"method" required:"concrete" doc:"How the board starts the image."`
	LoadAddress uint64          `yaml:"load_address" json:"load_address,omitempty" doc:"Where the image is loaded."`
	Notes       string          `yaml:"notes" json:"notes,omitempty" doc:"A short how-to (the boot loader's commands)."`
	// Before holds how the board boots with older Microkit releases: for
	// a release before the version named, that method, address and notes.
	Before map[string]*Boot `yaml:"before" json:"before,omitempty" doc:"How the board boots with Microkit releases before the version named (e.g. 2.1.0: releases before it write only raw binaries, started with go)."`
}

// Emulator is how QEMU runs the board.
type Emulator struct {
	Meta    strictyaml.Meta          `yaml:"-" json:"-"`
	Command string                   `yaml:"command" json:"command" required:"true" doc:"The QEMU program, e.g. qemu-system-aarch64."`
	Args    []string                 `yaml:"args" json:"args" required:"true" doc:"Its arguments. {image} stands for the built image, {kernel} for the seL4 kernel ELF where the image is a boot module."`
	Devices map[DeviceClass][]string `yaml:"devices" json:"devices,omitempty" doc:"Further arguments that attach the board file's sDDF device of a class, for recipes that use it; {disk} stands for the disk image."`
	UBoot   *EmulatorUBoot           `yaml:"uboot" json:"uboot,omitempty" doc:"How QEMU runs the board's boot as U-Boot does it: U-Boot as firmware, the build's disk image attached, a software TPM; plinth run --boot uboot."`
}

// EmulatorUBoot is the emulated board booting through U-Boot.
type EmulatorUBoot struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Machine string          `yaml:"machine" json:"machine" required:"true" doc:"QEMU's -machine value; plinth adds dumpdtb= to it to read the device tree QEMU makes, into which it puts the key (U-Boot's control device tree)."`
	Args    []string        `yaml:"args" json:"args" required:"true" doc:"The rest of the arguments: {uboot} is U-Boot's binary, {dtb} the control device tree, {disk} the disk image, {tpm} the software TPM's socket (where QEMU gives the machine a TPM; without one, measurements are not checked), {env} the flash bank holding U-Boot's environment."`
	// TPMNode is the device tree node of the emulated TPM, which plinth
	// gives event-log memory (linux,sml-base and -size), without which
	// U-Boot's measured boot stops at its first event.
	// EnvFlash is the size of the flash bank {env} stands for, with
	// U-Boot's environment at its start.
	EnvFlash  uint64 `yaml:"env_flash" json:"env_flash,omitempty" doc:"The size of the flash bank {env} stands for (QEMU wants it whole), U-Boot's environment at its start: the build's uboot.env, else blank."`
	TPMNode   string `yaml:"tpm_node" json:"tpm_node,omitempty" doc:"The TPM's node in QEMU's device tree, given event-log memory at event_log (U-Boot's measured boot needs it)."`
	EventLog  uint64 `yaml:"event_log" json:"event_log,omitempty" doc:"Where the TPM event log goes (64 KiB of RAM U-Boot leaves alone)."`
	Arch      string `yaml:"arch" json:"arch" required:"true" doc:"U-Boot's name for the architecture in FIT images: arm64, riscv."`
	OS        string `yaml:"os" json:"os,omitempty" doc:"The FIT image's os, which says how bootm starts it: u-boot (as the go command does, the default; arm64's bootm wants a Linux image header for linux) or linux (RISC-V: the hart id and device tree in a0 and a1, as OpenSBI starts the Microkit loader)."`
	Interface string `yaml:"interface" json:"interface" required:"true" doc:"U-Boot's name for the disk's interface (virtio, mmc, usb), as load takes it."`
}

// SDDF is the board's devices as sDDF uses them.
type SDDF struct {
	Meta     strictyaml.Meta          `yaml:"-" json:"-"`
	PaddrTop uint64                   `yaml:"paddr_top" json:"paddr_top,omitempty" doc:"Top of the RAM sDDF allocates DMA regions from (downwards)."`
	DTS      string                   `yaml:"dts" json:"dts,omitempty" doc:"The device tree source in the sDDF tree."`
	Devices  map[DeviceClass][]Device `yaml:"devices" json:"devices" required:"true" doc:"Devices per sDDF class."`
	Extra    []ExtraRegion            `yaml:"extra" json:"extra,omitempty" doc:"Further regions drivers need mapped (clock controllers, mailboxes)."`
}

// Device is one device an sDDF driver drives.
type Device struct {
	Meta       strictyaml.Meta `yaml:"-" json:"-"`
	Node       string          `yaml:"node" json:"node,omitempty" doc:"Device-tree path."`
	Compatible []string        `yaml:"compatible" json:"compatible,omitempty" doc:"The node's compatible strings, in order."`
	Driver     string          `yaml:"driver" json:"driver" required:"true" doc:"The sDDF driver family (drivers/<class>/<driver>)."`
	Regs       []Region        `yaml:"regs" json:"regs,omitempty" doc:"MMIO regions as the device tree gives them, addresses translated through parent buses to physical ones; drivers map the pages holding them."`
	IRQs       []IRQ           `yaml:"irqs" json:"irqs,omitempty" doc:"Interrupts, as seL4 numbers them."`
	IOPorts    []Region        `yaml:"ioports" json:"ioports,omitempty" doc:"x86 I/O port ranges."`
	CFlags     []string        `yaml:"cflags" json:"cflags,omitempty" doc:"C flags the sDDF driver is compiled with for this device (e.g. -DI2C_BUS_NUM=2: the meson I²C driver serves one bus, chosen at compile time)."`
	Notes      string          `yaml:"notes" json:"notes,omitempty" doc:"Anything a user should know."`
}

// IRQ is one interrupt of a device.
type IRQ struct {
	Meta      strictyaml.Meta `yaml:"-" json:"-"`
	IRQ       *uint64         `yaml:"irq" json:"irq,omitempty" doc:"seL4 IRQ number (GIC SPI n is n+32, PPI n is n+16; PLIC as is)."`
	Trigger   Trigger         `yaml:"trigger" json:"trigger,omitempty" doc:"level or edge."`
	IOAPICPin *uint64         `yaml:"ioapic_pin" json:"ioapic_pin,omitempty" doc:"x86 I/O APIC pin."`
	Vector    *uint64         `yaml:"vector" json:"vector,omitempty" doc:"x86 interrupt vector."`
}

// ExtraRegion is a further region a driver needs.
type ExtraRegion struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Name string          `yaml:"name" json:"name" required:"true" doc:"A name for the region."`
	Base uint64          `yaml:"base" json:"base" required:"true" doc:"First address."`
	Size uint64          `yaml:"size" json:"size" required:"true" doc:"Size in bytes."`
	Why  string          `yaml:"why" json:"why,omitempty" doc:"Which driver needs it and why."`
	// A driver that reaches such a region at an address of its own choosing
	// (sDDF 0.6.0's meson I²C driver: clock and GPIO blocks) gets it mapped
	// there when a recipe uses the class.
	Driver DeviceClass `yaml:"driver" json:"driver,omitempty" doc:"The class whose driver maps the region (when a recipe composes that class)."`
	Vaddr  uint64      `yaml:"vaddr" json:"vaddr,omitempty" doc:"Where that driver's code expects it mapped (uncached, read-write)."`
}

// Refs is one source or a list of sources.
type Refs []string

// UnmarshalStrict takes a string or a list of strings.
func (r *Refs) UnmarshalStrict(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		*r = Refs{n.Value}
		return nil
	case n.Kind == yaml.SequenceNode:
		var out Refs
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
				return fmt.Errorf("each reference must be a string")
			}
			out = append(out, c.Value)
		}
		*r = out
		return nil
	}
	return fmt.Errorf("must be a string or a list of strings")
}

// JSONSchema describes Refs.
func (Refs) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	}}
}

// Value is a kernel option's value: a string, a boolean or an integer.
type Value struct {
	kind byte // 's', 'b' or 'i'
	s    string
	b    bool
	i    int64
}

// StringValue, BoolValue and IntValue make Values.
func StringValue(s string) Value { return Value{kind: 's', s: s} }

// BoolValue makes a boolean Value.
func BoolValue(b bool) Value { return Value{kind: 'b', b: b} }

// IntValue makes an integer Value.
func IntValue(i int64) Value { return Value{kind: 'i', i: i} }

// UnmarshalStrict takes a string, a boolean or an integer.
func (v *Value) UnmarshalStrict(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str":
			*v = StringValue(n.Value)
			return nil
		case "!!bool":
			*v = BoolValue(n.Value == "true")
			return nil
		case "!!int":
			i, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				return fmt.Errorf("%q is out of range", n.Value)
			}
			*v = IntValue(i)
			return nil
		}
	}
	return fmt.Errorf("a kernel option must be a string, a boolean or an integer")
}

// JSONSchema describes Value.
func (Value) JSONSchema() map[string]any {
	return map[string]any{"type": []string{"string", "boolean", "integer"}}
}

// MarshalJSON writes the value as its JSON type.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case 'b':
		return json.Marshal(v.b)
	case 'i':
		return json.Marshal(v.i)
	}
	return json.Marshal(v.s)
}

// String is the value as CMake takes it on the command line (-DKey=Value).
func (v Value) String() string {
	switch v.kind {
	case 'b':
		if v.b {
			return "ON"
		}
		return "OFF"
	case 'i':
		return strconv.FormatInt(v.i, 10)
	}
	return v.s
}

// UBootBuild is how U-Boot is configured for the board.
type UBootBuild struct {
	Meta      strictyaml.Meta `yaml:"-" json:"-"`
	Defconfig string          `yaml:"defconfig" json:"defconfig" required:"true" doc:"U-Boot's defconfig for the board, e.g. qemu_arm64_defconfig."`
	Config    []string        `yaml:"config" json:"config,omitempty" doc:"Configuration lines the board needs on top (CONFIG_X=y, # CONFIG_Y is not set)."`
	// ControlDTB says where the control device tree comes from: the
	// firmware before U-Boot hands it over (OF_BOARD: QEMU, which plinth
	// gives the key at run time), or U-Boot's own u-boot.dtb (OF_SEPARATE,
	// into which plinth puts the key).
	Blobs []UBootBlob `yaml:"blobs" json:"blobs,omitempty" doc:"Binaries the U-Boot build needs that are not U-Boot's (TF-A's BL31, DDR training firmware, OpenSBI…), each passed as a make variable; a recipe names a pinned source for each, and plinth names any it lacks."`
	// Output and Offset say what the boot ROM loads and from where: a file
	// of the build written raw into the disk at a byte offset (before the
	// first partition), or, with no offset, put on the boot partition.
	Output         string `yaml:"output" json:"output,omitempty" doc:"The file of U-Boot's build the board boots (default u-boot.bin)."`
	FirstPartition uint64 `yaml:"first_partition" json:"first_partition,omitempty" doc:"Where the SD card's first partition may start, in bytes (a multiple of 1 MiB; default 1 MiB): past what the boot ROM reads and where U-Boot keeps its environment on the raw card."`
	Offset         uint64 `yaml:"offset" json:"offset,omitempty" doc:"Where the boot ROM reads it on an SD card, in bytes (e.g. 32768 for Rockchip's sector 64); 0: a file on the boot partition."`
	// Firmware are files the boot partition needs beside U-Boot (the
	// Raspberry Pi's GPU firmware, for one), from a source the recipe names.
	BootFiles map[string]string `yaml:"boot_files" json:"boot_files,omitempty" doc:"Small files the boot partition needs, given here whole (e.g. the Raspberry Pi's config.txt telling its firmware to start u-boot.bin)."`
	Firmware  []string          `yaml:"firmware" json:"firmware,omitempty" doc:"Files the boot partition needs beside U-Boot (e.g. the Raspberry Pi's start4.elf, fixup4.dat and device tree), from the source the recipe's uboot.firmware names; plinth names any missing."`
	// EnvImage says the board's U-Boot keeps its environment somewhere
	// plinth can give it one (flash, an MMC offset, a FAT file).
	EnvImage   bool   `yaml:"env_image" json:"env_image,omitempty" doc:"U-Boot keeps its environment where plinth can give it one (flash, MMC, FAT): the recipe's U-Boot step also writes uboot.env, its default environment with plinth's variables, as mkenvimage would."`
	ControlDTB string `yaml:"control_dtb" json:"control_dtb,omitempty" doc:"board (the firmware hands U-Boot its device tree, as QEMU does: the key goes in at run time) or separate (U-Boot's own u-boot.dtb, the default: plinth writes u-boot-signed.bin with the key in it)."`
}

// UBootBlob is a binary a board's U-Boot build needs.
type UBootBlob struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Name string          `yaml:"name" json:"name" required:"true" doc:"The make variable U-Boot's build reads it from (BL31, TEE, OPENSBI, ROCKCHIP_TPL…), or the file name binman looks for."`
	What string          `yaml:"what" json:"what" required:"true" doc:"What it is and where it comes from, for the message when a recipe lacks it."`
}
