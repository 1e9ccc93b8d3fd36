package sdf

// Interrupts (ARM/RISC-V, x86 IOAPIC and MSI) and x86 I/O ports.

import (
	"fmt"
	"strconv"
	"strings"
)

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
