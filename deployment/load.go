package deployment

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
)

// Parse decodes a deployment; it is returned even with problems (in
// diags), so that all are reported at once.
func Parse(file string, data []byte, diags *diag.List) *Deployment {
	root := strictyaml.Parse(file, data, diags)
	if root == nil {
		return nil
	}
	d := &Deployment{File: file}
	(&strictyaml.Decoder{File: file, Diags: diags}).Decode(root, d)
	return d
}

// Rank is a zone's place, 0 the highest; -1 when it is not one.
func (d *Deployment) Rank(zone string) int { return slices.Index(d.Zones, zone) }

// System is the system of that name, or nil.
func (d *Deployment) System(name string) *System {
	for _, s := range d.Systems {
		if s != nil && s.Name == name {
			return s
		}
	}
	return nil
}

// Check checks what the file alone says: names, zones, the links'
// direction against the zones (the Diode across systems), the absent
// rules. Boards and recipes are the caller's to check (it knows them).
func Check(d *Deployment, diags *diag.List) {
	at := d.Meta.At
	for i, z := range d.Zones {
		if slices.Index(d.Zones, z) != i {
			diags.Errorf(at(fmt.Sprintf("zones[%d]", i)), "zones[%d]: %q is listed twice", i, z)
		}
	}
	if d.Meta.Has("zones") && len(d.Zones) == 0 {
		diags.Errorf(at("zones"), "zones: name at least one zone")
	}
	names := map[string]*System{}
	addresses := map[netip.Addr]*System{}
	for i, s := range d.Systems {
		if s == nil {
			continue
		}
		if other := names[s.Name]; other != nil {
			diags.Errorf(s.Meta.At("name"), "systems[%d]: %q is also the name of the system at %s", i, s.Name, other.Meta.Pos)
		}
		names[s.Name] = s
		if s.Zone != "" && d.Rank(s.Zone) < 0 {
			diags.Errorf(s.Meta.At("zone"), "systems[%d]: zone %q is not one of the zones (%v)", i, s.Zone, d.Zones)
		}
		if a, err := netip.ParseAddr(s.Address); err == nil {
			if other := addresses[a]; other != nil {
				diags.Errorf(s.Meta.At("address"), "systems[%d]: address %s is also %s's (%s)", i, a, other.Name, other.Meta.At("address"))
			}
			addresses[a] = s
		}
	}
	for i, l := range d.Links {
		if l == nil {
			continue
		}
		from, to := d.System(l.From), d.System(l.To)
		if from == nil && l.From != "" {
			diags.Errorf(l.Meta.At("from"), "links[%d]: no system is named %q", i, l.From)
		}
		if to == nil && l.To != "" {
			diags.Errorf(l.Meta.At("to"), "links[%d]: no system is named %q", i, l.To)
		}
		if from == nil || to == nil {
			continue
		}
		if from == to {
			diags.Errorf(l.Meta.Pos, "links[%d]: a link from %s to itself", i, l.From)
			continue
		}
		rf, rt := d.Rank(from.Zone), d.Rank(to.Zone)
		if rf < 0 || rt < 0 {
			continue
		}
		switch {
		case l.Carries == "commands" && rf >= rt:
			diags.Errorf(l.Meta.Pos, "links[%d]: commands may only go down the zones, but this link sends them from %s (zone %s, %s) to %s (zone %s, %s), which is %s",
				i, from.Name, from.Zone, from.Meta.At("zone"), to.Name, to.Zone, to.Meta.At("zone"), orderWord(rf, rt))
		case l.Carries == "telemetry" && rf <= rt:
			diags.Errorf(l.Meta.Pos, "links[%d]: telemetry may only go up the zones, but this link sends it from %s (zone %s, %s) to %s (zone %s, %s), which is %s",
				i, from.Name, from.Zone, from.Meta.At("zone"), to.Name, to.Zone, to.Meta.At("zone"), orderWord(rf, rt))
		}
	}
	if e := d.Expect; e != nil {
		for i, st := range e.Steps {
			if st == nil {
				continue
			}
			if st.System != "" && d.System(st.System) == nil {
				diags.Errorf(st.Meta.At("system"), "expect.steps[%d]: no system is named %q", i, st.System)
			}
			n := 0
			for _, set := range []bool{st.Text != "", st.Send != "", st.Reboot} {
				if set {
					n++
				}
			}
			if n != 1 {
				diags.Errorf(st.Meta.Pos, "expect.steps[%d]: give exactly one of text, send and reboot", i)
			}
		}
	}
	for i, a := range d.Absent {
		if a == nil {
			continue
		}
		for j, z := range a.Zones {
			if d.Rank(z) < 0 {
				diags.Errorf(a.Meta.At(fmt.Sprintf("zones[%d]", j)), "absent[%d]: zone %q is not one of the zones (%v)", i, z, d.Zones)
			}
		}
		if len(a.Crates)+len(a.Symbols)+len(a.Sections) == 0 {
			diags.Errorf(a.Meta.Pos, "absent[%d]: name crates, symbols or sections that must be absent", i)
		}
	}
}

func orderWord(from, to int) string {
	switch {
	case from == to:
		return "the same zone"
	case from < to:
		return "lower"
	}
	return "higher"
}
