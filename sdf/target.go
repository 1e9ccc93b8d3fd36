package sdf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/boards"
)

// Target is what the checks need to know of the board, the kernel
// configuration and the Microkit version, all known before building.
type Target struct {
	Version    string // Microkit version, e.g. 2.0.1; "dev" is newest
	Arch       string // aarch64, riscv64 or x86_64
	Cores      int    // cores the kernel runs on (1 unless an SMP config)
	Hypervisor bool   // ARM hypervisor support or x86 VT-x
	IOMMU      bool
	SMC        bool // ARM SMC forwarding (KernelAllowSMCCalls)
	ArmPABits  int  // 40 or 44
	NumDomains int
	// NumDomainSchedules is KernelNumDomainSchedules.
	NumDomainSchedules int
	// SearchPaths are where prefill files are looked for; nil skips the
	// checks that read them.
	SearchPaths []string
}

// TargetFor derives the target from a board, a configuration and a Microkit
// version.
func TargetFor(b *boards.Board, config, version string) (Target, error) {
	opts, err := b.KernelOptions(config)
	if err != nil {
		return Target{}, err
	}
	flag := func(k string) bool {
		v, ok := opts[k]
		return ok && v.String() == "ON"
	}
	num := func(k string, def int) int {
		if v, ok := opts[k]; ok {
			if n, err := strconv.Atoi(v.String()); err == nil {
				return n
			}
		}
		return def
	}
	t := Target{
		Version:            version,
		Arch:               string(b.Arch),
		Cores:              num("KernelMaxNumNodes", 1),
		IOMMU:              flag("KernelIOMMU"),
		NumDomains:         num("KernelNumDomains", 1),
		NumDomainSchedules: num("KernelNumDomainSchedules", 1),
		ArmPABits:          b.Kernel.ArmPABits,
	}
	switch t.Arch {
	case "aarch64":
		t.Hypervisor = flag("KernelArmHypervisorSupport")
		t.SMC = flag("KernelAllowSMCCalls")
	case "x86_64":
		t.Hypervisor = flag("KernelVTX")
	}
	if t.Arch == "aarch64" && t.ArmPABits == 0 {
		t.ArmPABits = 40
	}
	return t, nil
}

// features lists what each Microkit release added to the SDF.
var features = map[string]string{
	"cpu":                  "2.1.0", // protection_domain and vcpu cpu=
	"setvar_id":            "2.1.0",
	"x86":                  "2.1.0", // ioport, IOAPIC and MSI irqs
	"path_for_symbols":     "2.2.0",
	"prefill_path":         "2.2.0",
	"fpu":                  "2.3.0",
	"cspace":               "2.3.0",
	"io_address_space":     "2.3.0",
	"domains":              "2.3.0",
	"prefill_bootinfo":     "2.3.0",
	"setvar_prefill_size":  "2.2.0",
	"monitor_reserved":     "2.1.0", // a PD may not be called monitor
	"vm_check":             "2.1.0", // virtual machines need a hypervisor kernel (checked when parsing)
	"x86_vm_no_sched":      "2.3.0", // x86 VMs lose priority, budget and period
	"ipc_buffer_in_vspace": "2.3.0", // the IPC buffer and a guard page sit above the stack
}

// Has reports whether the target's Microkit version has a feature.
func (t Target) Has(feature string) bool {
	since, ok := features[feature]
	if !ok {
		panic("sdf: unknown feature " + feature)
	}
	return CompareVersions(t.Version, since) >= 0
}

// since words the version a feature needs, for messages.
func (t Target) since(feature string) string {
	return fmt.Sprintf("Microkit %s (this system is checked as %s)", features[feature], t.Version)
}

// DefaultStackSize is the stack a PD gets without stack_size.
func (t Target) DefaultStackSize() uint64 {
	if CompareVersions(t.Version, "2.1.0") >= 0 {
		return 0x2000
	}
	return 0x1000
}

// userTop is one past the highest user virtual address seL4 gives a PD.
func (t Target) userTop() uint64 {
	switch t.Arch {
	case "aarch64":
		if !t.Hypervisor {
			return 0x800000000000
		}
		if t.ArmPABits == 44 {
			return 0x100000000000
		}
		return 0x10000000000
	case "riscv64":
		return 0x3ffffff000
	case "x86_64":
		return 0x7ffffffff000
	}
	return 0
}

// PDMapLimit is where a PD's mappings must end below: its stack (and, from
// 2.3, the IPC buffer and a guard page above it).
func (t Target) PDMapLimit(stack uint64) uint64 {
	top := t.userTop()
	if t.Has("ipc_buffer_in_vspace") {
		top = (top-1)&^0xfff - 0x1000 // IPC buffer page, then a guard page
	}
	if stack > top {
		return 0
	}
	return top - stack
}

// VMMapLimit is where a VM's mappings must end below.
func (t Target) VMMapLimit() uint64 {
	if t.Has("ipc_buffer_in_vspace") {
		return t.userTop() // user top is inclusive there: top-1+1
	}
	return t.userTop()
}

// CompareVersions orders Microkit versions; "dev" is newer than any
// release and 2.3.0-dev comes before 2.3.0.
func CompareVersions(a, b string) int {
	if a == b {
		return 0
	}
	if a == "dev" || a == "" {
		return 1
	}
	if b == "dev" || b == "" {
		return -1
	}
	pa, pb := strings.SplitN(a, "-", 2), strings.SplitN(b, "-", 2)
	fa, fb := strings.Split(pa[0], "."), strings.Split(pb[0], ".")
	for i := 0; i < len(fa) && i < len(fb); i++ {
		x, _ := strconv.Atoi(fa[i])
		y, _ := strconv.Atoi(fb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(fa) != len(fb):
		return len(fa) - len(fb)
	case len(pa) > len(pb):
		return -1
	case len(pa) < len(pb):
		return 1
	}
	return strings.Compare(a, b)
}

// Permissive is a target for reading a file without a board: the newest
// dialect and no limits from a kernel configuration. Rules that need a
// board (cores, hypervisor, IOMMU, SMC, domain limits) pass.
func Permissive(arch string) Target {
	return Target{Version: "dev", Arch: arch, Cores: 256, Hypervisor: true, IOMMU: arch == "x86_64", SMC: arch == "aarch64", ArmPABits: 44, NumDomains: 256, NumDomainSchedules: 1 << 20}
}
