package sdf

// Channels, I/O spaces and scheduling domains.

import "strings"

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
