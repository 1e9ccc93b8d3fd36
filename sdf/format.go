package sdf

import (
	"fmt"
	"strconv"
	"strings"
)

// Format writes the system in plinth's canonical form: an XML declaration,
// four-space indentation, the children of <system> grouped (domains, memory
// regions, protection domains, channels, IO address spaces) in their file
// order, the children of each PD grouped, attributes in a fixed order,
// addresses and sizes in hex, and comments kept with the element they
// precede. Attributes are written when the source gave them (for systems
// built in Go: when they differ from the default), so the output means the
// same under every Microkit version the input did.
func Format(s *System) []byte {
	w := &writer{}
	w.line(0, `<?xml version="1.0" encoding="UTF-8"?>`)
	if s.El != nil {
		w.comments(0, s.El.Comments)
	}
	w.line(0, "<system>")
	if s.Domains != nil {
		w.domains(s.Domains)
	}
	for _, mr := range s.MRs {
		w.comments(1, commentsOf(mr.El))
		w.element(1, "memory_region", []attr{
			{"name", mr.Name, true},
			{"size", hex(mr.Size), mr.SizeGiven || mr.El == nil},
			{"page_size", hex(mr.PageSize), mr.PageSizeGiven},
			{"phys_addr", hexp(mr.PhysAddr), mr.PhysAddr != nil},
			{"prefill_path", mr.PrefillPath, mr.PrefillPath != ""},
			{"prefill_bootinfo", mr.PrefillBootinfo, mr.PrefillBootinfo != ""},
		}, nil)
	}
	for _, pd := range s.PDs {
		w.pd(1, pd)
	}
	for _, ch := range s.Channels {
		w.comments(1, commentsOf(ch.El))
		w.element(1, "channel", nil, func() {
			for _, e := range ch.Ends {
				w.comments(2, commentsOf(e.El))
				w.element(2, "end", []attr{
					{"pd", e.PD, true},
					{"id", dec(e.ID), true},
					{"pp", boolStr(e.PP), given(e.El, "pp", e.PP)},
					{"notify", boolStr(e.Notify), given(e.El, "notify", !e.Notify)},
					{"setvar_id", e.SetvarID, e.SetvarID != ""},
				}, nil)
			}
			w.comments(2, trailingOf(ch.El))
		})
	}
	for _, sp := range s.IOSpaces {
		w.comments(1, commentsOf(sp.El))
		w.element(1, "io_address_space", []attr{
			{"name", sp.Name, true},
			{"peripheral_id", sp.PeripheralID, true},
			{"domain_id", decp(sp.DomainID), sp.DomainID != nil},
		}, func() {
			for _, m := range sp.Maps {
				w.comments(2, commentsOf(m.El))
				w.element(2, "iomap", []attr{
					{"mr", m.MR, true},
					{"iovaddr", hex(m.IOVaddr), true},
					{"perms", m.Perms, given(m.El, "perms", m.Perms != "rw")},
				}, nil)
			}
			w.comments(2, trailingOf(sp.El))
		})
	}
	if s.El != nil {
		w.comments(1, s.El.Trailing)
	}
	w.line(0, "</system>")
	return []byte(w.b.String())
}

type writer struct{ b strings.Builder }

type attr struct {
	name, value string
	write       bool
}

func (w *writer) line(depth int, s string) {
	w.b.WriteString(strings.Repeat("    ", depth))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *writer) comments(depth int, cs []string) {
	for _, c := range cs {
		w.line(depth, "<!--"+c+"-->")
	}
}

// element writes <name attrs/> or, with a body, <name attrs> body </name>.
func (w *writer) element(depth int, name string, attrs []attr, body func()) {
	var sb strings.Builder
	sb.WriteString("<" + name)
	for _, a := range attrs {
		if a.write {
			sb.WriteString(" " + a.name + `="` + escape(a.value) + `"`)
		}
	}
	if body == nil {
		w.line(depth, sb.String()+" />")
		return
	}
	w.line(depth, sb.String()+">")
	body()
	w.line(depth, "</"+name+">")
}

func (w *writer) pd(depth int, pd *PD) {
	w.comments(depth, commentsOf(pd.El))
	attrs := []attr{{"name", pd.Name, true}}
	if pd.ID != nil {
		attrs = append(attrs, attr{"id", dec(*pd.ID), true})
	}
	attrs = append(attrs,
		attr{"priority", dec(pd.Priority), given(pd.El, "priority", pd.Priority != defaultPriority)},
		attr{"budget", dec(pd.Budget), given(pd.El, "budget", pd.Budget != DefaultBudget)},
		attr{"period", dec(pd.Period), given(pd.El, "period", pd.Period != pd.Budget)},
		attr{"passive", boolStr(pd.Passive), given(pd.El, "passive", pd.Passive)},
		attr{"stack_size", hex(pd.StackSize), given(pd.El, "stack_size", true)}, // a made PD says its stack: the default depends on the release
		attr{"cpu", dec(pd.CPU), given(pd.El, "cpu", pd.CPU != 0)},
		attr{"smc", boolStr(pd.SMC), given(pd.El, "smc", pd.SMC)},
		attr{"fpu", boolStr(pd.FPU), given(pd.El, "fpu", !pd.FPU)},
		attr{"domain", pd.Domain, pd.Domain != ""},
		attr{"setvar_id", pd.SetvarID, pd.SetvarID != ""},
	)
	w.element(depth, "protection_domain", attrs, func() {
		d := depth + 1
		if pd.Program != "" {
			w.element(d, "program_image", []attr{{"path", pd.Program, true}, {"path_for_symbols", pd.ProgramSymbols, pd.ProgramSymbols != ""}}, nil)
		}
		for _, m := range pd.Maps {
			w.mapping(d, m)
		}
		for _, q := range pd.IRQs {
			w.comments(d, commentsOf(q.El))
			w.element(d, "irq", irqAttrs(q), nil)
		}
		for _, io := range pd.IOPorts {
			w.comments(d, commentsOf(io.El))
			w.element(d, "ioport", []attr{
				{"id", dec(io.ID), true},
				{"addr", hex(io.Addr), true},
				{"size", dec(io.Size), true},
				{"setvar_id", io.SetvarID, io.SetvarID != ""},
				{"setvar_addr", io.SetvarAddr, io.SetvarAddr != ""},
			}, nil)
		}
		for _, sv := range pd.Setvars {
			w.comments(d, commentsOf(sv.El))
			w.element(d, "setvar", []attr{{"symbol", sv.Symbol, true}, {"region_paddr", sv.RegionPaddr, true}}, nil)
		}
		if pd.CSpaceEl != nil || len(pd.Caps) > 0 {
			w.comments(d, commentsOf(pd.CSpaceEl))
			w.element(d, "cspace", nil, func() {
				for _, cp := range pd.Caps {
					w.comments(d+1, commentsOf(cp.El))
					w.element(d+1, "cap_"+cp.Type, []attr{{"pd", cp.PD, true}, {"slot", dec(cp.Slot), true}}, nil)
				}
				w.comments(d+1, trailingOf(pd.CSpaceEl))
			})
		}
		if vm := pd.VM; vm != nil {
			w.comments(d, commentsOf(vm.El))
			w.element(d, "virtual_machine", []attr{
				{"name", vm.Name, true},
				{"priority", dec(vm.Priority), given(vm.El, "priority", vm.Priority != 0)},
				{"budget", dec(vm.Budget), given(vm.El, "budget", vm.Budget != DefaultBudget)},
				{"period", dec(vm.Period), given(vm.El, "period", vm.Period != vm.Budget)},
			}, func() {
				for _, v := range vm.VCPUs {
					w.comments(d+1, commentsOf(v.El))
					w.element(d+1, "vcpu", []attr{{"id", dec(v.ID), true}, {"cpu", decp(v.CPU), v.CPU != nil}, {"setvar_id", v.SetvarID, v.SetvarID != ""}}, nil)
				}
				for _, m := range vm.Maps {
					w.mapping(d+1, m)
				}
				w.comments(d+1, trailingOf(vm.El))
			})
		}
		for _, c := range pd.Children {
			w.pd(d, c)
		}
		w.comments(d, trailingOf(pd.El))
	})
}

func (w *writer) mapping(depth int, m *Map) {
	w.comments(depth, commentsOf(m.El))
	w.element(depth, "map", []attr{
		{"mr", m.MR, true},
		{"vaddr", hex(m.Vaddr), true},
		{"perms", m.Perms, given(m.El, "perms", m.Perms != "rw")},
		{"cached", boolStr(m.Cached), given(m.El, "cached", !m.Cached)},
		{"setvar_vaddr", m.SetvarVaddr, m.SetvarVaddr != ""},
		{"setvar_size", m.SetvarSize, m.SetvarSize != ""},
		{"setvar_prefill_size", m.SetvarPrefillSize, m.SetvarPrefillSize != ""},
	}, nil)
}

func irqAttrs(q *IRQ) []attr {
	attrs := []attr{{"id", dec(q.ID), true}}
	switch q.Kind {
	case IRQConventional:
		attrs = append(attrs, attr{"irq", dec(q.Number), true}, attr{"trigger", q.Trigger, given(q.El, "trigger", q.Trigger != "level")})
	case IRQIOAPIC:
		attrs = append(attrs,
			attr{"ioapic", dec(q.IOAPIC), given(q.El, "ioapic", q.IOAPIC != 0)},
			attr{"pin", dec(q.Pin), true},
			attr{"trigger", q.Trigger, given(q.El, "trigger", q.Trigger != "level")},
			attr{"polarity", q.Polarity, given(q.El, "polarity", q.Polarity != "high")},
			attr{"vector", dec(q.Vector), true})
	case IRQMSI:
		attrs = append(attrs,
			attr{"pcidev", fmt.Sprintf("%02x:%02x.%x", q.PCIDev[0], q.PCIDev[1], q.PCIDev[2]), true},
			attr{"handle", dec(q.Handle), true},
			attr{"vector", dec(q.Vector), true})
	}
	return append(attrs, attr{"setvar_id", q.SetvarID, q.SetvarID != ""})
}

func (w *writer) domains(ds *Domains) {
	w.comments(1, commentsOf(ds.El))
	w.element(1, "domains", nil, func() {
		for _, d := range ds.Domains {
			w.comments(2, commentsOf(d.El))
			w.element(2, "domain", []attr{{"name", d.Name, true}, {"id", decp(d.ID), d.ID != nil}}, nil)
		}
		w.comments(2, commentsOf(ds.ScheduleEl))
		w.element(2, "domain_schedule", []attr{
			{"start_index", dec(ds.StartIndex), given(ds.ScheduleEl, "start_index", ds.StartIndex != 0)},
			{"index_shift", decp(ds.IndexShift), ds.IndexShift != nil},
		}, func() {
			for _, e := range ds.Schedule {
				w.comments(3, commentsOf(e.El))
				if e.EndMarker {
					w.element(3, "schedule_end_marker", nil, nil)
					continue
				}
				w.element(3, "schedule_entry", []attr{{"domain", e.Domain, true}, {"duration", fmt.Sprintf("%d %s", e.Duration, e.Unit), true}}, nil)
			}
			w.comments(3, trailingOf(ds.ScheduleEl))
		})
		w.comments(2, trailingOf(ds.El))
	})
}

func commentsOf(el *Element) []string {
	if el == nil {
		return nil
	}
	return el.Comments
}

func trailingOf(el *Element) []string {
	if el == nil {
		return nil
	}
	return el.Trailing
}

// given says whether to write an attribute: when the source had it, or for
// a model without source when it differs from the default.
func given(el *Element, name string, notDefault bool) bool {
	if el == nil {
		return notDefault
	}
	_, ok := el.Attr(name)
	return ok
}

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
func dec(v uint64) string { return strconv.FormatUint(v, 10) }

func hexp(v *uint64) string {
	if v == nil {
		return ""
	}
	return hex(*v)
}

func decp(v *uint64) string {
	if v == nil {
		return ""
	}
	return dec(*v)
}

func boolStr(b bool) string { return strconv.FormatBool(b) }

func escape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
