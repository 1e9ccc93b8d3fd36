package sdf

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
)

// Check runs the whole-system rules: names, ids, IRQs, channels, maps,
// regions, capabilities and setvars across protection domains. Parse calls
// it; systems built in Go (generated, merged) are checked with it too.
func Check(s *System, t Target, d *diag.List) {
	s.Changed()
	c := &checker{s: s, t: t, d: d, pds: s.AllPDs()}
	c.pdTree()
	c.names()
	c.irqsAndChannels()
	c.ioports()
	c.maps()
	c.caps()
	c.regions()
	c.setvars()
}

type checker struct {
	s   *System
	t   Target
	d   *diag.List
	pds []*PD
}

func (c *checker) pdTree() {
	for _, pd := range c.pds {
		seen := map[uint64]*PD{}
		for _, child := range pd.Children {
			if child.ID == nil {
				continue
			}
			if other, dup := seen[*child.ID]; dup {
				c.d.Errorf(child.El.Pos, "duplicate id: %d in protection domain: '%s' (also used by child '%s' at %s)", *child.ID, pd.Name, other.Name, other.El.Pos)
				continue
			}
			seen[*child.ID] = child
			if pd.VM != nil {
				for _, v := range pd.VM.VCPUs {
					if v.ID == *child.ID {
						c.d.Errorf(child.El.Pos, "duplicate id: %d clashes with virtual machine vcpu id in protection domain: '%s' (vcpu at %s)", v.ID, pd.Name, v.El.Pos)
					}
				}
			}
		}
		if c.t.Arch == "x86_64" && pd.VM != nil && len(pd.Children) > 0 {
			c.d.Errorf(pd.El.Pos, "It is not possible for PD '%s' with a bound vCPU to have children on x86_64", pd.Name)
		}
	}
}

func (c *checker) names() {
	if len(c.pds) == 0 {
		c.d.Errorf(c.s.El.Pos, "at least one protection domain must be defined")
	}
	if len(c.pds) > MaxPDs {
		c.d.Errorf(c.pds[MaxPDs].El.Pos, "too many protection domains (%d) defined. Maximum is %d.", len(c.pds), MaxPDs)
	}
	byName := map[string]*PD{}
	for _, pd := range c.pds {
		if pd.Name == monitorName && c.t.Has("monitor_reserved") {
			c.d.Errorf(pd.El.At("name"), "the PD name 'monitor' is reserved for the Microkit Monitor.")
		}
		if other, dup := byName[pd.Name]; dup {
			c.d.Errorf(pd.El.At("name"), "duplicate protection domain name '%s' (first at %s).", pd.Name, other.El.Pos)
			continue
		}
		byName[pd.Name] = pd
	}
	mrs := map[string]*MR{}
	for _, mr := range c.s.MRs {
		if other, dup := mrs[mr.Name]; dup {
			c.d.Errorf(mr.El.At("name"), "duplicate memory region name '%s' (first at %s).", mr.Name, other.El.Pos)
			continue
		}
		mrs[mr.Name] = mr
	}
	vms := map[string]*VM{}
	for _, pd := range c.pds {
		if pd.VM == nil {
			continue
		}
		if other, dup := vms[pd.VM.Name]; dup {
			note := ""
			if !c.t.Has("monitor_reserved") {
				note = "; Microkit 2.0.x lets two different machines share a name, as the Microkit tool compares whole machines there"
			}
			c.d.Errorf(pd.VM.El.At("name"), "duplicate virtual machine name '%s' (first at %s)%s.", pd.VM.Name, other.El.Pos, note)
			continue
		}
		vms[pd.VM.Name] = pd.VM
	}
	spaces, ids, domainIDs := map[string]*IOSpace{}, map[string]*IOSpace{}, map[uint64]*IOSpace{}
	for _, sp := range c.s.IOSpaces {
		if other, dup := spaces[sp.Name]; dup {
			c.d.Errorf(sp.El.At("name"), "duplicate name '%s' on element 'io_address_space' (first at %s)", sp.Name, other.El.Pos)
		}
		spaces[sp.Name] = sp
		if other, dup := ids[sp.PeripheralID]; dup && sp.PeripheralID != "" {
			c.d.Errorf(sp.El.At("peripheral_id"), "duplicate device peripheral_id '%s' on element 'io_address_space' (first at %s)", sp.PeripheralID, other.El.Pos)
		}
		ids[sp.PeripheralID] = sp
		if sp.DomainID != nil {
			if other, dup := domainIDs[*sp.DomainID]; dup {
				c.d.Errorf(sp.El.At("domain_id"), "reusing a domain id is forbidden on element 'io_address_space' (first at %s)", other.El.Pos)
			}
			domainIDs[*sp.DomainID] = sp
		}
	}
}

// idUse is where a PD uses a channel id: an IRQ or a channel end.
type idUse struct {
	what string
	pos  diag.Pos
}

func (c *checker) irqsAndChannels() {
	irqs := map[uint64]*IRQ{}
	irqOwner := map[*IRQ]*PD{}
	ids := map[*PD]map[uint64]idUse{}
	use := func(pd *PD, id uint64, u idUse) {
		if ids[pd] == nil {
			ids[pd] = map[uint64]idUse{}
		}
		if prev, dup := ids[pd][id]; dup {
			c.d.Errorf(u.pos, "duplicate channel id: %d in protection domain: '%s' (%s here, %s at %s)", id, pd.Name, u.what, prev.what, prev.pos)
			return
		}
		ids[pd][id] = u
	}
	for _, pd := range c.pds {
		for _, q := range pd.IRQs {
			if other, dup := irqs[q.Key()]; dup {
				c.d.Errorf(q.El.Pos, "duplicate irq: %d in protection domain: '%s' (also in '%s' at %s)", q.Key(), pd.Name, irqOwner[other].Name, other.El.Pos)
			} else {
				irqs[q.Key()] = q
				irqOwner[q] = pd
			}
			use(pd, q.ID, idUse{"irq", q.El.Pos})
		}
	}
	for _, ch := range c.s.Channels {
		var pds [2]*PD
		ok := true
		for i, e := range ch.Ends {
			pds[i] = c.s.PD(e.PD)
			if pds[i] == nil {
				msg := fmt.Sprintf("invalid PD name '%s' on element 'end'", e.PD)
				if s, found := diag.Closest(e.PD, pdNames(c.pds)); found {
					msg += fmt.Sprintf(" (did you mean '%s'?)", s)
				}
				c.d.Errorf(e.El.At("pd"), "%s", msg)
				ok = false
			}
		}
		if !ok {
			continue
		}
		for i, e := range ch.Ends {
			use(pds[i], e.ID, idUse{"channel end", e.El.Pos})
		}
		for i, e := range ch.Ends {
			caller, callee := pds[i], pds[1-i]
			if e.PP && caller.Priority >= callee.Priority {
				c.d.Errorf(e.El.At("pp"), "PPCs must be to protection domains of strictly higher priorities; channel with PPC exists from pd %s (priority: %d) to pd %s (priority: %d)", caller.Name, caller.Priority, callee.Name, callee.Priority)
			}
			if e.PP && c.t.Arch == "x86_64" && callee.VM != nil {
				c.d.Errorf(e.El.At("pp"), "It is not possible to PPC to PD '%s' with a bound vCPU from PD '%s' on x86_64", callee.Name, caller.Name)
			}
		}
	}
}

func pdNames(pds []*PD) []string {
	var out []string
	for _, pd := range pds {
		out = append(out, pd.Name)
	}
	return out
}

func (c *checker) ioports() {
	type owned struct {
		io *IOPort
		pd *PD
	}
	var all []owned
	for _, pd := range c.pds {
		seen := map[uint64]*IOPort{}
		for _, io := range pd.IOPorts {
			if other, dup := seen[io.ID]; dup {
				c.d.Errorf(io.El.Pos, "duplicate I/O port id: %d in protection domain: '%s' (first at %s)", io.ID, pd.Name, other.El.Pos)
			}
			seen[io.ID] = io
			for _, o := range all {
				if io.Addr < o.io.Addr+o.io.Size && o.io.Addr < io.Addr+io.Size {
					c.d.Errorf(io.El.Pos, "I/O port id: %d, half-open range: [%#x, %#x) in protection domain: '%s' overlaps with I/O port id: %d, half-open range: [%#x, %#x) in protection domain: '%s' @ %s",
						io.ID, io.Addr, io.Addr+io.Size, pd.Name, o.io.ID, o.io.Addr, o.io.Addr+o.io.Size, o.pd.Name, o.io.El.Pos)
				}
			}
			all = append(all, owned{io, pd})
		}
	}
}

// mapping is a map or an iomap, for the checks they share.
type mapping struct {
	mr      string
	addr    uint64
	el      *Element
	element string // map or iomap
	addrKey string // vaddr or iovaddr
	rng     string // "virtual address range" or "io address range"
}

func (c *checker) maps() {
	for _, pd := range c.pds {
		var ms []mapping
		for _, m := range pd.Maps {
			ms = append(ms, mapping{m.MR, m.Vaddr, m.El, "map", "vaddr", "virtual address range"})
		}
		c.checkMaps(ms, fmt.Sprintf("protection domain '%s'", pd.Name), c.t.PDMapLimit(pd.StackSize))
		if pd.VM != nil {
			ms = nil
			for _, m := range pd.VM.Maps {
				ms = append(ms, mapping{m.MR, m.Vaddr, m.El, "map", "vaddr", "virtual address range"})
			}
			c.checkMaps(ms, fmt.Sprintf("virtual machine '%s'", pd.VM.Name), c.t.VMMapLimit())
		}
	}
	for _, sp := range c.s.IOSpaces {
		var ms []mapping
		for _, m := range sp.Maps {
			ms = append(ms, mapping{m.MR, m.IOVaddr, m.El, "iomap", "iovaddr", "io address range"})
			if mr := c.s.MR(m.MR); mr != nil && mr.PageSize == largePage {
				c.d.Errorf(m.El.Pos, "currently seL4 does not have large page support for the IOMMU (memory region '%s' has 2 MiB pages)", mr.Name)
			}
		}
		c.checkMaps(ms, "PCI device "+sp.PeripheralID, MaxIOVA+1)
	}
}

func (c *checker) checkMaps(ms []mapping, space string, limit uint64) {
	type placed struct {
		m          mapping
		start, end uint64
	}
	var done []placed
	for _, m := range ms {
		mr := c.s.MR(m.mr)
		if mr == nil {
			msg := fmt.Sprintf("invalid memory region name '%s' on '%s'", m.mr, m.element)
			if s, found := diag.Closest(m.mr, mrNames(c.s.MRs)); found {
				msg += fmt.Sprintf(" (did you mean '%s'?)", s)
			}
			c.d.Errorf(m.el.At("mr"), "%s", msg)
			continue
		}
		if m.addr%mr.PageSize != 0 {
			c.d.Errorf(m.el.At(m.addrKey), "invalid %s alignment on '%s' (%#x is not a multiple of the region's page size %#x)", m.addrKey, m.element, m.addr, mr.PageSize)
			continue
		}
		end := m.addr + mr.Size
		if end < m.addr {
			c.d.Errorf(m.el.Pos, "%s for '%s' has address range that overflows", m.element, m.mr)
			continue
		}
		if end > limit {
			c.d.Errorf(m.el.Pos, "%s for '%s' has %s [%#x..%#x) which exceeds valid address space [%#x..%#x)", m.element, m.mr, m.rng, m.addr, end, 0, limit)
			continue
		}
		for _, o := range done {
			if m.addr < o.end && o.start < end {
				c.d.Errorf(m.el.Pos, "map for '%s' has %s [%#x..%#x) which overlaps with map for '%s' [%#x..%#x) in %s (at %s)", m.mr, m.rng, m.addr, end, o.m.mr, o.start, o.end, space, o.m.el.Pos)
			}
		}
		done = append(done, placed{m, m.addr, end})
	}
}

func mrNames(mrs []*MR) []string {
	var out []string
	for _, mr := range mrs {
		out = append(out, mr.Name)
	}
	return out
}

func (c *checker) caps() {
	for _, pd := range c.pds {
		slots := map[uint64][]*Cap{}
		for _, cp := range pd.Caps {
			if c.s.PD(cp.PD) == nil {
				c.d.Errorf(cp.El.At("pd"), "unknown PD name '%s'", cp.PD)
			}
			slots[cp.Slot] = append(slots[cp.Slot], cp)
		}
		for _, slot := range slices.Sorted(maps.Keys(slots)) {
			caps := slots[slot]
			if len(caps) < 2 {
				continue
			}
			var lines []string
			for _, cp := range caps {
				lines = append(lines, fmt.Sprintf("%s from '%s' at %s", cp.Type, cp.PD, cp.El.Pos))
			}
			c.d.Errorf(caps[1].El.Pos, "overlapping user caps in slot %d of protection domain '%s': %s", slot, pd.Name, strings.Join(lines, "; "))
		}
	}
}

func (c *checker) regions() {
	var placed []*MR
	for _, mr := range c.s.MRs {
		if mr.PhysAddr == nil {
			continue
		}
		start := *mr.PhysAddr
		end := start + mr.Size
		for _, o := range placed {
			os := *o.PhysAddr
			if start < os+o.Size && os < end {
				c.d.Errorf(mr.El.Pos, "memory region '%s' physical address range [%#x..%#x) overlaps with another memory region '%s' [%#x..%#x) @ %s", mr.Name, start, end, o.Name, os, os+o.Size, o.El.Pos)
			}
		}
		placed = append(placed, mr)
	}
	used := map[string]bool{}
	for _, pd := range c.pds {
		for _, m := range pd.Maps {
			used[m.MR] = true
		}
		if pd.VM != nil {
			for _, m := range pd.VM.Maps {
				used[m.MR] = true
			}
		}
	}
	for _, sp := range c.s.IOSpaces {
		for _, m := range sp.Maps {
			used[m.MR] = true
		}
	}
	for _, mr := range c.s.MRs {
		if !used[mr.Name] {
			c.d.Warnf(mr.El.Pos, "unused memory region '%s'", mr.Name)
		}
	}
}

// setvars checks every symbol a PD's ELF gets patched with: each may be
// set once, and what it names must exist.
func (c *checker) setvars() {
	type setvar struct {
		symbol string
		pos    diag.Pos
	}
	endsOf := map[string][]*End{}
	for _, ch := range c.s.Channels {
		for _, e := range ch.Ends {
			if e.SetvarID != "" {
				endsOf[e.PD] = append(endsOf[e.PD], e)
			}
		}
	}
	for _, pd := range c.pds {
		var all []setvar
		add := func(sym string, el *Element, attr string) {
			if sym != "" {
				all = append(all, setvar{sym, el.At(attr)})
			}
		}
		for _, m := range pd.Maps {
			add(m.SetvarVaddr, m.El, "setvar_vaddr")
			add(m.SetvarSize, m.El, "setvar_size")
			add(m.SetvarPrefillSize, m.El, "setvar_prefill_size")
			if m.SetvarPrefillSize != "" {
				if mr := c.s.MR(m.MR); mr != nil && mr.PrefillPath == "" {
					c.d.Errorf(m.El.At("setvar_prefill_size"), "'setvar_prefill_size' used for MR without a `prefill_path` @ '%s' %s", mr.Name, mr.El.Pos)
				}
			}
		}
		for _, q := range pd.IRQs {
			add(q.SetvarID, q.El, "setvar_id")
		}
		for _, io := range pd.IOPorts {
			add(io.SetvarID, io.El, "setvar_id")
			add(io.SetvarAddr, io.El, "setvar_addr")
		}
		for _, child := range pd.Children {
			add(child.SetvarID, child.El, "setvar_id")
		}
		if pd.VM != nil {
			for _, v := range pd.VM.VCPUs {
				add(v.SetvarID, v.El, "setvar_id")
			}
		}
		for _, sv := range pd.Setvars {
			add(sv.Symbol, sv.El, "symbol")
			mr := c.s.MR(sv.RegionPaddr)
			switch {
			case mr == nil:
				c.d.Errorf(sv.El.At("region_paddr"), "setvar region_paddr names no memory region '%s'", sv.RegionPaddr)
			case mr.PhysAddr == nil && c.t.Arch == "x86_64":
				c.d.Errorf(sv.El.At("region_paddr"), "setvar with 'region_paddr' for MR without a specified paddr is unsupported on x86-64 @ '%s' %s", mr.Name, mr.El.Pos)
			}
		}
		for _, e := range endsOf[pd.Name] {
			add(e.SetvarID, e.El, "setvar_id")
		}
		first := map[string]diag.Pos{}
		for _, sv := range all {
			if p, dup := first[sv.symbol]; dup {
				c.d.Errorf(sv.pos, "setvar on symbol '%s' already exists (first set at %s)", sv.symbol, p)
				continue
			}
			first[sv.symbol] = sv.pos
		}
	}
}
