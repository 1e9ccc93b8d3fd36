package sdf

// Protection domains and what they hold: program images, maps, capability
// spaces.

import (
	"path"
	"strings"

	"github.com/pointsav/plinth/internal/safename"
)

func (p *parser) pd(el *Element, parent *PD, s *System) *PD {
	allowed := []string{"name", "priority", "budget", "period", "passive", "stack_size", "smc"}
	gated := map[string]string{"cpu": "cpu", "domain": "domains", "fpu": "fpu"}
	for k, f := range gated {
		if p.has(f) {
			allowed = append(allowed, k)
		}
	}
	if parent != nil {
		allowed = append(allowed, "id")
		if p.has("setvar_id") {
			allowed = append(allowed, "setvar_id")
		} else {
			gated["setvar_id"] = "setvar_id"
		}
	}
	p.attrs(el, allowed, gated)

	pd := &PD{El: el, Parent: parent, Budget: DefaultBudget, StackSize: p.t.DefaultStackSize(), FPU: true}
	pd.Name, _ = p.required(el, "name")
	if err := safename.Name(pd.Name); err != nil && pd.Name != "" {
		// plinth names files after PDs (sDDF's copiers, the footprint).
		p.valueError(el.At("name"), el, "name: %v (plinth is stricter than the Microkit tool here: it names files after protection domains)", err)
	}
	if len(pd.Name) > MaxNameLen {
		// The tool truncates silently; the monitor would print a different name.
		p.valueError(el.At("name"), el, "name '%s' is longer than %d bytes (the Microkit tool truncates it without saying so)", pd.Name, MaxNameLen)
	}
	if parent != nil {
		if id, ok := p.requiredNumber(el, "id"); ok {
			pd.ID = &id
			if id > MaxID {
				// Upstream does not check; libmicrokit assumes 0..61.
				p.valueError(el.At("id"), el, "id must be < %d (the child's id is its fault badge bit; the Microkit tool does not check this)", MaxID+1)
			}
		}
		pd.SetvarID = attrValue(el, "setvar_id")
	}
	if v, present, ok := p.number(el, "budget"); present && ok {
		pd.Budget = v
	}
	pd.Period = pd.Budget
	if v, present, ok := p.number(el, "period"); present && ok {
		pd.Period = v
	}
	if pd.Budget > pd.Period {
		p.valueError(el.At("budget"), el, "budget (%d) must be less than, or equal to, period (%d)", pd.Budget, pd.Period)
	}
	pd.Passive = p.boolean(el, "passive", false)
	if v, present, ok := p.number(el, "stack_size"); present && ok {
		pd.StackSize = v
		if v < MinStack || v > MaxStack {
			p.valueError(el.At("stack_size"), el, "stack size must be between %#x bytes and %#x bytes", MinStack, MaxStack)
		} else if v%smallPage != 0 {
			p.valueError(el.At("stack_size"), el, "stack size must be aligned to the smallest page size, %d bytes", smallPage)
		}
	}
	pd.SMC = p.boolean(el, "smc", false)
	if pd.SMC {
		switch {
		case p.t.Arch != "aarch64":
			p.errorf(el.At("smc"), "ARM SMC forwarding support is not available for this architecture")
		case !p.t.SMC:
			p.valueError(el.At("smc"), el, "Using SMC support without ARM SMC forwarding support enabled in the kernel for this platform")
		}
	}
	if p.has("cpu") {
		if v, present, ok := p.number(el, "cpu"); present && ok {
			pd.CPU = v
			if v >= uint64(p.t.Cores) {
				p.valueError(el.At("cpu"), el, "cpu core must be less than %d, got %d", p.t.Cores, v)
			}
		}
	}
	if p.has("domains") {
		if d, ok := el.Attr("domain"); ok {
			pd.Domain = d.Value
		}
		p.checkDomainAttr(pd, s)
	}
	if v, present, ok := p.number(el, "priority"); present && ok {
		pd.Priority = v
		if v > MaxPriority {
			p.valueError(el.At("priority"), el, "priority must be between 0 and %d", MaxPriority)
		}
	}
	if p.has("fpu") {
		pd.FPU = p.boolean(el, "fpu", true)
	}

	var programSeen bool
	for _, c := range el.Children {
		switch c.Name {
		case "program_image":
			allowedPI := []string{"path"}
			if p.has("path_for_symbols") {
				allowedPI = append(allowedPI, "path_for_symbols")
			}
			p.attrs(c, allowedPI, map[string]string{"path_for_symbols": "path_for_symbols"})
			if programSeen {
				p.valueError(c.Pos, el, "program_image must only be specified once")
				continue
			}
			programSeen = true
			pd.Program, _ = p.required(c, "path")
			if pd.Program != "" {
				if err := safename.RelPath(path.Clean(pd.Program)); err != nil {
					p.valueError(c.At("path"), c, "path: %v (a program image is looked up in the search path; plinth is stricter than the Microkit tool here)", err)
				}
			}
			pd.ProgramSymbols = attrValue(c, "path_for_symbols")
		case "map":
			if m := p.mapping(c, true, p.t.PDMapLimit(pd.StackSize)); m != nil {
				pd.Maps = append(pd.Maps, m)
			}
		case "irq":
			if q := p.irq(c); q != nil {
				pd.IRQs = append(pd.IRQs, q)
			}
		case "ioport":
			if !p.has("x86") {
				p.errorf(c.Pos, "Invalid XML element '%s' (it needs %s)", c.Name, p.t.since("x86"))
				continue
			}
			if p.t.Arch != "x86_64" {
				p.valueError(c.Pos, el, "I/O Ports are only available on x86")
				continue
			}
			if io := p.ioport(c); io != nil {
				pd.IOPorts = append(pd.IOPorts, io)
			}
		case "setvar":
			p.attrs(c, []string{"symbol", "region_paddr"}, nil)
			sym, ok1 := p.required(c, "symbol")
			reg, ok2 := p.required(c, "region_paddr")
			if ok1 && ok2 {
				pd.Setvars = append(pd.Setvars, &Setvar{Symbol: sym, RegionPaddr: reg, El: c})
			}
		case "protection_domain":
			if child := p.pd(c, pd, s); child != nil {
				pd.Children = append(pd.Children, child)
			}
		case "virtual_machine":
			if !p.t.Hypervisor && p.has("vm_check") {
				p.valueError(c.Pos, el, "seL4 has not been built as a hypervisor, virtual machines are disabled")
				continue
			}
			if pd.VM != nil {
				p.valueError(c.Pos, el, "virtual_machine must only be specified once")
				continue
			}
			pd.VM = p.vm(c)
		case "cspace":
			if !p.has("cspace") {
				p.errorf(c.Pos, "Invalid XML element '%s' (it needs %s)", c.Name, p.t.since("cspace"))
				continue
			}
			if pd.CSpaceEl != nil {
				p.valueError(c.Pos, el, "cspace must only be specified once")
				continue
			}
			pd.CSpaceEl = c
			pd.Caps = p.cspace(c)
		default:
			p.errorf(c.Pos, "Invalid XML element '%s'", c.Name)
		}
	}
	if !programSeen {
		p.errorf(el.Pos, "missing 'program_image' element on protection_domain: '%s'", pd.Name)
	}
	return pd
}

func (p *parser) checkDomainAttr(pd *PD, s *System) {
	el := pd.El
	if s.Domains != nil {
		if pd.Domain == "" {
			p.errorf(el.Pos, "Missing required attribute 'domain' on element '%s'", el.Name)
			return
		}
		for _, d := range s.Domains.Domains {
			if d.Name == pd.Domain {
				return
			}
		}
		p.valueError(el.At("domain"), el, "domain '%s' not declared in <domains>:", pd.Domain)
		return
	}
	if pd.Domain != "" {
		p.valueError(el.At("domain"), el, "Specifying a domain '%s' without declaring a domain schedule is not allowed:", pd.Domain)
	}
}

func (p *parser) mapping(el *Element, pdMap bool, limit uint64) *Map {
	allowed := []string{"mr", "vaddr", "perms", "cached"}
	gated := map[string]string{}
	if pdMap {
		allowed = append(allowed, "setvar_vaddr", "setvar_size")
		if p.has("setvar_prefill_size") {
			allowed = append(allowed, "setvar_prefill_size")
		} else {
			gated["setvar_prefill_size"] = "setvar_prefill_size"
		}
	}
	p.attrs(el, allowed, gated)
	m := &Map{El: el, Perms: "rw", Cached: true}
	mr, ok1 := p.required(el, "mr")
	m.MR = mr
	vaddr, ok2 := p.requiredNumber(el, "vaddr")
	m.Vaddr = vaddr
	if ok2 && vaddr >= limit {
		p.valueError(el.At("vaddr"), el, "vaddr (%#x) must be less than %#x", vaddr, limit)
		ok2 = false
	}
	if a, ok := el.Attr("perms"); ok {
		var r, w, x bool
		valid := true
		for _, c := range a.Value {
			switch c {
			case 'r':
				r = true
			case 'w':
				w = true
			case 'x':
				x = true
			default:
				valid = false
			}
		}
		switch {
		case !valid:
			p.valueError(a.Pos, el, "perms must only be a combination of 'r', 'w', and 'x'")
		case w && !r && !x:
			p.valueError(a.Pos, el, "perms must not be 'w', write-only mappings are not allowed")
		case !r && !w && !x:
			// Upstream accepts perms="" and maps the region with no rights.
			p.valueError(a.Pos, el, "perms must not be empty (the Microkit tool would map the region with no rights)")
		}
		m.Perms = canonicalPerms(r, w, x)
	}
	m.Cached = p.boolean(el, "cached", true)
	m.SetvarVaddr = attrValue(el, "setvar_vaddr")
	m.SetvarSize = attrValue(el, "setvar_size")
	m.SetvarPrefillSize = attrValue(el, "setvar_prefill_size")
	if !ok1 || !ok2 {
		return nil
	}
	return m
}

func canonicalPerms(r, w, x bool) string {
	s := ""
	if r {
		s += "r"
	}
	if w {
		s += "w"
	}
	if x {
		s += "x"
	}
	return s
}

func (p *parser) cspace(el *Element) []*Cap {
	p.attrs(el, nil, nil)
	var caps []*Cap
	for _, c := range el.Children {
		var typ string
		switch c.Name {
		case "cap_tcb":
			typ = "tcb"
		case "cap_sc":
			typ = "sc"
		case "cap_vspace":
			typ = "vspace"
		default:
			if t, ok := strings.CutPrefix(c.Name, "cap_"); ok {
				p.errorf(c.Pos, "Cap type: '%s' is not supported", t)
			} else {
				p.errorf(c.Pos, "Element '%s' is not supported in a <cspace> element", c.Name)
			}
			continue
		}
		p.attrs(c, []string{"slot", "pd"}, nil)
		pd, ok1 := p.required(c, "pd")
		slot, ok2 := p.requiredNumber(c, "slot")
		if ok2 && slot == 0 {
			p.valueError(c.At("slot"), c, "The destination slot 0 has been reserved for Microkit CNode")
			ok2 = false
		}
		if ok2 && slot >= MaxCapSlot {
			p.valueError(c.At("slot"), c, "There are only %d destination cspace slots available.", MaxCapSlot)
			ok2 = false
		}
		if ok1 && ok2 {
			caps = append(caps, &Cap{Type: typ, PD: pd, Slot: slot, El: c})
		}
	}
	return caps
}
