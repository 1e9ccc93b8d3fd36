package sdf

import (
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// Targets the rules are checked against.
var (
	arm   = Target{Version: "2.3.0", Arch: "aarch64", Cores: 1, Hypervisor: true, SMC: true, ArmPABits: 40, NumDomains: 16, NumDomainSchedules: 100, SearchPaths: []string{"testdata/prefill"}}
	x86   = Target{Version: "2.3.0", Arch: "x86_64", Cores: 1, Hypervisor: true, IOMMU: true, NumDomains: 16, NumDomainSchedules: 100}
	riscv = Target{Version: "2.3.0", Arch: "riscv64", Cores: 1, NumDomains: 16, NumDomainSchedules: 100}
)

func with(t Target, f func(*Target)) Target { f(&t); return t }

// pd is a minimal valid protection domain.
func pd(name, attrs, body string) string {
	return `<protection_domain name="` + name + `" ` + attrs + `>
    <program_image path="` + name + `.elf" />
` + body + `
</protection_domain>`
}

func sys(parts ...string) string {
	return "<system>\n" + strings.Join(parts, "\n") + "\n</system>\n"
}

var a = pd("a", "", "")

// ruleCase is one defect: the rule it breaks (numbered as in
// reference/microkit-sddf.md §2.1), the system, what the diagnostic must
// say, and text on the line it must point at.
type ruleCase struct {
	rule   int
	target Target
	sdf    string
	msg    string
	at     string
}

var ruleCases = []ruleCase{
	{1, arm, "<system><protection_domain></system>", "not well-formed XML", "<system>"},
	{2, arm, "<systen>" + a + "</systen>", "the root element must be <system>", "<systen>"},
	{3, arm, "<system>stray text" + a + "</system>", "unexpected text found in element 'system'", "stray text"},
	{4, arm, sys(pd("a", `colour="red"`, "")), "invalid attribute 'colour' on element 'protection_domain'", "colour"},
	{5, arm, sys(`<protection_domain priority="1"><program_image path="a.elf" /></protection_domain>`), "Missing required attribute 'name' on element 'protection_domain'", "priority=\"1\""},
	{6, arm, sys(pd("a", `priority="0x1g"`, "")), "failed to parse integer '0x1g' on element 'protection_domain': invalid digit found in string", "0x1g"},
	{7, arm, sys(a, `<process name="x" />`), "invalid XML element 'process'", "<process"},
	{8, arm, sys(a, `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>`), "virtual machine must be a child of a protection domain", "<virtual_machine"},
	{9, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, `<domains><domain name="e" /><domain_schedule><schedule_entry domain="e" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "domains must only be specified once", `name="e"`},
	{10, arm, sys(pd("a", `budget="2000" period="1000"`, "")), "budget (2000) must be less than, or equal to, period (1000)", "budget="},
	{11, arm, sys(pd("a", `passive="yes"`, "")), "passive must be 'true' or 'false'", "passive="},
	{12, arm, sys(pd("a", `smc="1"`, "")), "smc must be 'true' or 'false'", "smc="},
	{13, with(arm, func(t *Target) { t.SMC = false }), sys(pd("a", `smc="true"`, "")), "Using SMC support without ARM SMC forwarding support enabled", "smc="},
	{14, riscv, sys(pd("a", `smc="true"`, "")), "ARM SMC forwarding support is not available for this architecture", "smc="},
	{15, with(arm, func(t *Target) { t.Cores = 4 }), sys(pd("a", `cpu="4"`, "")), "cpu core must be less than 4, got 4", "cpu="},
	{16, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `priority="1"`, "")), "Missing required attribute 'domain' on element 'protection_domain'", `name="a"`},
	{17, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="e"`, "")), "domain 'e' not declared in <domains>", `domain="e"`},
	{18, arm, sys(pd("a", `domain="d"`, "")), "Specifying a domain 'd' without declaring a domain schedule is not allowed", `domain="d"`},
	{19, arm, sys(pd("a", `stack_size="0x2000000"`, "")), "stack size must be between 0x1000 bytes and 0x1000000 bytes", "stack_size"},
	{20, arm, sys(pd("a", `stack_size="0x1800"`, "")), "stack size must be aligned to the smallest page size, 4096 bytes", "stack_size"},
	{21, arm, sys(pd("a", `priority="255"`, "")), "priority must be between 0 and 254", "priority"},
	{22, arm, sys(pd("a", `fpu="no"`, "")), "fpu must be 'true' or 'false'", "fpu"},
	{23, arm, sys(pd("a", "", `<program_image path="b.elf" />`)), "program_image must only be specified once", `path="b.elf"`},
	{24, arm, sys(`<protection_domain name="a"></protection_domain>`), "missing 'program_image' element on protection_domain: 'a'", `name="a"`},
	{25, arm, sys(pd("a", "", `<thread name="t" />`)), "Invalid XML element 'thread'", "<thread"},
	{26, with(arm, func(t *Target) { t.Hypervisor = false }), sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>`)), "seL4 has not been built as a hypervisor, virtual machines are disabled", "<virtual_machine"},
	{27, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>
<virtual_machine name="vm2"><vcpu id="0" /></virtual_machine>`)), "virtual_machine must only be specified once", `name="vm2"`},
	{28, arm, sys(pd("a", "", `<cspace></cspace>
<cspace></cspace>`), pd("b", "", "")), "cspace must only be specified once", "<cspace></cspace>\n</protection"},
	{29, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0xffffffc000" />`)), "vaddr (0xffffffc000) must be less than 0xffffffc000", "vaddr="},
	{30, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" perms="rwz" />`)), "perms must only be a combination of 'r', 'w', and 'x'", "perms="},
	{31, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" perms="w" />`)), "perms must not be 'w', write-only mappings are not allowed", "perms="},
	{32, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" cached="maybe" />`)), "cached must be 'true' or 'false'", "cached="},
	{33, arm, sys(pd("a", "", `<irq irq="33" id="62" />`)), "id must be < 62 on element 'irq'", `id="62"`},
	{34, arm, sys(pd("a", "", `<irq irq="33" id="-1" />`)), "id must be >= 0 on element 'irq'", `id="-1"`},
	{35, x86, sys(pd("a", "", `<irq irq="33" id="1" />`)), "ARM and RISC-V IRQs are not supported on x86", `irq="33"`},
	{36, arm, sys(pd("a", "", `<irq irq="33" id="1" trigger="rising" />`)), "trigger must be either 'level' or 'edge'", "trigger="},
	{37, arm, sys(pd("a", "", `<irq pin="4" vector="1" id="1" />`)), "x86 I/O APIC IRQ isn't supported on ARM and RISC-V", `pin="4"`},
	{38, x86, sys(pd("a", "", `<irq ioapic="-1" pin="4" vector="1" id="1" />`)), "ioapic must be >= 0", "ioapic="},
	{39, x86, sys(pd("a", "", `<irq pin="-4" vector="1" id="1" />`)), "pin must be >= 0", "pin="},
	{40, x86, sys(pd("a", "", `<irq pin="4" vector="1" id="1" polarity="up" />`)), "polarity must be either 'low' or 'high'", "polarity="},
	{41, x86, sys(pd("a", "", `<irq pin="4" vector="108" id="1" />`)), "vector must be within [0..107]", "vector="},
	{42, arm, sys(pd("a", "", `<irq pcidev="0:1.0" handle="0" vector="1" id="1" />`)), "x86 MSI IRQ isn't supported on ARM and RISC-V", "pcidev="},
	{43, x86, sys(pd("a", "", `<irq pcidev="0:20.0" handle="0" vector="1" id="1" />`)), "PCI device must be within [0..31]", "pcidev="},
	{44, x86, sys(pd("a", "", `<irq pcidev="0:1.0" handle="-1" vector="1" id="1" />`)), "handle must be >= 0", "handle="},
	{45, arm, sys(pd("a", "", `<irq id="1" />`)), "Missing required attribute 'irq' on element 'irq'", `<irq id="1"`},
	{46, arm, sys(pd("a", "", `<ioport id="0" addr="0x3f8" size="8" />`)), "I/O Ports are only available on x86", "<ioport"},
	{47, x86, sys(pd("a", "", `<ioport id="62" addr="0x3f8" size="8" />`)), "id must be < 62 on element 'ioport'", `id="62"`},
	{48, x86, sys(pd("a", "", `<ioport id="0" addr="0x3f8" size="0" />`)), "size must be > 0", `size="0"`},
	{49, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" setvar_vaddr="sym" />
<irq irq="33" id="1" setvar_id="sym" />`)), "setvar on symbol 'sym' already exists", `setvar_id="sym"`},
	{50, arm, sys(pd("a", "", `<virtual_machine name="vm" budget="20" period="10"><vcpu id="0" /></virtual_machine>`)), "budget (20) must be less than, or equal to, period (10) on element 'virtual_machine'", "budget="},
	{51, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="62" /></virtual_machine>`)), "id must be < 62 on element 'vcpu'", `id="62"`},
	{52, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" />
<vcpu id="0" /></virtual_machine>`)), "duplicate vcpu id 0 in virtual machine 'vm'", `<vcpu id="0" /></virtual`},
	{53, with(arm, func(t *Target) { t.Cores = 2 }), sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" cpu="2" /></virtual_machine>`)), "cpu core must be less than 2, got 2 on element 'vcpu'", "cpu="},
	{54, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" />
<thread /></virtual_machine>`)), "invalid XML element 'thread'", "<thread"},
	{55, arm, sys(pd("a", "", `<virtual_machine name="vm"></virtual_machine>`)), "missing 'vcpu' element on virtual_machine: 'vm'", "<virtual_machine"},
	{56, arm, sys(pd("a", "", `<cspace><cap_tcb pd="b" slot="0" /></cspace>`), pd("b", "", "")), "The destination slot 0 has been reserved for Microkit CNode", "slot="},
	{57, arm, sys(pd("a", "", `<cspace><cap_tcb pd="b" slot="128" /></cspace>`), pd("b", "", "")), "There are only 128 destination cspace slots available.", "slot="},
	{58, arm, sys(pd("a", "", `<cspace><cap_notification pd="b" slot="1" /></cspace>`), pd("b", "", "")), "Cap type: 'notification' is not supported", "<cap_notification"},
	{59, arm, sys(pd("a", "", `<cspace><slot pd="b" /></cspace>`), pd("b", "", "")), "Element 'slot' is not supported in a <cspace> element", "<slot"},
	{60, arm, sys(pd("a", "", `<cspace><cap_tcb pd="nobody" slot="1" /></cspace>`)), "unknown PD name 'nobody'", `pd="nobody"`},
	{61, arm, sys(pd("a", "", `<cspace><cap_tcb pd="b" slot="1" />
<cap_sc pd="b" slot="1" /></cspace>`), pd("b", "", "")), "overlapping user caps in slot 1 of protection domain 'a'", "<cap_sc"},
	{62, arm, sys(`<memory_region name="m" size="0x1000" page_size="0x3000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "page size 0x3000 not supported", "page_size="},
	{63, arm, sys(`<memory_region name="m" prefill_path="missing.bin" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "unable to find prefill file: 'missing.bin'", "prefill_path="},
	{65, arm, sys(`<memory_region name="m" prefill_path="empty.bin" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "prefill file 'empty.bin' is empty", "prefill_path="},
	{66, arm, sys(`<memory_region name="m" prefill_bootinfo="acpi" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "BootInfoMap type: 'acpi' is not supported", "prefill_bootinfo="},
	{67, arm, sys(`<memory_region name="m" prefill_path="five.bin" prefill_bootinfo="fdt" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "prefill_path and prefill_bootinfo cannot be both specified", "prefill_bootinfo="},
	{68, arm, sys(`<memory_region name="m" size="0x1800" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "size is not a multiple of the page size", "size="},
	{69, arm, sys(`<memory_region name="m" size="0x1000" prefill_path="8k.bin" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "size of prefill file exceeds memory region size: 2000 > 1000", "size="},
	{70, arm, sys(`<memory_region name="m" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "size must be specified if memory region is not prefilled", `<memory_region name="m"`},
	{71, arm, sys(`<memory_region name="m" size="0x1000" phys_addr="0x1234" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "phys_addr is not aligned to the page size", "phys_addr="},
	{72, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="1" /><start pd="b" id="1" /><end pd="b" id="2" /></channel>`), "invalid XML element 'start'", "<start"},
	{73, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="62" /><end pd="b" id="1" /></channel>`), "id must be < 62 on element 'end'", `id="62"`},
	{74, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="1" notify="yes" /><end pd="b" id="1" /></channel>`), "notify must be 'true' or 'false'", "notify="},
	{75, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="1" pp="yes" /><end pd="b" id="1" /></channel>`), "pp must be 'true' or 'false'", "pp="},
	{76, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="1" /><end pd="c" id="1" /></channel>`), "invalid PD name 'c' on element 'end'", `pd="c"`},
	{77, arm, sys(a, pd("b", "", ""), `<channel><end pd="a" id="1" /></channel>`), "exactly two end elements must be specified", "<channel>"},
	{78, arm, sys(pd("a", `priority="1"`, ""), pd("b", `priority="2"`, ""), `<channel><end pd="a" id="1" pp="true" /><end pd="b" id="1" pp="true" /></channel>`), "cannot ppc bidirectionally", "<channel>"},
	{79, arm, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" /></io_address_space>`), "io address space requires seL4 to be built with IOMMU support", "<io_address_space"},
	{80, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" /></io_address_space>`, `<io_address_space name="d" peripheral_id="0:2.0" domain_id="2" />`), "duplicate name 'd' on element 'io_address_space'", `peripheral_id="0:2.0"`},
	{81, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" /></io_address_space>`, `<io_address_space name="e" peripheral_id="0:2.0" domain_id="1" />`), "reusing a domain id is forbidden", `peripheral_id="0:2.0"`},
	{82, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0-1" domain_id="1"><iomap mr="m" iovaddr="0x1000" /></io_address_space>`), "failed to parse device peripheral_id '0-1': expected PCI address in bus:device.function form", "peripheral_id="},
	{83, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" /></io_address_space>`, `<io_address_space name="e" peripheral_id="0:1.0" domain_id="2" />`), "duplicate device peripheral_id '0:1.0'", `name="e"`},
	{84, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" /><map mr="m" vaddr="0" /></io_address_space>`), "invalid XML element 'map'", `<map mr="m" vaddr="0"`},
	{85, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x8000000000" /></io_address_space>`), "iovaddr (0x8000000000) must be less than 0x8000000000", "iovaddr="},
	{86, x86, sys(a, `<memory_region name="m" size="0x1000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x1000" perms="x" /></io_address_space>`), "perms for io mapped memory must only be a combination of 'r' and 'w'", "perms="},
	{87, with(arm, func(t *Target) { t.Cores = 2 }), sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "The domain scheduler is not supported in multicore builds of seL4", "<domains>"},
	{88, arm, sys(`<domains><domain name="d" />
<domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "Each <domain>'s name element must be unique", `<domain name="d" /><domain_schedule>`},
	{89, arm, sys(`<domains><domain name="d" id="1" />
<domain name="e" id="1" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "Each <domain>'s id element must be unique found existing domain 'd' with id '1'", `name="e"`},
	{90, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule>
<domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "The <domain_schedule> element can only appear once", "</domain_schedule></domains>"},
	{91, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule>
<domainx /></domains>`, pd("a", `domain="d"`, "")), "invalid XML element as child of <domains> 'domainx'", "<domainx"},
	{92, arm, sys(`<domains><domain name="d" /></domains>`, pd("a", `domain="d"`, "")), "The <domain_schedule> element must appear once", "<domains>"},
	{93, with(arm, func(t *Target) { t.NumDomains = 1 }), sys(`<domains><domain name="d" /><domain name="e" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "Number of domains exceeds 1", "<domains>"},
	{94, arm, sys(`<domains><domain name="d" id="16" /><domain_schedule><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "domain id 16 should be less than the configured KernelNumDomains value of 16", `id="16"`},
	{95, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" />
<pause /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "invalid XML element as child of <domain_schedule> 'pause'", "<pause"},
	{96, with(arm, func(t *Target) { t.NumDomainSchedules = 2 }), sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 us" /><schedule_end_marker /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "More than configured KernelNumDomainSchedules 2 number of <schedule_entry> elements found", "<domains>"},
	{97, arm, sys(`<domains><domain name="d" /><domain_schedule start_index="1"><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "schedule_start_index '1' is greater than the length of the schedule '1'", "start_index="},
	{98, arm, sys(`<domains><domain name="d" /><domain_schedule index_shift="99"><schedule_entry domain="d" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "schedule_index_shift '99' on top of the schedule length '1' would exceed", "index_shift="},
	{99, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="e" duration="1 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "domain 'e' does not exist,", `domain="e"`},
	{100, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "The duration '1us' must contain a value and a unit", "duration="},
	{101, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="0 us" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "The duration '0 us' must be non-zero", "duration="},
	{102, arm, sys(`<domains><domain name="d" /><domain_schedule><schedule_entry domain="d" duration="1 ms" /></domain_schedule></domains>`, pd("a", `domain="d"`, "")), "The duration '1 ms' must be in either 'ticks' or 'us'", "duration="},
	{103, arm, sys(pd("a", "", pd("b", `id="1"`, "")+"\n"+pd("c", `id="1"`, ""))), "duplicate id: 1 in protection domain: 'a'", `name="c"`},
	{104, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="1" /></virtual_machine>`+"\n"+pd("b", `id="1"`, ""))), "duplicate id: 1 clashes with virtual machine vcpu id in protection domain: 'a'", `name="b"`},
	{105, arm, sys(`<memory_region name="m" size="0x1000" />`), "at least one protection domain must be defined", "<system>"},
	{106, arm, sys(manyPDs(64)...), "too many protection domains (64) defined. Maximum is 63.", `name="p63"`},
	{107, arm, sys(a, a), "duplicate protection domain name 'a'", "DUP"},
	{108, arm, sys(pd("monitor", "", "")), "the PD name 'monitor' is reserved for the Microkit Monitor.", `name="monitor"`},
	{109, arm, sys(a, `<memory_region name="m" size="0x1000" />`, `<memory_region name="m" size="0x2000" />`), "duplicate memory region name 'm'", `size="0x2000"`},
	{110, arm, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>`), pd("b", "", `<virtual_machine name="vm"><vcpu id="1" /></virtual_machine>`)), "duplicate virtual machine name 'vm'", `<vcpu id="1"`},
	{111, x86, sys(pd("a", "", `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>`+"\n"+pd("b", `id="1"`, ""))), "It is not possible for PD 'a' with a bound vCPU to have children on x86_64", `name="a"`},
	{112, arm, sys(pd("a", "", `<irq irq="33" id="1" />`), pd("b", "", `<irq irq="33" id="1" />`)), "duplicate irq: 33 in protection domain: 'b'", "IRQB"},
	{113, arm, sys(pd("a", "", `<irq irq="33" id="1" />
<irq irq="34" id="1" />`)), "duplicate channel id: 1 in protection domain: 'a'", `irq="34"`},
	{114, arm, sys(pd("a", "", `<irq irq="33" id="1" />`), pd("b", "", ""), `<channel><end pd="a" id="1" /><end pd="b" id="1" /></channel>`), "duplicate channel id: 1 in protection domain: 'a'", `<channel>`},
	{115, arm, sys(pd("a", `priority="2"`, ""), pd("b", `priority="2"`, ""), `<channel><end pd="a" id="1" pp="true" /><end pd="b" id="1" /></channel>`), "PPCs must be to protection domains of strictly higher priorities; channel with PPC exists from pd a (priority: 2) to pd b (priority: 2)", "pp="},
	{116, x86, sys(pd("a", `priority="1"`, ""), pd("b", `priority="2"`, `<virtual_machine name="vm"><vcpu id="0" /></virtual_machine>`), `<channel><end pd="a" id="1" pp="true" /><end pd="b" id="1" /></channel>`), "It is not possible to PPC to PD 'b' with a bound vCPU from PD 'a' on x86_64", "pp="},
	{117, x86, sys(pd("a", "", `<ioport id="0" addr="0x3f8" size="8" />
<ioport id="0" addr="0x2f8" size="8" />`)), "duplicate I/O port id: 0 in protection domain: 'a'", `addr="0x2f8"`},
	{118, x86, sys(pd("a", "", `<ioport id="0" addr="0x3f8" size="8" />`), pd("b", "", `<ioport id="0" addr="0x3ff" size="1" />`)), "I/O port id: 0, half-open range: [0x3ff, 0x400) in protection domain: 'b' overlaps with I/O port id: 0, half-open range: [0x3f8, 0x400) in protection domain: 'a'", `addr="0x3ff"`},
	{119, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="n" vaddr="0x1000" />`)), "invalid memory region name 'n' on 'map'", `mr="n"`},
	{120, arm, sys(`<memory_region name="m" size="0x200000" page_size="0x200000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />`)), "invalid vaddr alignment on 'map'", "vaddr="},
	{122, arm, sys(`<memory_region name="m" size="0x2000" />`, pd("a", "", `<map mr="m" vaddr="0xffffffb000" />`)), "map for 'm' has virtual address range [0xffffffb000..0xffffffd000) which exceeds valid address space [0x0..0xffffffc000)", "vaddr="},
	{123, arm, sys(`<memory_region name="m" size="0x2000" />`, `<memory_region name="n" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />
<map mr="n" vaddr="0x2000" />`)), "map for 'n' has virtual address range [0x2000..0x3000) which overlaps with map for 'm' [0x1000..0x3000) in protection domain 'a'", `mr="n"`},
	{124, x86, sys(a, `<memory_region name="m" size="0x200000" page_size="0x200000" />`, `<io_address_space name="d" peripheral_id="0:1.0" domain_id="1"><iomap mr="m" iovaddr="0x200000" /></io_address_space>`), "currently seL4 does not have large page support for the IOMMU", "<iomap"},
	{125, arm, sys(`<memory_region name="m" size="0x2000" phys_addr="0x10000000" />`, `<memory_region name="n" size="0x1000" phys_addr="0x10001000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />
<map mr="n" vaddr="0x4000" />`)), "memory region 'n' physical address range [0x10001000..0x10002000) overlaps with another memory region 'm' [0x10000000..0x10002000)", `name="n"`},
	{127, arm, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" setvar_prefill_size="n" />`)), "'setvar_prefill_size' used for MR without a `prefill_path`", "setvar_prefill_size="},
	{128, x86, sys(`<memory_region name="m" size="0x1000" />`, pd("a", "", `<map mr="m" vaddr="0x1000" />
<setvar symbol="p" region_paddr="m" />`)), "setvar with 'region_paddr' for MR without a specified paddr is unsupported on x86-64", "region_paddr="},
}

func manyPDs(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, pd("p"+itoa(i), "", ""))
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// lineOf finds the line the marker text is on; DUP and IRQB name the
// second occurrence of a PD or IRQ.
func lineOf(src, at string) int {
	idx := strings.Index(src, at)
	switch at {
	case "DUP":
		first := strings.Index(src, `name="a"`)
		idx = first + 1 + strings.Index(src[first+1:], `name="a"`)
	case "IRQB":
		first := strings.Index(src, `<irq irq="33"`)
		idx = first + 1 + strings.Index(src[first+1:], `<irq irq="33"`)
	}
	if idx < 0 {
		return -1
	}
	return strings.Count(src[:idx], "\n") + 1
}

// Every rule has a one-defect system that gets exactly one error, with the
// message and the line the rule calls for.
func TestEveryRule(t *testing.T) {
	seen := map[int]bool{}
	for _, tc := range ruleCases {
		seen[tc.rule] = true
		var d diag.List
		Parse("r.system", []byte(tc.sdf), tc.target, &d)
		var errs []diag.Diagnostic
		for _, x := range d.Items() {
			if x.Severity == diag.Error {
				errs = append(errs, x)
			}
		}
		want := lineOf(tc.sdf, tc.at)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, tc.msg) || errs[0].Pos.Line != want || errs[0].Pos.Col < 1 {
			t.Errorf("rule %d: want one error on line %d containing %q; got:\n%s\nin:\n%s", tc.rule, want, tc.msg, d.Items(), tc.sdf)
		}
	}
	// Rule 64 (an unreadable prefill file) needs a file root cannot read;
	// 121 (a map's range overflows 64 bits) cannot be reached, since a map
	// starts below the PD's stack or the 2^39 IOVA limit, far from 2^64; 126
	// is a warning (TestUnusedRegionWarns).
	for r := 1; r <= 128; r++ {
		if !seen[r] && r != 64 && r != 121 && r != 126 {
			t.Errorf("rule %d has no case", r)
		}
	}
}

func TestUnusedRegionWarns(t *testing.T) {
	var d diag.List
	Parse("w.system", []byte(sys(a, `<memory_region name="m" size="0x1000" />`)), arm, &d)
	items := d.Items()
	if len(items) != 1 || items[0].Severity != diag.Warning || items[0].Message != "unused memory region 'm'" || items[0].Pos.Line != 6 {
		t.Errorf("%v", items)
	}
}

// A system with five different mistakes gets five diagnostics, each at its place.
func TestFiveMistakesFiveDiagnostics(t *testing.T) {
	src := `<system>
    <memory_region name="buf" size="0x1800" />
    <protection_domain name="a" priority="300">
        <program_image path="a.elf" />
        <map mr="buf" vaddr="0x1000" perms="w" />
        <irq irq="33" id="70" />
    </protection_domain>
    <channel>
        <end pd="a" id="1" />
        <end pd="ghost" id="1" />
    </channel>
</system>
`
	var d diag.List
	Parse("five.system", []byte(src), arm, &d)
	want := []string{
		"five.system:2:31: error: size is not a multiple of the page size on element 'memory_region'",
		"five.system:3:33: error: priority must be between 0 and 254 on element 'protection_domain'",
		"five.system:5:38: error: perms must not be 'w', write-only mappings are not allowed on element 'map'",
		"five.system:6:23: error: id must be < 62 on element 'irq'",
		"five.system:10:14: error: invalid PD name 'ghost' on element 'end'",
	}
	var got []string
	for _, x := range d.Items() {
		got = append(got, x.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
