package sdf

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// dotQuote quotes a label for Graphviz: quotes and backslashes escaped,
// each line break written as Graphviz's own \n (Go's %q would write \\n,
// which Graphviz shows as the two characters).
func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// sddfClasses are the device classes sDDF's regions are named by
// (NODE/CLASS/... or NODE/drivers/CLASS/...).
var sddfClasses = map[string]string{"serial": "serial", "net": "network", "network": "network", "timer": "timer", "blk": "block", "block": "block", "i2c": "I²C", "gpu": "GPU"}

// regionClass is the sDDF class a region's name says it belongs to, or "".
func regionClass(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if p == "drivers" && i+1 < len(parts) {
			return sddfClasses[parts[i+1]]
		}
		if c, ok := sddfClasses[p]; ok && i > 0 {
			return c
		}
	}
	return ""
}

// pdClasses is, for each PD, the one sDDF class every sDDF region it maps
// belongs to (its drivers, virtualisers and copiers); PDs that map none or
// several (the clients) have none.
func pdClasses(s *System) map[string]string {
	out := map[string]string{}
	for _, pd := range s.AllPDs() {
		classes := map[string]bool{}
		for _, m := range pd.Maps {
			if c := regionClass(m.MR); c != "" {
				classes[c] = true
			}
		}
		if len(classes) == 0 {
			// A driver that maps no queue (the timer's): by its name.
			if first, _, ok := strings.Cut(pd.Name, "_"); ok && (strings.HasSuffix(pd.Name, "_driver") || strings.Contains(pd.Name, "_virt")) {
				if c, known := sddfClasses[first]; known {
					classes[c] = true
				}
			}
		}
		if len(classes) == 1 {
			for c := range classes {
				out[pd.Name] = c
			}
		}
	}
	return out
}

// shortRegion is a region's name as an edge between two PDs shows it:
// without the device node, the two PDs' names and a queue's free/active.
func shortRegion(name string, pds [2]string) string {
	parts := strings.Split(name, "/")
	if len(parts) > 1 && strings.Contains(parts[0], "@") {
		parts = parts[1:]
	}
	var keep []string
	for _, p := range parts {
		if p != pds[0] && p != pds[1] && p != "free" && p != "active" {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return name
	}
	return strings.Join(keep, "/")
}

// DOT writes the system for Graphviz: PDs as boxes, clustered by the
// policy's zones when there is one, else by sDDF class (drivers,
// virtualisers and copiers of a class together); a region two PDs share as
// one labelled edge between them (a queue's free and active halves and the
// data they carry together); a region three or more share as a node;
// channels and protected calls as edges.
func DOT(s *System, opt GraphOptions) []byte {
	var b strings.Builder
	shared, by := sharedRegions(s)
	sharedSet := map[string]bool{}
	for _, mr := range shared {
		sharedSet[mr.Name] = true
	}
	b.WriteString("digraph system {\n  rankdir=LR; newrank=true; nodesep=0.35; ranksep=0.9;\n  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=12];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	writePD := func(pd *PD, indent string) {
		label := pd.Name + "\n" + strings.Join(pdLines(pd, s, sharedSet), "\n")
		style := ""
		if pd.Passive {
			style = ", style=\"rounded,filled\", fillcolor=\"#f4f4f4\""
		}
		fmt.Fprintf(&b, "%s%s [label=%s%s];\n", indent, dotQuote(pd.Name), dotQuote(label), style)
	}
	placed := map[string]bool{}
	cluster := func(n int, label, colour string, members []*PD) {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%s; style=\"rounded,filled\"; color=%s; fontname=\"Helvetica\"; fontsize=13;\n", n, dotQuote(label), dotQuote(colour))
		for _, pd := range members {
			writePD(pd, "    ")
			placed[pd.Name] = true
		}
		b.WriteString("  }\n")
	}
	if len(opt.Zones) > 0 {
		for i, z := range opt.Zones {
			var members []*PD
			for _, pd := range s.AllPDs() {
				if zoneIndex(opt.Zones, pd.Name) == i {
					members = append(members, pd)
				}
			}
			cluster(i, z.Name, zoneColours[i%len(zoneColours)], members)
		}
	} else {
		classOf := pdClasses(s)
		classes := slices.Sorted(maps.Values(classOf))
		classes = slices.Compact(classes)
		for i, c := range classes {
			var members []*PD
			for _, pd := range s.AllPDs() {
				if classOf[pd.Name] == c {
					members = append(members, pd)
				}
			}
			cluster(i, c, zoneColours[i%len(zoneColours)], members)
		}
	}
	for _, pd := range s.AllPDs() {
		if !placed[pd.Name] {
			writePD(pd, "  ")
		}
	}

	// Regions two PDs share: one edge a pair, its label the regions.
	type pair [2]string
	pairs := map[pair][]string{}
	var order []pair
	for _, mr := range shared {
		owners := map[string]bool{}
		for _, a := range by[mr.Name] {
			owners[strings.SplitN(a.pd, " ", 2)[0]] = true
		}
		if len(owners) == 2 {
			names := slices.Sorted(maps.Keys(owners))
			p := pair{names[0], names[1]}
			if _, seen := pairs[p]; !seen {
				order = append(order, p)
			}
			pairs[p] = append(pairs[p], mr.Name)
			continue
		}
		fmt.Fprintf(&b, "  %s [shape=note, style=filled, fillcolor=\"#eaf6ee\", label=%s];\n", dotQuote("mr:"+mr.Name), dotQuote(shortRegion(mr.Name, pair{})+"\n"+sizeText(mr.Size)))
		for _, a := range by[mr.Name] {
			fmt.Fprintf(&b, "  %s -> %s [dir=none, color=\"#2e8b57\", label=%s];\n", dotQuote(strings.SplitN(a.pd, " ", 2)[0]), dotQuote("mr:"+mr.Name), dotQuote(a.perms))
		}
	}
	for _, p := range order {
		var lines []string
		var size uint64
		writes := [2]bool{}
		rights := [2]map[string]bool{{}, {}}
		for _, name := range pairs[p] {
			short := shortRegion(name, p)
			if !slices.Contains(lines, short) {
				lines = append(lines, short)
			}
			for _, mr := range s.MRs {
				if mr.Name == name {
					size += mr.Size
				}
			}
			for _, a := range by[name] {
				for i := range p {
					if strings.SplitN(a.pd, " ", 2)[0] == p[i] {
						rights[i][a.perms] = true
						writes[i] = writes[i] || strings.Contains(a.perms, "w")
					}
				}
			}
		}
		// The arrow shows which way data can go: from a side that may
		// write to one that may only read.
		dir := "none"
		switch {
		case writes[0] && writes[1]:
			dir = "both"
		case writes[0]:
			dir = "forward"
		case writes[1]:
			dir = "back"
		}
		perms := func(i int) string { return strings.Join(slices.Sorted(maps.Keys(rights[i])), "/") }
		label := strings.Join(lines, "\n") + "\n" + sizeText(size) + " · " + perms(0) + " ↔ " + perms(1)
		fmt.Fprintf(&b, "  %s -> %s [dir=%s, color=\"#2e8b57\", penwidth=1.5, label=%s];\n", dotQuote(p[0]), dotQuote(p[1]), dir, dotQuote(label))
	}

	for _, ch := range s.Channels {
		a, c := ch.Ends[0], ch.Ends[1]
		if a.PP || c.PP {
			caller, callee := a, c
			if c.PP {
				caller, callee = c, a
			}
			fmt.Fprintf(&b, "  %s -> %s [color=\"#1f5fbf\", penwidth=2, label=%s];\n", dotQuote(caller.PD), dotQuote(callee.PD), dotQuote(fmt.Sprintf("ppc %d ↔ %d", caller.ID, callee.ID)))
			continue
		}
		dir := "none"
		switch {
		case a.Notify && c.Notify:
			dir = "both"
		case a.Notify:
			dir = "forward"
		case c.Notify:
			dir = "back"
		}
		fmt.Fprintf(&b, "  %s -> %s [dir=%s, color=\"#888888\", style=dashed, label=%s];\n", dotQuote(a.PD), dotQuote(c.PD), dir, dotQuote(fmt.Sprintf("%d ↔ %d", a.ID, c.ID)))
	}
	for _, pd := range s.AllPDs() {
		if pd.Parent != nil {
			label := "child"
			if pd.ID != nil { // absent in a system with errors, which is drawn anyway
				label = fmt.Sprintf("child %d", *pd.ID)
			}
			fmt.Fprintf(&b, "  %s -> %s [style=dotted, color=\"#999999\", label=%s];\n", dotQuote(pd.Parent.Name), dotQuote(pd.Name), dotQuote(label))
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}
