package sdf

import (
	"fmt"
	"strings"
)

// DOT writes the system for Graphviz.
func DOT(s *System, opt GraphOptions) []byte {
	var b strings.Builder
	shared, by := sharedRegions(s)
	sharedSet := map[string]bool{}
	for _, mr := range shared {
		sharedSet[mr.Name] = true
	}
	b.WriteString("digraph system {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	writePD := func(pd *PD, indent string) {
		label := pd.Name + "\\n" + strings.Join(pdLines(pd, s, sharedSet), "\\n")
		style := ""
		if pd.Passive {
			style = ", style=filled, fillcolor=\"#f4f4f4\""
		}
		fmt.Fprintf(&b, "%s%q [label=%q%s];\n", indent, pd.Name, label, style)
	}
	if len(opt.Zones) > 0 {
		for i, z := range opt.Zones {
			fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%q; style=filled; color=%q;\n", i, z.Name, zoneColours[i%len(zoneColours)])
			for _, pd := range s.AllPDs() {
				if zoneIndex(opt.Zones, pd.Name) == i {
					writePD(pd, "    ")
				}
			}
			b.WriteString("  }\n")
		}
		for _, pd := range s.AllPDs() {
			if zoneIndex(opt.Zones, pd.Name) < 0 {
				writePD(pd, "  ")
			}
		}
	} else {
		for _, pd := range s.AllPDs() {
			writePD(pd, "  ")
		}
	}
	for _, mr := range shared {
		fmt.Fprintf(&b, "  %q [shape=box, style=\"rounded,filled\", fillcolor=\"#eaf6ee\", label=%q];\n", "mr:"+mr.Name, mr.Name+" "+sizeText(mr.Size))
		for _, a := range by[mr.Name] {
			pd := strings.SplitN(a.pd, " ", 2)[0]
			dir := "none"
			switch {
			case strings.Contains(a.perms, "w") && strings.Contains(a.perms, "r"):
				dir = "both"
			case strings.Contains(a.perms, "w"):
				dir = "forward"
			case strings.Contains(a.perms, "r"):
				dir = "back"
			}
			fmt.Fprintf(&b, "  %q -> %q [dir=%s, color=\"#2e8b57\", label=%q];\n", pd, "mr:"+mr.Name, dir, a.perms)
		}
	}
	for _, ch := range s.Channels {
		a, c := ch.Ends[0], ch.Ends[1]
		dir := "none"
		switch {
		case a.Notify && c.Notify:
			dir = "both"
		case a.Notify:
			dir = "forward"
		case c.Notify:
			dir = "back"
		}
		attrs := fmt.Sprintf("dir=%s, label=\"%d ↔ %d\"", dir, a.ID, c.ID)
		if a.PP || c.PP {
			caller, callee := a, c
			if c.PP {
				caller, callee = c, a
			}
			fmt.Fprintf(&b, "  %q -> %q [color=\"#1f5fbf\", penwidth=2, label=\"ppc %d ↔ %d\"];\n", caller.PD, callee.PD, caller.ID, callee.ID)
			continue
		}
		fmt.Fprintf(&b, "  %q -> %q [%s];\n", a.PD, c.PD, attrs)
	}
	for _, pd := range s.AllPDs() {
		if pd.Parent != nil {
			label := "child"
			if pd.ID != nil { // absent in a system with errors, which is drawn anyway
				label = fmt.Sprintf("child %d", *pd.ID)
			}
			fmt.Fprintf(&b, "  %q -> %q [style=dashed, color=\"#999\", label=%q];\n", pd.Parent.Name, pd.Name, label)
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}
