// Package sdf is plinth's model of the Microkit system description (SDF):
// it parses every element and attribute of Microkit 2.3 (and the 2.0.x
// dialect), keeps the place of each, checks every rule the Microkit tool
// checks — reporting all problems, never panicking — writes a canonical
// form, draws the system, and enforces a one-way information-flow policy.
package sdf

import "github.com/pointsav/plinth/internal/diag"

// System is a parsed system description.
type System struct {
	File     string
	PDs      []*PD // top-level protection domains, in file order
	MRs      []*MR
	Channels []*Channel
	IOSpaces []*IOSpace
	Domains  *Domains
	El       *Element `json:"-"`

	pdIndex map[string]*PD
	mrIndex map[string]*MR
}

// PD is a protection domain (top-level or child).
type PD struct {
	Name      string
	Priority  uint64
	Budget    uint64
	Period    uint64
	Passive   bool
	StackSize uint64
	SMC       bool
	CPU       uint64
	FPU       bool
	Domain    string
	ID        *uint64 // child PDs only
	SetvarID  string  // child PDs only

	Program        string
	ProgramSymbols string

	Maps     []*Map
	IRQs     []*IRQ
	IOPorts  []*IOPort
	Setvars  []*Setvar
	Children []*PD
	VM       *VM
	Caps     []*Cap   // from <cspace>
	CSpaceEl *Element `json:"-"`

	Parent *PD      `json:"-"`
	El     *Element `json:"-"`
}

// Map maps a memory region into a PD or VM.
type Map struct {
	MR                string
	Vaddr             uint64
	Perms             string // canonical order of r, w, x
	Cached            bool
	SetvarVaddr       string
	SetvarSize        string
	SetvarPrefillSize string
	El                *Element `json:"-"`
}

// Readable, Writable and Executable say what the mapping allows.
func (m *Map) Readable() bool   { return containsRune(m.Perms, 'r') }
func (m *Map) Writable() bool   { return containsRune(m.Perms, 'w') }
func (m *Map) Executable() bool { return containsRune(m.Perms, 'x') }

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

// IRQKind is the form of an <irq>.
type IRQKind int

// The IRQ forms.
const (
	IRQConventional IRQKind = iota // ARM and RISC-V: irq=
	IRQIOAPIC                      // x86: pin=
	IRQMSI                         // x86: pcidev=
)

// IRQ is an interrupt delivered to a PD.
type IRQ struct {
	Kind     IRQKind
	ID       uint64
	SetvarID string
	// Conventional
	Number  uint64
	Trigger string // level or edge (also IOAPIC)
	// IOAPIC
	IOAPIC   uint64
	Pin      uint64
	Polarity string
	Vector   uint64 // IOAPIC and MSI
	// MSI
	PCIDev [3]uint64 // bus, device, function
	Handle uint64
	El     *Element `json:"-"`
}

// Key is what must be unique across the system: the IRQ number, or the
// vector on x86.
func (q *IRQ) Key() uint64 {
	if q.Kind == IRQConventional {
		return q.Number
	}
	return q.Vector
}

// IOPort is an x86 I/O port range.
type IOPort struct {
	ID         uint64
	Addr       uint64
	Size       uint64
	SetvarID   string
	SetvarAddr string
	El         *Element `json:"-"`
}

// Setvar patches a symbol with the physical address of a region.
type Setvar struct {
	Symbol      string
	RegionPaddr string
	El          *Element `json:"-"`
}

// VM is a virtual machine bound to a PD.
type VM struct {
	Name     string
	Priority uint64
	Budget   uint64
	Period   uint64
	VCPUs    []*VCPU
	Maps     []*Map
	El       *Element `json:"-"`
}

// VCPU is one virtual CPU.
type VCPU struct {
	ID       uint64
	CPU      *uint64
	SetvarID string
	El       *Element `json:"-"`
}

// Cap hands a capability of a PD to another's cspace.
type Cap struct {
	Type string // tcb, sc or vspace
	PD   string
	Slot uint64
	El   *Element `json:"-"`
}

// MR is a memory region.
type MR struct {
	Name            string
	Size            uint64
	SizeGiven       bool
	PageSize        uint64
	PageSizeGiven   bool
	PhysAddr        *uint64
	PrefillPath     string
	PrefillBootinfo string
	PrefillSize     int      // bytes of the prefill file, when read
	El              *Element `json:"-"`
}

// Channel connects two PDs.
type Channel struct {
	Ends [2]*End
	El   *Element `json:"-"`
}

// End is one end of a channel.
type End struct {
	PD       string
	ID       uint64
	Notify   bool
	PP       bool
	SetvarID string
	El       *Element `json:"-"`
}

// IOSpace is an x86 IOMMU address space for one PCI device.
type IOSpace struct {
	Name         string
	PeripheralID string
	DomainID     *uint64
	Maps         []*IOMap
	El           *Element `json:"-"`
}

// IOMap maps a region into a device's IO address space.
type IOMap struct {
	MR      string
	IOVaddr uint64
	Perms   string
	El      *Element `json:"-"`
}

// Domains is the domain schedule.
type Domains struct {
	Domains    []*Domain
	StartIndex uint64
	IndexShift *uint64
	Schedule   []*ScheduleEntry
	ScheduleEl *Element `json:"-"`
	El         *Element `json:"-"`
}

// Domain is one scheduling domain.
type Domain struct {
	Name string
	ID   *uint64  // as written
	El   *Element `json:"-"`
}

// ScheduleEntry is one slot of the domain schedule; EndMarker entries have
// no domain.
type ScheduleEntry struct {
	Domain    string
	Duration  uint64
	Unit      string // us or ticks
	EndMarker bool
	El        *Element `json:"-"`
}

// AllPDs lists every PD, children after their parent, depth first — the
// order Microkit numbers them in.
func (s *System) AllPDs() []*PD {
	var out []*PD
	var walk func(pd *PD)
	walk = func(pd *PD) {
		out = append(out, pd)
		for _, c := range pd.Children {
			walk(c)
		}
	}
	for _, pd := range s.PDs {
		walk(pd)
	}
	return out
}

// PD finds a PD (at any depth) by name; with several of one name, the first.
func (s *System) PD(name string) *PD {
	if s.pdIndex == nil {
		s.pdIndex = map[string]*PD{}
		for _, pd := range s.AllPDs() {
			if _, dup := s.pdIndex[pd.Name]; !dup {
				s.pdIndex[pd.Name] = pd
			}
		}
	}
	return s.pdIndex[name]
}

// MR finds a memory region by name; with several of one name, the first.
func (s *System) MR(name string) *MR {
	if s.mrIndex == nil {
		s.mrIndex = map[string]*MR{}
		for _, mr := range s.MRs {
			if _, dup := s.mrIndex[mr.Name]; !dup {
				s.mrIndex[mr.Name] = mr
			}
		}
	}
	return s.mrIndex[name]
}

// Changed drops the name indexes; call it after changing PDs or regions.
func (s *System) Changed() { s.pdIndex, s.mrIndex = nil, nil }

// pos is a shorthand for an element's position.
func (e *Element) pos() diag.Pos { return e.Pos }
