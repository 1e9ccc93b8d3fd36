package sdf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
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

func attrValue(el *Element, name string) string {
	a, _ := el.Attr(name)
	return a.Value
}

func hasChild(el *Element, name string) bool {
	for _, c := range el.Children {
		if c.Name == name {
			return true
		}
	}
	return false
}

var bootinfoKinds = []string{"x86_vbe", "x86_mbmmap", "x86_acpi_rsdp", "x86_framebuffer", "x86_tsc_freq", "fdt"}
