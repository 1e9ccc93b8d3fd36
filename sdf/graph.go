package sdf

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Picture options.
type GraphOptions struct {
	// Zones, top to bottom, each naming its PDs; PDs are then drawn in zone
	// bands instead of by priority.
	Zones []Zone
}

// node is a box or an ellipse in the picture.
type node struct {
	x, y, w, h float64
	lines      []string
	title      string
	zone       int
}

// An access is one PD's mapping of a shared region.
type access struct {
	pd    string
	perms string
}

// sharedRegions returns the regions mapped by two or more PDs or VMs, with
// who maps them how, in file order of the regions.
func sharedRegions(s *System) ([]*MR, map[string][]access) {
	by := map[string][]access{}
	for _, pd := range s.AllPDs() {
		for _, m := range pd.Maps {
			by[m.MR] = append(by[m.MR], access{pd.Name, m.Perms})
		}
		if pd.VM != nil {
			for _, m := range pd.VM.Maps {
				by[m.MR] = append(by[m.MR], access{pd.Name + " (vm " + pd.VM.Name + ")", m.Perms})
			}
		}
	}
	var shared []*MR
	for _, mr := range s.MRs {
		owners := map[string]bool{}
		for _, a := range by[mr.Name] {
			owners[strings.SplitN(a.pd, " ", 2)[0]] = true
		}
		if len(owners) >= 2 {
			shared = append(shared, mr)
		}
	}
	return shared, by
}

func pdLines(pd *PD, s *System, shared map[string]bool) []string {
	l := []string{fmt.Sprintf("prio %d · core %d", pd.Priority, pd.CPU)}
	if pd.Passive {
		l[0] += " · passive"
	}
	if pd.ID != nil && pd.Parent != nil {
		l = append(l, fmt.Sprintf("child %d of %s", *pd.ID, pd.Parent.Name))
	}
	for _, q := range pd.IRQs {
		switch q.Kind {
		case IRQConventional:
			l = append(l, fmt.Sprintf("irq %d %s → ch %d", q.Number, q.Trigger, q.ID))
		default:
			l = append(l, fmt.Sprintf("irq vector %d → ch %d", q.Vector, q.ID))
		}
	}
	for _, m := range pd.Maps {
		if !shared[m.MR] {
			l = append(l, fmt.Sprintf("%s (%s)", m.MR, m.Perms))
		}
	}
	if pd.VM != nil {
		l = append(l, fmt.Sprintf("vm %s: %d vcpu", pd.VM.Name, len(pd.VM.VCPUs)))
	}
	return l
}

const (
	fontW   = 7.0 // average glyph width at 12px
	lineH   = 16.0
	padX    = 12.0
	padY    = 8.0
	gapX    = 60.0
	gapY    = 110.0
	marginX = 40.0
	marginY = 50.0
)

func textWidth(s string) float64 { return float64(len([]rune(s))) * fontW }

// layout places PDs in rows (by zone, else by priority, highest on top) and
// each shared region between the PDs that map it.
func layout(s *System, opt GraphOptions) (map[string]*node, map[string]*node, []*MR, map[string][]access, float64, float64) {
	shared, by := sharedRegions(s)
	sharedSet := map[string]bool{}
	for _, mr := range shared {
		sharedSet[mr.Name] = true
	}
	pds := s.AllPDs()
	rowOf := map[string]int{}
	var rows [][]*PD
	if len(opt.Zones) > 0 {
		rows = make([][]*PD, len(opt.Zones)+1)
		for _, pd := range pds {
			z := zoneIndex(opt.Zones, pd.Name)
			if z < 0 {
				z = len(opt.Zones)
			}
			rows[z] = append(rows[z], pd)
		}
		for i := range rows {
			sort.SliceStable(rows[i], func(a, b int) bool { return rows[i][a].Priority > rows[i][b].Priority })
		}
	} else {
		prios := map[uint64][]*PD{}
		var keys []uint64
		for _, pd := range pds {
			if _, ok := prios[pd.Priority]; !ok {
				keys = append(keys, pd.Priority)
			}
			prios[pd.Priority] = append(prios[pd.Priority], pd)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
		// One row per priority, so a protected call always points up; with
		// many priorities, neighbouring ones share rows of up to five boxes.
		merge := len(keys) > 8
		var row []*PD
		for _, k := range keys {
			if len(row) > 0 && (!merge || len(row)+len(prios[k]) > 5) {
				rows = append(rows, row)
				row = nil
			}
			row = append(row, prios[k]...)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	boxes := map[string]*node{}
	// Size every box, then lay the rows out on a common width.
	var rowNodes [][]*node
	width := 900.0
	for r, row := range rows {
		var ns []*node
		rowW := 0.0
		for _, pd := range row {
			n := &node{title: pd.Name, lines: pdLines(pd, s, sharedSet), zone: r}
			w := textWidth(n.title) + 2*padX
			for _, l := range n.lines {
				w = math.Max(w, textWidth(l)+2*padX)
			}
			n.w, n.h = math.Max(w, 120), lineH*float64(len(n.lines)+1)+2*padY
			rowW += n.w + gapX
			ns = append(ns, n)
			boxes[pd.Name] = n
			rowOf[pd.Name] = r
		}
		rowNodes = append(rowNodes, ns)
		width = math.Max(width, rowW+2*marginX+240)
	}
	left := marginX
	if len(opt.Zones) > 0 {
		left += 110 // room for the zone label
	}
	type gap struct{ top, bottom float64 }
	var gaps []gap
	y := marginY
	for r, ns := range rowNodes {
		if len(ns) == 0 {
			gaps = append(gaps, gap{y, y})
			continue
		}
		rowW, rowH := -gapX, 0.0
		for _, n := range ns {
			rowW += n.w + gapX
			rowH = math.Max(rowH, n.h)
		}
		// Centre the row; rows of one or two boxes zigzag left and right so
		// lines between other rows pass beside them.
		x := left + (width-left-marginX-rowW)/2
		if len(ns) <= 2 {
			x += map[bool]float64{true: -width / 6, false: width / 6}[r%2 == 0]
		}
		x = math.Max(x, left)
		for _, n := range ns {
			n.x, n.y = x, y
			x += n.w + gapX
		}
		y += rowH
		gaps = append(gaps, gap{y, y + gapY})
		y += gapY
	}
	// A shared region sits in the gap below the highest row that maps it,
	// under its mappers, never on a box.
	regions := map[string]*node{}
	byGap := map[int][]*node{}
	for _, mr := range shared {
		var sx, n float64
		topRow := len(rowNodes)
		for _, a := range by[mr.Name] {
			name := strings.SplitN(a.pd, " ", 2)[0]
			if b := boxes[name]; b != nil {
				sx += b.x + b.w/2
				n++
				topRow = min(topRow, rowOf[name])
			}
		}
		label := fmt.Sprintf("%s  %s", mr.Name, sizeText(mr.Size))
		nd := &node{title: label, w: textWidth(label) + 2*padX, h: 28}
		g := gaps[min(topRow, len(gaps)-1)]
		nd.x = sx/n - nd.w/2
		nd.y = g.top + (g.bottom-g.top)/2 - nd.h/2 + float64(len(byGap[topRow])%2)*0
		for moved := true; moved; {
			moved = false
			for _, o := range byGap[topRow] {
				if nd.x < o.x+o.w+12 && o.x < nd.x+nd.w+12 {
					nd.x = o.x + o.w + 16
					moved = true
				}
			}
		}
		nd.x = math.Max(nd.x, left)
		byGap[topRow] = append(byGap[topRow], nd)
		regions[mr.Name] = nd
		width = math.Max(width, nd.x+nd.w+marginX)
	}
	return boxes, regions, shared, by, width, y + 40
}

func zoneIndex(zones []Zone, pd string) int {
	for i, z := range zones {
		for _, p := range z.PDs {
			if p == pd {
				return i
			}
		}
	}
	return -1
}

func sizeText(n uint64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%#x B", n)
}

// edgePoint is where the line from a box's centre towards (tx, ty) leaves it.
func edgePoint(n *node, tx, ty float64) (float64, float64) {
	cx, cy := n.x+n.w/2, n.y+n.h/2
	dx, dy := tx-cx, ty-cy
	if dx == 0 && dy == 0 {
		return cx, cy
	}
	sx, sy := math.Inf(1), math.Inf(1)
	if dx != 0 {
		sx = (n.w / 2) / math.Abs(dx)
	}
	if dy != 0 {
		sy = (n.h / 2) / math.Abs(dy)
	}
	t := math.Min(sx, sy)
	return cx + dx*t, cy + dy*t
}

var zoneColours = []string{"#fde2e2", "#fff4d6", "#e3f2e1", "#e1ecf7", "#efe3f5", "#eeeeee"}

// SVG draws the system. It needs no external program.
func SVG(s *System, opt GraphOptions) []byte {
	boxes, regions, shared, by, width, height := layout(s, opt)
	rt := &router{w: width, h: height}
	for _, n := range boxes {
		rt.obstacles = append(rt.obstacles, n)
	}
	for _, n := range regions {
		rt.obstacles = append(rt.obstacles, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<defs>
<marker id="notify" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker>
<marker id="ppc" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f5fbf"/></marker>
<marker id="data" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,1 L10,5 L0,9 z" fill="#2e8b57"/></marker>
</defs>
<rect width="100%" height="100%" fill="white"/>
`)
	// Zone bands.
	if len(opt.Zones) > 0 {
		for i, z := range opt.Zones {
			top, bottom := math.Inf(1), math.Inf(-1)
			for _, n := range boxes {
				if n.zone == i {
					top, bottom = math.Min(top, n.y), math.Max(bottom, n.y+n.h)
				}
			}
			if math.IsInf(top, 1) {
				continue
			}
			fmt.Fprintf(&b, `<rect x="10" y="%.0f" width="%.0f" height="%.0f" rx="8" fill="%s"/>`+"\n", top-18, width-20, bottom-top+36, zoneColours[i%len(zoneColours)])
			fmt.Fprintf(&b, `<text x="22" y="%.0f" font-weight="bold" fill="#555">%s</text>`+"\n", top+4, esc(z.Name))
			if i > 0 {
				fmt.Fprintf(&b, `<text x="22" y="%.0f" fill="#777" font-size="10">below %s</text>`+"\n", top+18, esc(opt.Zones[i-1].Name))
			}
		}
	}
	// Parent to child links.
	for _, pd := range s.AllPDs() {
		if pd.Parent == nil {
			continue
		}
		path, _, _ := rt.route(boxes[pd.Parent.Name], boxes[pd.Name])
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#999" stroke-dasharray="6 4"/>`+"\n", path)
	}
	// Shared regions and who maps them how: an arrow into the region for a
	// writer, out of it for a reader.
	for _, mr := range shared {
		r := regions[mr.Name]
		for _, a := range by[mr.Name] {
			pdName := strings.SplitN(a.pd, " ", 2)[0]
			p := boxes[pdName]
			if p == nil {
				continue
			}
			path, lx, ly := rt.route(p, r)
			w, rd := strings.Contains(a.perms, "w"), strings.Contains(a.perms, "r")
			markers := ""
			if w {
				markers += ` marker-end="url(#data)"`
			}
			if rd {
				markers += ` marker-start="url(#data)"`
			}
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#2e8b57" stroke-width="1.5"%s/>`+"\n", path, markers)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#2e8b57" font-size="11" text-anchor="middle" paint-order="stroke" stroke="white" stroke-width="3">%s</text>`+"\n", lx, ly+4, esc(a.perms))
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="14" fill="#eaf6ee" stroke="#2e8b57"/>`+"\n", r.x, r.y, r.w, r.h)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", r.x+r.w/2, r.y+r.h/2+4, esc(r.title))
	}
	// Channels.
	for _, ch := range s.Channels {
		a, c := boxes[ch.Ends[0].PD], boxes[ch.Ends[1].PD]
		if a == nil || c == nil {
			continue
		}
		path, lx, ly := rt.route(a, c)
		pp := ch.Ends[0].PP || ch.Ends[1].PP
		stroke, width := "#666", 1.5
		if pp {
			stroke, width = "#1f5fbf", 2.5
		}
		markers := ""
		// A marker at an end means something arrives there: a notification
		// from the other end, or a protected call.
		if ch.Ends[0].Notify || ch.Ends[0].PP {
			markers += ` marker-end="url(#` + map[bool]string{true: "ppc", false: "notify"}[ch.Ends[0].PP] + `)"`
		}
		if ch.Ends[1].Notify || ch.Ends[1].PP {
			markers += ` marker-start="url(#` + map[bool]string{true: "ppc", false: "notify"}[ch.Ends[1].PP] + `)"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f"%s/>`+"\n", path, stroke, width, markers)
		label := fmt.Sprintf("%s %d ↔ %d %s", ch.Ends[0].PD, ch.Ends[0].ID, ch.Ends[1].ID, ch.Ends[1].PD)
		if pp {
			label = "ppc " + label
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s" paint-order="stroke" stroke="white" stroke-width="3">%s</text>`+"\n", lx, ly-4, stroke, esc(label))
	}
	// PD boxes on top.
	for _, pd := range s.AllPDs() {
		n := boxes[pd.Name]
		fill := "#ffffff"
		if pd.Passive {
			fill = "#f4f4f4"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="6" fill="%s" stroke="#333" stroke-width="1.5"/>`+"\n", n.x, n.y, n.w, n.h, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-weight="bold">%s</text>`+"\n", n.x+padX, n.y+padY+12, esc(n.title))
		for i, l := range n.lines {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#444" font-size="11">%s</text>`+"\n", n.x+padX, n.y+padY+12+lineH*float64(i+1), esc(l))
		}
	}
	// Legend.
	ly := height - 30
	fmt.Fprintf(&b, `<g font-size="11" fill="#444"><line x1="20" y1="%.0f" x2="60" y2="%.0f" stroke="#666" stroke-width="1.5" marker-end="url(#notify)"/><text x="66" y="%.0f">notification (arrow: who is notified)</text>`, ly, ly, ly+4)
	fmt.Fprintf(&b, `<line x1="290" y1="%.0f" x2="330" y2="%.0f" stroke="#1f5fbf" stroke-width="2.5" marker-end="url(#ppc)"/><text x="336" y="%.0f">protected call (arrow: callee)</text>`, ly, ly, ly+4)
	fmt.Fprintf(&b, `<line x1="530" y1="%.0f" x2="570" y2="%.0f" stroke="#2e8b57" stroke-width="1.5" marker-end="url(#data)"/><text x="576" y="%.0f">shared memory (arrow: data flow; r, w, x: mapping)</text></g>`+"\n", ly, ly, ly+4)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// router draws edges around the boxes they would cross: straight when the
// way is clear, else a curve bent far enough to the side.
type router struct {
	obstacles []*node
	w, h      float64 // the canvas: curves stay on it
}

// hits counts the points of a line that fall on other boxes.
func (r *router) hits(from, to *node, pts [][2]float64) int {
	n := 0
	for _, o := range r.obstacles {
		if o == from || o == to {
			continue
		}
		for _, p := range pts {
			if p[0] > o.x-4 && p[0] < o.x+o.w+4 && p[1] > o.y-4 && p[1] < o.y+o.h+4 {
				n++
			}
		}
	}
	return n
}

// route returns an SVG path from box a to box b and the point to label it.
func (r *router) route(a, b *node) (d string, lx, ly float64) {
	ax, ay := a.x+a.w/2, a.y+a.h/2
	bx, by := b.x+b.w/2, b.y+b.h/2
	dx, dy := bx-ax, by-ay
	l := math.Hypot(dx, dy)
	if l == 0 {
		l = 1
	}
	nx, ny := -dy/l, dx/l
	best, bestHits := "", -1
	var bestX, bestY float64
	for _, off := range []float64{0, 40, -40, 80, -80, 130, -130, 190, -190, 260, -260, 340, -340} {
		cx, cy := (ax+bx)/2+nx*off, (ay+by)/2+ny*off
		x1, y1 := edgePoint(a, cx, cy)
		x2, y2 := edgePoint(b, cx, cy)
		var pts [][2]float64
		for i := 1; i < 24; i++ {
			t := float64(i) / 24
			px := (1-t)*(1-t)*x1 + 2*(1-t)*t*cx + t*t*x2
			py := (1-t)*(1-t)*y1 + 2*(1-t)*t*cy + t*t*y2
			pts = append(pts, [2]float64{px, py})
		}
		mx, my := 0.25*x1+0.5*cx+0.25*x2, 0.25*y1+0.5*cy+0.25*y2
		d := fmt.Sprintf("M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f", x1, y1, cx, cy, x2, y2)
		if off == 0 {
			d = fmt.Sprintf("M%.1f,%.1f L%.1f,%.1f", x1, y1, x2, y2)
		}
		hits := r.hits(a, b, pts)
		for _, p := range pts {
			if p[0] < 4 || p[1] < 4 || p[0] > r.w-4 || p[1] > r.h-40 {
				hits += 1000
				break
			}
		}
		if hits == 0 {
			return d, mx, my
		}
		if bestHits < 0 || hits < bestHits {
			best, bestHits, bestX, bestY = d, hits, mx, my
		}
	}
	return best, bestX, bestY
}
