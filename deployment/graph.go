package deployment

import (
	"bytes"
	"fmt"
	"strconv"
)

// DOT draws a deployment for Graphviz: each zone a box (the highest on
// top) holding its systems; each link an arrow labelled with what it
// carries, commands solid and downward, telemetry dashed and upward.
func DOT(d *Deployment) []byte {
	var b bytes.Buffer
	q := strconv.Quote
	fmt.Fprintf(&b, "digraph %s {\n  label=%s;\n  labelloc=t;\n  rankdir=TB;\n  newrank=true;\n  fontname=\"Helvetica\";\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
		q(d.Name), q(d.Name+": "+d.Description))
	for i, z := range d.Zones {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n    style=dashed;\n    rank=same;\n", q(fmt.Sprintf("cluster_%d", i)), q(fmt.Sprintf("zone %s (%d of %d, highest first)", z, i+1, len(d.Zones))))
		for _, s := range d.Systems {
			if s != nil && s.Zone == z {
				label := fmt.Sprintf("%s\n%s on %s", s.Name, s.Recipe, s.Board)
				if s.Address != "" {
					label += "\n" + s.Address
				}
				fmt.Fprintf(&b, "    %s [label=%s];\n", q("system:"+s.Name), q(label))
			}
		}
		b.WriteString("  }\n")
	}
	for _, l := range d.Links {
		if l == nil {
			continue
		}
		style := "solid"
		if l.Carries == "telemetry" {
			style = "dashed"
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s, style=%s];\n", q("system:"+l.From), q("system:"+l.To), q(string(l.Carries)), style)
	}
	b.WriteString("}\n")
	return b.Bytes()
}
