package sdf

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/safename"
)

// Limits Microkit sets (tool/microkit/src/sdf.rs, lib.rs, libmicrokit).
const (
	MaxPDs          = 63
	MaxID           = 61 // channel, IRQ, I/O port and vCPU ids: badge bits 0..61
	MaxPriority     = 254
	MaxCapSlot      = 128
	MinStack        = 0x1000
	MaxStack        = 0x1000000
	MaxX86Vector    = 107
	MaxIOVA         = 1<<39 - 1
	DefaultBudget   = 1000
	MaxNameLen      = 64
	smallPage       = 0x1000
	largePage       = 0x200000
	monitorName     = "monitor"
	defaultPriority = 0
)

// parser turns Elements into the model, reporting what is wrong with each
// element and going on: every problem of a file is reported in one run.
type parser struct {
	t    Target
	d    *diag.List
	feat map[string]bool // Target.Has, worked out once
}

func (p *parser) has(feature string) bool {
	v, ok := p.feat[feature]
	if !ok {
		panic("sdf: unknown feature " + feature)
	}
	return v
}

// Parse reads a system description and checks it against t: every element,
// every attribute, and every whole-system rule. It returns the model (nil
// only when the XML itself is broken); problems go to d.
func Parse(file string, data []byte, t Target, d *diag.List) *System {
	root, bad := parseXML(file, data)
	if bad != nil {
		d.Errorf(bad.Pos, "%s", bad.Message)
		return nil
	}
	p := &parser{t: t, d: d, feat: map[string]bool{}}
	for f := range features {
		p.feat[f] = t.Has(f)
	}
	s := p.system(file, root)
	if s != nil {
		Check(s, t, d)
	}
	return s
}

func (p *parser) errorf(pos diag.Pos, format string, args ...any) {
	p.d.Errorf(pos, format, args...)
}

// valueError words a problem with an element the way the Microkit tool does.
func (p *parser) valueError(pos diag.Pos, el *Element, format string, args ...any) {
	p.d.Errorf(pos, "%s on element '%s'", fmt.Sprintf(format, diag.ClipArgs(args)...), diag.Clip(el.Name))
}

// attrs reports attributes the element does not take. gated names attributes
// that exist only from some Microkit version on, with that feature's name.
func (p *parser) attrs(el *Element, allowed []string, gated map[string]string) {
	for _, a := range el.Attrs {
		ok := false
		for _, n := range allowed {
			if n == a.Name {
				ok = true
			}
		}
		if ok {
			continue
		}
		if f, isGated := gated[a.Name]; isGated && !p.has(f) {
			p.valueError(a.Pos, el, "invalid attribute '%s' (it needs %s)", a.Name, p.t.since(f))
			continue
		}
		if _, isGated := gated[a.Name]; isGated {
			continue
		}
		p.valueError(a.Pos, el, "invalid attribute '%s'", a.Name)
	}
}

// required returns a required attribute, reporting its absence.
func (p *parser) required(el *Element, name string) (string, bool) {
	a, ok := el.Attr(name)
	if !ok {
		p.errorf(el.Pos, "Missing required attribute '%s' on element '%s'", name, el.Name)
		return "", false
	}
	return a.Value, true
}

// parseNumber reads an "sdf number": decimal, or hex after 0x, with _
// separators, as the Microkit tool does.
func parseNumber(s string) (uint64, error) {
	t := strings.ReplaceAll(s, "_", "")
	base := 10
	if strings.HasPrefix(t, "0x") {
		t, base = t[2:], 16
	}
	t = strings.TrimPrefix(t, "+")
	if t == "" {
		return 0, fmt.Errorf("cannot parse integer from empty string")
	}
	if strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("invalid digit found in string")
	}
	v, err := strconv.ParseUint(t, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("number too large to fit in target type")
		}
		return 0, fmt.Errorf("invalid digit found in string")
	}
	return v, nil
}

// number reads an optional sdf-number attribute; ok is false when it is
// absent or malformed (malformed is reported).
func (p *parser) number(el *Element, name string) (v uint64, present, ok bool) {
	a, present := el.Attr(name)
	if !present {
		return 0, false, false
	}
	v, err := parseNumber(a.Value)
	if err != nil {
		p.errorf(a.Pos, "failed to parse integer '%s' on element '%s': %v", a.Value, el.Name, err)
		return 0, true, false
	}
	return v, true, true
}

// requiredNumber reads a required sdf-number attribute.
func (p *parser) requiredNumber(el *Element, name string) (uint64, bool) {
	if _, ok := p.required(el, name); !ok {
		return 0, false
	}
	v, _, ok := p.number(el, name)
	return v, ok
}

// decimal reads an attribute the Microkit tool parses as a plain decimal
// (and panics on anything else): plinth reports the problem instead.
func (p *parser) decimal(el *Element, name string, required bool) (v int64, present, ok bool) {
	a, present := el.Attr(name)
	if !present {
		if required {
			p.errorf(el.Pos, "Missing required attribute '%s' on element '%s'", name, el.Name)
		}
		return 0, false, false
	}
	v, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		p.valueError(a.Pos, el, "%s '%s' must be a decimal integer (the Microkit tool reads %s as decimal only and stops with a panic on anything else)", name, a.Value, name)
		return 0, true, false
	}
	return v, true, true
}

// boolean reads true or false.
func (p *parser) boolean(el *Element, name string, def bool) bool {
	a, ok := el.Attr(name)
	if !ok {
		return def
	}
	switch a.Value {
	case "true":
		return true
	case "false":
		return false
	}
	p.valueError(a.Pos, el, "%s must be 'true' or 'false'", name)
	return def
}

func (p *parser) system(file string, root *Element) *System {
	if root.Name != "system" {
		// Upstream unwraps here and panics.
		p.errorf(root.Pos, "the root element must be <system>, not <%s>", root.Name)
		return nil
	}
	s := &System{File: file, El: root}
	p.attrs(root, nil, nil)
	p.noText(root)
	var channels []*Element
	for _, c := range root.Children {
		switch c.Name {
		case "protection_domain":
			if pd := p.pd(c, nil, s); pd != nil {
				s.PDs = append(s.PDs, pd)
			}
		case "memory_region":
			if mr := p.mr(c); mr != nil {
				s.MRs = append(s.MRs, mr)
			}
		case "channel":
			channels = append(channels, c)
		case "io_address_space":
			if !p.has("io_address_space") {
				p.errorf(c.Pos, "invalid XML element '%s' (it needs %s)", c.Name, p.t.since("io_address_space"))
				continue
			}
			if sp := p.ioSpace(c); sp != nil {
				s.IOSpaces = append(s.IOSpaces, sp)
			}
		case "virtual_machine":
			p.errorf(c.Pos, "virtual machine must be a child of a protection domain")
		case "domains":
			if !p.has("domains") {
				p.errorf(c.Pos, "invalid XML element '%s' (it needs %s)", c.Name, p.t.since("domains"))
				continue
			}
			if s.Domains != nil {
				p.valueError(c.Pos, c, "domains must only be specified once")
				continue
			}
			s.Domains = p.domains(c)
			if s.Domains != nil && p.seenPD(s) {
				// Microkit reads <domains> in file order: PDs before it
				// cannot name a domain.
				p.d.Warnf(c.Pos, "<domains> comes after protection domains; the Microkit tool rejects their domain attributes — put <domains> first")
			}
		default:
			p.errorf(c.Pos, "invalid XML element '%s'", c.Name)
		}
	}
	for _, c := range channels {
		if ch := p.channel(c); ch != nil {
			s.Channels = append(s.Channels, ch)
		}
	}
	return s
}

func (p *parser) seenPD(s *System) bool { return len(s.PDs) > 0 }

// noText reports text directly inside <system>, as the tool does.
func (p *parser) noText(root *Element) {
	if root.Text != "" {
		p.errorf(root.TextPos, "unexpected text found in element '%s'", root.Name)
	}
}

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

func attrValue(el *Element, name string) string {
	a, _ := el.Attr(name)
	return a.Value
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

func (p *parser) irq(el *Element) *IRQ {
	q := &IRQ{El: el, Trigger: "level", Polarity: "high"}
	id, _, idOK := p.decimal(el, "id", true)
	if idOK {
		switch {
		case id > MaxID:
			p.valueError(el.At("id"), el, "id must be < %d", MaxID+1)
			idOK = false
		case id < 0:
			p.valueError(el.At("id"), el, "id must be >= 0")
			idOK = false
		}
		q.ID = uint64(id)
	}
	if p.has("setvar_id") {
		q.SetvarID = attrValue(el, "setvar_id")
	}
	setvarGate := map[string]string{"setvar_id": "setvar_id"}
	withSetvar := func(names ...string) []string {
		if p.has("setvar_id") {
			return append(names, "setvar_id")
		}
		return names
	}
	trigger := func() {
		if a, ok := el.Attr("trigger"); ok {
			if a.Value != "level" && a.Value != "edge" {
				p.valueError(a.Pos, el, "trigger must be either 'level' or 'edge'")
			} else {
				q.Trigger = a.Value
			}
		}
	}
	_, hasIRQ := el.Attr("irq")
	_, hasPin := el.Attr("pin")
	_, hasPCI := el.Attr("pcidev")
	switch {
	case hasIRQ:
		if p.t.Arch == "x86_64" {
			p.valueError(el.At("irq"), el, "ARM and RISC-V IRQs are not supported on x86")
			return nil
		}
		p.attrs(el, withSetvar("irq", "id", "trigger"), setvarGate)
		q.Kind = IRQConventional
		n, _, ok := p.decimal(el, "irq", true)
		if ok && n < 0 {
			p.valueError(el.At("irq"), el, "irq must be >= 0 (the Microkit tool stops with a panic on a negative irq)")
			ok = false
		}
		q.Number = uint64(n)
		trigger()
		if !ok || !idOK {
			return nil
		}
	case hasPin && p.has("x86"):
		if p.t.Arch != "x86_64" {
			p.valueError(el.At("pin"), el, "x86 I/O APIC IRQ isn't supported on ARM and RISC-V")
			return nil
		}
		p.attrs(el, withSetvar("id", "ioapic", "pin", "trigger", "polarity", "vector"), setvarGate)
		q.Kind = IRQIOAPIC
		if v, present, ok := p.decimal(el, "ioapic", false); present && ok {
			if v < 0 {
				p.valueError(el.At("ioapic"), el, "ioapic must be >= 0")
			}
			q.IOAPIC = uint64(max(v, 0))
		}
		pin, _, pinOK := p.decimal(el, "pin", true)
		if pinOK && pin < 0 {
			p.valueError(el.At("pin"), el, "pin must be >= 0")
			pinOK = false
		}
		q.Pin = uint64(max(pin, 0))
		trigger()
		if a, ok := el.Attr("polarity"); ok {
			if a.Value != "low" && a.Value != "high" {
				p.valueError(a.Pos, el, "polarity must be either 'low' or 'high'")
			} else {
				q.Polarity = a.Value
			}
		}
		vec, vecOK := p.vector(el)
		q.Vector = vec
		if !idOK || !pinOK || !vecOK {
			return nil
		}
	case hasPCI && p.has("x86"):
		if p.t.Arch != "x86_64" {
			p.valueError(el.At("pcidev"), el, "x86 MSI IRQ isn't supported on ARM and RISC-V")
			return nil
		}
		p.attrs(el, withSetvar("id", "pcidev", "handle", "vector"), setvarGate)
		q.Kind = IRQMSI
		dev, err := parsePCIDev(attrValue(el, "pcidev"))
		if err != nil {
			p.valueError(el.At("pcidev"), el, "%v", err)
		}
		q.PCIDev = dev
		h, _, hOK := p.decimal(el, "handle", true)
		if hOK && h < 0 {
			p.valueError(el.At("handle"), el, "handle must be >= 0")
			hOK = false
		}
		q.Handle = uint64(max(h, 0))
		vec, vecOK := p.vector(el)
		q.Vector = vec
		if err != nil || !idOK || !hOK || !vecOK {
			return nil
		}
	default:
		if p.t.Arch == "x86_64" {
			p.errorf(el.Pos, "Missing required attribute 'pin' on element '%s'", el.Name)
		} else {
			p.attrs(el, withSetvar("irq", "id", "trigger"), setvarGate)
			p.errorf(el.Pos, "Missing required attribute 'irq' on element '%s'", el.Name)
		}
		return nil
	}
	return q
}

func (p *parser) vector(el *Element) (uint64, bool) {
	v, _, ok := p.decimal(el, "vector", true)
	if ok && (v < 0 || v > MaxX86Vector) {
		p.valueError(el.At("vector"), el, "vector must be within [0..%d]", MaxX86Vector)
		return 0, false
	}
	return uint64(max(v, 0)), ok
}

// parsePCIDev reads bus:device.function in hex.
func parsePCIDev(s string) ([3]uint64, error) {
	var out [3]uint64
	bus, rest, ok1 := strings.Cut(s, ":")
	dev, fn, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return out, fmt.Errorf("expected PCI address in bus:device.function form")
	}
	limits := [3]uint64{255, 31, 7}
	names := [3]string{"bus", "device", "function"}
	for i, part := range []string{bus, dev, fn} {
		v, err := strconv.ParseInt(strings.TrimSpace(part), 16, 64)
		if err != nil {
			return out, fmt.Errorf("failed to parse PCI %s", names[i])
		}
		if v < 0 || uint64(v) > limits[i] {
			return out, fmt.Errorf("PCI %s must be within [0..%d]", names[i], limits[i])
		}
		out[i] = uint64(v)
	}
	return out, nil
}

func (p *parser) ioport(el *Element) *IOPort {
	p.attrs(el, []string{"id", "setvar_id", "setvar_addr", "addr", "size"}, nil)
	io := &IOPort{El: el, SetvarID: attrValue(el, "setvar_id"), SetvarAddr: attrValue(el, "setvar_addr")}
	id, _, idOK := p.decimal(el, "id", true)
	if idOK && (id > MaxID || id < 0) {
		if id < 0 {
			p.valueError(el.At("id"), el, "id must be >= 0")
		} else {
			p.valueError(el.At("id"), el, "id must be < %d", MaxID+1)
		}
		idOK = false
	}
	io.ID = uint64(max(id, 0))
	addr, addrOK := p.requiredNumber(el, "addr")
	io.Addr = addr
	size, _, sizeOK := p.decimal(el, "size", true)
	if sizeOK && size <= 0 {
		p.valueError(el.At("size"), el, "size must be > 0")
		sizeOK = false
	}
	io.Size = uint64(max(size, 0))
	if !idOK || !addrOK || !sizeOK {
		return nil
	}
	return io
}

func (p *parser) vm(el *Element) *VM {
	sched := p.t.Arch == "aarch64" || !p.has("x86_vm_no_sched")
	if sched {
		p.attrs(el, []string{"name", "budget", "period", "priority"}, nil)
	} else {
		p.attrs(el, []string{"name"}, nil)
	}
	vm := &VM{El: el, Budget: DefaultBudget}
	vm.Name, _ = p.required(el, "name")
	if sched {
		if v, present, ok := p.number(el, "budget"); present && ok {
			vm.Budget = v
		}
		vm.Period = vm.Budget
		if v, present, ok := p.number(el, "period"); present && ok {
			vm.Period = v
		}
		if vm.Budget > vm.Period {
			p.valueError(el.At("budget"), el, "budget (%d) must be less than, or equal to, period (%d)", vm.Budget, vm.Period)
		}
		if v, present, ok := p.number(el, "priority"); present && ok {
			vm.Priority = v
			if v > MaxPriority {
				// The tool casts it to a byte without a check.
				p.valueError(el.At("priority"), el, "priority must be between 0 and %d (the Microkit tool does not check a VM's priority and truncates it to a byte)", MaxPriority)
			}
		}
	}
	for _, c := range el.Children {
		switch c.Name {
		case "vcpu":
			allowed := []string{"id"}
			gated := map[string]string{"setvar_id": "setvar_id", "cpu": "cpu"}
			if p.has("cpu") {
				allowed = append(allowed, "cpu", "setvar_id")
			}
			p.attrs(c, allowed, gated)
			v := &VCPU{El: c}
			id, _, ok := p.decimal(c, "id", true)
			if ok && (id < 0 || id > MaxID) {
				p.valueError(c.At("id"), c, "id must be < %d", MaxID+1)
				ok = false
			}
			v.ID = uint64(max(id, 0))
			if ok {
				for _, other := range vm.VCPUs {
					if other.ID == v.ID {
						p.errorf(c.Pos, "duplicate vcpu id %d in virtual machine '%s' (first at %s)", v.ID, vm.Name, other.El.Pos)
						ok = false
					}
				}
			}
			v.SetvarID = attrValue(c, "setvar_id")
			if p.has("cpu") {
				if cpu, present, cok := p.number(c, "cpu"); present && cok {
					v.CPU = &cpu
					if cpu >= uint64(p.t.Cores) {
						p.valueError(c.At("cpu"), c, "cpu core must be less than %d, got %d", p.t.Cores, cpu)
					}
				}
			}
			if ok {
				vm.VCPUs = append(vm.VCPUs, v)
			}
		case "map":
			if m := p.mapping(c, false, p.t.VMMapLimit()); m != nil {
				vm.Maps = append(vm.Maps, m)
			}
		default:
			p.errorf(c.Pos, "invalid XML element '%s'", c.Name)
		}
	}
	if len(vm.VCPUs) == 0 && !hasChild(el, "vcpu") {
		p.errorf(el.Pos, "missing 'vcpu' element on virtual_machine: '%s'", vm.Name)
	}
	if p.t.Arch == "x86_64" && len(vm.VCPUs) > 1 {
		// The tool asserts here and panics.
		p.errorf(el.Pos, "a virtual machine on x86_64 has exactly one vcpu, '%s' has %d (the Microkit tool stops with a panic)", vm.Name, len(vm.VCPUs))
	}
	return vm
}

func hasChild(el *Element, name string) bool {
	for _, c := range el.Children {
		if c.Name == name {
			return true
		}
	}
	return false
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

var bootinfoKinds = []string{"x86_vbe", "x86_mbmmap", "x86_acpi_rsdp", "x86_framebuffer", "x86_tsc_freq", "fdt"}

func (p *parser) mr(el *Element) *MR {
	allowed := []string{"name", "size", "page_size", "phys_addr"}
	gated := map[string]string{"prefill_path": "prefill_path", "prefill_bootinfo": "prefill_bootinfo"}
	for k, f := range gated {
		if p.has(f) {
			allowed = append(allowed, k)
		}
	}
	p.attrs(el, allowed, gated)
	mr := &MR{El: el, PageSize: smallPage}
	var ok bool
	mr.Name, ok = p.required(el, "name")
	if v, present, vok := p.number(el, "page_size"); present {
		mr.PageSizeGiven = true
		if vok {
			mr.PageSize = v
			if v != smallPage && v != largePage {
				p.valueError(el.At("page_size"), el, "page size %#x not supported", v)
				mr.PageSize = smallPage
			}
		}
	}
	prefill := -1
	if p.has("prefill_path") {
		if a, has := el.Attr("prefill_path"); has {
			mr.PrefillPath = a.Value
			prefill = p.prefillSize(el, a)
			mr.PrefillSize = max(prefill, 0)
		}
	}
	if p.has("prefill_bootinfo") {
		if a, has := el.Attr("prefill_bootinfo"); has {
			mr.PrefillBootinfo = a.Value
			known := false
			for _, k := range bootinfoKinds {
				known = known || k == a.Value
			}
			if !known {
				p.valueError(a.Pos, el, "BootInfoMap type: '%s' is not supported", a.Value)
			}
			if mr.PrefillPath != "" {
				p.valueError(a.Pos, el, "prefill_path and prefill_bootinfo cannot be both specified")
			}
		}
	}
	if v, present, vok := p.number(el, "size"); present {
		mr.SizeGiven = true
		if vok {
			mr.Size = v
			if v%mr.PageSize != 0 {
				p.valueError(el.At("size"), el, "size is not a multiple of the page size")
			}
			if prefill > 0 && uint64(prefill) > v {
				p.valueError(el.At("size"), el, "size of prefill file exceeds memory region size: %x > %x", prefill, v)
			}
		} else {
			ok = false
		}
	} else {
		switch {
		case mr.PrefillBootinfo != "":
			mr.Size = mr.PageSize
		case mr.PrefillPath != "":
			mr.Size = (uint64(max(prefill, 0)) + mr.PageSize - 1) / mr.PageSize * mr.PageSize
		case !p.has("prefill_path"):
			p.errorf(el.Pos, "Missing required attribute 'size' on element '%s'", el.Name)
			ok = false
		default:
			p.valueError(el.Pos, el, "size must be specified if memory region is not prefilled")
			ok = false
		}
	}
	if v, present, vok := p.number(el, "phys_addr"); present && vok {
		mr.PhysAddr = &v
		if v%mr.PageSize != 0 {
			p.valueError(el.At("phys_addr"), el, "phys_addr is not aligned to the page size")
		}
	}
	// A region with a bad size stays in the model (with what could be
	// read), so the maps naming it are not reported as naming nothing.
	if mr.Name == "" {
		return nil
	}
	_ = ok
	return mr
}

// prefillSize finds and reads a prefill file: its size, or -1 after
// reporting a problem (0 when files are not looked at).
func (p *parser) prefillSize(el *Element, a Attr) int {
	if p.t.SearchPaths == nil {
		return 0
	}
	if err := safename.RelPath(path.Clean(a.Value)); err != nil {
		p.valueError(a.Pos, el, "prefill_path: %v (a prefill file is looked up in the search path; plinth is stricter than the Microkit tool here)", err)
		return -1
	}
	for _, dir := range p.t.SearchPaths {
		path := filepath.Join(dir, a.Value)
		info, err := os.Stat(path)
		if err != nil || info.IsDir() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			p.valueError(a.Pos, el, "failed to read file '%s' at prefill_path", a.Value)
			return -1
		}
		if len(data) == 0 {
			p.valueError(a.Pos, el, "prefill file '%s' is empty", a.Value)
			return -1
		}
		return len(data)
	}
	p.valueError(a.Pos, el, "unable to find prefill file: '%s'", a.Value)
	return -1
}

func (p *parser) channel(el *Element) *Channel {
	p.attrs(el, nil, nil)
	ch := &Channel{El: el}
	var ends []*End
	bad := false
	for _, c := range el.Children {
		if c.Name != "end" {
			p.errorf(c.Pos, "invalid XML element '%s'", c.Name)
			bad = true
			continue
		}
		allowed := []string{"pd", "id", "pp", "notify"}
		if p.has("setvar_id") {
			allowed = append(allowed, "setvar_id")
		}
		p.attrs(c, allowed, map[string]string{"setvar_id": "setvar_id"})
		e := &End{El: c, Notify: true}
		pd, ok1 := p.required(c, "pd")
		e.PD = pd
		id, _, ok2 := p.decimal(c, "id", true)
		if ok2 && id > MaxID {
			p.valueError(c.At("id"), c, "id must be < %d", MaxID+1)
			ok2 = false
		}
		if ok2 && id < 0 {
			p.valueError(c.At("id"), c, "id must be >= 0")
			ok2 = false
		}
		e.ID = uint64(max(id, 0))
		e.Notify = p.boolean(c, "notify", true)
		e.PP = p.boolean(c, "pp", false)
		e.SetvarID = attrValue(c, "setvar_id")
		if !ok1 || !ok2 {
			bad = true
		}
		ends = append(ends, e)
	}
	if len(ends) != 2 {
		p.valueError(el.Pos, el, "exactly two end elements must be specified")
		return nil
	}
	if ends[0].PP && ends[1].PP {
		p.valueError(el.Pos, el, "cannot ppc bidirectionally")
		bad = true
	}
	if bad {
		return nil
	}
	ch.Ends = [2]*End{ends[0], ends[1]}
	return ch
}

func (p *parser) ioSpace(el *Element) *IOSpace {
	if !p.t.IOMMU {
		p.errorf(el.Pos, "io address space requires seL4 to be built with IOMMU support")
		return nil
	}
	p.attrs(el, []string{"name", "peripheral_id", "domain_id"}, nil)
	sp := &IOSpace{El: el}
	var ok bool
	sp.Name, ok = p.required(el, "name")
	if p.t.Arch == "x86_64" {
		if v, vok := p.requiredNumber(el, "domain_id"); vok {
			sp.DomainID = &v
		}
	}
	id, idOK := p.required(el, "peripheral_id")
	sp.PeripheralID = id
	if idOK {
		if p.t.Arch != "x86_64" {
			p.valueError(el.At("peripheral_id"), el, "failed to parse device peripheral_id '%s': IOMMU device identifiers are not supported on %s", id, p.t.Arch)
		} else if _, err := parsePCIDev(id); err != nil {
			p.valueError(el.At("peripheral_id"), el, "failed to parse device peripheral_id '%s': %v", id, err)
		}
	}
	for _, c := range el.Children {
		if c.Name != "iomap" {
			p.errorf(c.Pos, "invalid XML element '%s'", c.Name)
			continue
		}
		p.attrs(c, []string{"mr", "iovaddr", "perms"}, nil)
		m := &IOMap{El: c, Perms: "rw"}
		mr, ok1 := p.required(c, "mr")
		m.MR = mr
		iova, ok2 := p.requiredNumber(c, "iovaddr")
		m.IOVaddr = iova
		if ok2 && iova > MaxIOVA {
			p.valueError(c.At("iovaddr"), c, "iovaddr (%#x) must be less than %#x", iova, uint64(MaxIOVA+1))
			ok2 = false
		}
		if a, has := c.Attr("perms"); has {
			r, w, valid := false, false, true
			for _, ch := range a.Value {
				switch ch {
				case 'r':
					r = true
				case 'w':
					w = true
				default:
					valid = false
				}
			}
			if !valid || (!r && !w) {
				p.valueError(a.Pos, c, "perms for io mapped memory must only be a combination of 'r' and 'w'")
			} else {
				m.Perms = canonicalPerms(r, w, false)
			}
		}
		if ok1 && ok2 {
			sp.Maps = append(sp.Maps, m)
		}
	}
	if !ok {
		return nil
	}
	return sp
}

func (p *parser) domains(el *Element) *Domains {
	p.attrs(el, nil, nil)
	if p.t.Cores != 1 {
		p.errorf(el.Pos, "The domain scheduler is not supported in multicore builds of seL4")
	}
	ds := &Domains{El: el}
	var schedule *Element
	for _, c := range el.Children {
		switch c.Name {
		case "domain":
			p.attrs(c, []string{"name", "id"}, nil)
			d := &Domain{El: c}
			var ok bool
			d.Name, ok = p.required(c, "name")
			if v, present, vok := p.number(c, "id"); present && vok {
				d.ID = &v
				if v >= uint64(p.t.NumDomains) {
					p.valueError(c.At("id"), c, "domain id %d should be less than the configured KernelNumDomains value of %d", v, p.t.NumDomains)
				}
			}
			for _, other := range ds.Domains {
				if other.Name == d.Name {
					p.valueError(c.Pos, c, "Each <domain>'s name element must be unique found existing domain '%s' (first at %s)", d.Name, other.El.Pos)
					ok = false
				}
				if d.ID != nil && other.ID != nil && *other.ID == *d.ID {
					p.valueError(c.At("id"), c, "Each <domain>'s id element must be unique found existing domain '%s' with id '%d'", other.Name, *d.ID)
				}
			}
			if ok {
				ds.Domains = append(ds.Domains, d)
			}
		case "domain_schedule":
			if schedule != nil {
				p.valueError(c.Pos, c, "The <domain_schedule> element can only appear once")
				continue
			}
			schedule = c
		default:
			p.errorf(c.Pos, "invalid XML element as child of <domains> '%s'", c.Name)
		}
	}
	// Auto-assigned ids: in file order, the lowest free id — deterministic,
	// unlike the Microkit tool's, which follows a HashMap's random order.
	used := map[uint64]bool{}
	for _, d := range ds.Domains {
		if d.ID != nil {
			used[*d.ID] = true
		}
	}
	for _, d := range ds.Domains {
		if d.ID != nil {
			continue
		}
		free := uint64(0)
		for used[free] {
			free++
		}
		if free >= uint64(p.t.NumDomains) {
			p.valueError(d.El.Pos, el, "Number of domains exceeds %d", p.t.NumDomains)
			break
		}
		used[free] = true
	}
	if schedule == nil {
		p.valueError(el.Pos, el, "The <domain_schedule> element must appear once")
		return ds
	}
	ds.ScheduleEl = schedule
	p.attrs(schedule, []string{"index_shift", "start_index"}, nil)
	if v, present, ok := p.number(schedule, "start_index"); present && ok {
		ds.StartIndex = v
	}
	if v, present, ok := p.number(schedule, "index_shift"); present && ok {
		ds.IndexShift = &v
	}
	for _, c := range schedule.Children {
		switch c.Name {
		case "schedule_entry":
			p.attrs(c, []string{"domain", "duration"}, nil)
			e := &ScheduleEntry{El: c}
			dom, ok1 := p.required(c, "domain")
			dur, ok2 := p.required(c, "duration")
			e.Domain = dom
			if ok1 {
				found := false
				for _, d := range ds.Domains {
					found = found || d.Name == dom
				}
				if !found {
					p.valueError(c.At("domain"), c, "domain '%s' does not exist,", dom)
				}
			}
			if ok2 {
				raw, unit, cut := strings.Cut(dur, " ")
				if !cut {
					p.valueError(c.At("duration"), c, "The duration '%s' must contain a value and a unit, e.g. '1000 us'", dur)
				} else {
					v, err := parseNumber(raw)
					switch {
					case err != nil:
						p.errorf(c.At("duration"), "failed to parse integer '%s' on element '%s': %v", raw, c.Name, err)
					case v == 0:
						p.valueError(c.At("duration"), c, "The duration '%s' must be non-zero", dur)
					case unit != "us" && unit != "ticks":
						p.valueError(c.At("duration"), c, "The duration '%s' must be in either 'ticks' or 'us'", dur)
					}
					e.Duration, e.Unit = v, unit
				}
			}
			ds.Schedule = append(ds.Schedule, e)
		case "schedule_end_marker":
			p.attrs(c, nil, nil)
			ds.Schedule = append(ds.Schedule, &ScheduleEntry{EndMarker: true, El: c})
		default:
			p.errorf(c.Pos, "invalid XML element as child of <domain_schedule> '%s'", c.Name)
		}
	}
	n := uint64(len(ds.Schedule))
	if n >= uint64(p.t.NumDomainSchedules) {
		p.errorf(schedule.Pos, "More than configured KernelNumDomainSchedules %d number of <schedule_entry> elements found", p.t.NumDomainSchedules)
	}
	if ds.StartIndex >= n {
		p.valueError(schedule.At("start_index"), schedule, "schedule_start_index '%d' is greater than the length of the schedule '%d'", ds.StartIndex, n)
	}
	if ds.IndexShift != nil && *ds.IndexShift+n >= uint64(p.t.NumDomainSchedules) {
		p.valueError(schedule.At("index_shift"), schedule, "schedule_index_shift '%d' on top of the schedule length '%d' would exceed than the configured KernelNumDomainSchedules %d", *ds.IndexShift, n, p.t.NumDomainSchedules)
	}
	return ds
}
