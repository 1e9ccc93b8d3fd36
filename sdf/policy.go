package sdf

import (
	"fmt"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
)

// Policy is a one-way information-flow policy (the Diode discipline):
// protection domains are placed in ordered zones, the first the highest.
// Commands may flow down; nothing in a lower zone may influence a higher
// one, except telemetry that a higher zone reads from regions it maps
// read-only and the policy names.
type Policy struct {
	Meta      strictyaml.Meta `yaml:"-" json:"-"`
	Zones     []Zone          `yaml:"zones" json:"zones" required:"true" doc:"The zones, highest first; every protection domain is in exactly one."`
	Telemetry []string        `yaml:"telemetry" json:"telemetry,omitempty" doc:"Memory regions a lower zone may write and higher zones may map read-only (not writable, not executable): the telemetry that flows up."`
	File      string          `yaml:"-" json:"-"`
}

// Zone is a named set of PDs at one level of a policy.
type Zone struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Name string          `yaml:"name" json:"name" required:"true" doc:"The zone's name."`
	PDs  []string        `yaml:"pds" json:"pds" required:"true" doc:"The protection domains in the zone."`
}

// ParsePolicy reads a policy file.
func ParsePolicy(file string, data []byte, d *diag.List) *Policy {
	root := strictyaml.Parse(file, data, d)
	if root == nil {
		return nil
	}
	p := &Policy{File: file}
	(&strictyaml.Decoder{File: file, Diags: d}).Decode(root, p)
	return p
}

type zoned struct {
	zone int
	pos  diag.Pos // where the policy places the PD
}

// CheckPolicy reports every way a lower zone can influence a higher one,
// each with both sites and both zones.
func CheckPolicy(s *System, p *Policy, d *diag.List) {
	zoneOf := map[string]zoned{}
	names := map[string]diag.Pos{}
	for zi, z := range p.Zones {
		if prev, dup := names[z.Name]; dup {
			d.Errorf(z.Meta.At("name"), "policy: zone %q is also defined at %s", z.Name, prev)
		}
		names[z.Name] = z.Meta.At("name")
		for i, pd := range z.PDs {
			at := z.Meta.At(fmt.Sprintf("pds[%d]", i))
			if prev, dup := zoneOf[pd]; dup {
				d.Errorf(at, "policy: protection domain %q is in zone %q and zone %q", pd, p.Zones[prev.zone].Name, z.Name)
				continue
			}
			if s.PD(pd) == nil {
				msg := fmt.Sprintf("policy: zone %q names %q, which is not a protection domain of %s", z.Name, pd, s.File)
				if c, ok := diag.Closest(pd, pdNames(s.AllPDs())); ok {
					msg += fmt.Sprintf(" (did you mean %q?)", c)
				}
				d.Errorf(at, "%s", msg)
			}
			zoneOf[pd] = zoned{zi, at}
		}
	}
	for i, t := range p.Telemetry {
		if s.MR(t) == nil {
			d.Errorf(p.Meta.At(fmt.Sprintf("telemetry[%d]", i)), "policy: telemetry region %q is not a memory region of %s", t, s.File)
		}
	}
	// Fail closed: a PD outside every zone is not allowed anything.
	for _, pd := range s.AllPDs() {
		if _, ok := zoneOf[pd.Name]; !ok {
			d.Errorf(pd.El.At("name"), "policy: protection domain '%s' is in no zone of %s", pd.Name, p.File)
		}
	}
	zone := func(pd string) (int, bool) {
		z, ok := zoneOf[pd]
		return z.zone, ok
	}
	name := func(zi int) string { return p.Zones[zi].Name }
	// lower reports whether a is in a lower zone than b.
	lower := func(a, b string) (int, int, bool) {
		za, okA := zone(a)
		zb, okB := zone(b)
		return za, zb, okA && okB && za > zb
	}

	// Channels: a notification or a protected call from a lower zone.
	for _, ch := range s.Channels {
		for i, e := range ch.Ends {
			other := ch.Ends[1-i]
			za, zb, up := lower(e.PD, other.PD)
			if !up {
				continue
			}
			if e.Notify {
				d.Errorf(e.El.Pos, "policy: '%s' (zone %s) may notify '%s' (zone %s), a higher zone; set notify=\"false\" on this end (other end at %s)", e.PD, name(za), other.PD, name(zb), other.El.Pos)
			}
			if e.PP {
				d.Errorf(e.El.Pos, "policy: '%s' (zone %s) may make protected calls into '%s' (zone %s), a higher zone (other end at %s)", e.PD, name(za), other.PD, name(zb), other.El.Pos)
			}
		}
	}

	// Memory: a region a lower zone can write and a higher zone maps.
	telemetry := map[string]bool{}
	for _, t := range p.Telemetry {
		telemetry[t] = true
	}
	type mapped struct {
		pd string
		m  *Map
	}
	byMR := map[string][]mapped{}
	for _, pd := range s.AllPDs() {
		for _, m := range pd.Maps {
			byMR[m.MR] = append(byMR[m.MR], mapped{pd.Name, m})
		}
		if pd.VM != nil {
			for _, m := range pd.VM.Maps {
				byMR[m.MR] = append(byMR[m.MR], mapped{pd.Name, m})
			}
		}
	}
	for _, mr := range s.MRs {
		for _, w := range byMR[mr.Name] {
			if !w.m.Writable() {
				continue
			}
			for _, r := range byMR[mr.Name] {
				zw, zr, up := lower(w.pd, r.pd)
				if !up {
					continue
				}
				readOnly := !r.m.Writable() && !r.m.Executable()
				switch {
				case telemetry[mr.Name] && readOnly:
					// Telemetry flowing up, as the policy allows.
				case telemetry[mr.Name]:
					d.Errorf(r.m.El.Pos, "policy: '%s' (zone %s) maps telemetry region '%s' with perms \"%s\"; a higher zone may map what '%s' (zone %s) writes read-only only (writer's map at %s)", r.pd, name(zr), mr.Name, r.m.Perms, w.pd, name(zw), w.m.El.Pos)
				default:
					d.Errorf(w.m.El.Pos, "policy: '%s' (zone %s) maps region '%s' writable and '%s' (zone %s), a higher zone, maps it too (at %s); name it under telemetry if it carries telemetry up", w.pd, name(zw), mr.Name, r.pd, name(zr), r.m.El.Pos)
				}
			}
		}
	}

	// Capabilities: a lower zone holding a cap of a higher zone's PD, or
	// parent and child in different zones (the parent holds the child's TCB,
	// the child faults to the parent).
	for _, pd := range s.AllPDs() {
		for _, c := range pd.Caps {
			if za, zb, up := lower(pd.Name, c.PD); up {
				d.Errorf(c.El.Pos, "policy: '%s' (zone %s) holds the %s capability of '%s' (zone %s), a higher zone (at %s)", pd.Name, name(za), c.Type, c.PD, name(zb), s.PD(c.PD).El.Pos)
			}
		}
		if pd.Parent != nil {
			zc, okC := zone(pd.Name)
			zp, okP := zone(pd.Parent.Name)
			if okC && okP && zc != zp {
				d.Errorf(pd.El.Pos, "policy: child '%s' (zone %s) and its parent '%s' (zone %s) are in different zones: the parent controls the child and receives its faults (parent at %s)", pd.Name, name(zc), pd.Parent.Name, name(zp), pd.Parent.El.Pos)
			}
		}
	}
}
