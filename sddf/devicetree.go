package sddf

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/u-root/u-root/pkg/dt"
)

// Tree is a flattened device tree read for the facts sDDF's drivers need:
// where a device's registers are in physical memory and which seL4
// interrupts it raises.
type Tree struct {
	root     *dt.Node
	parent   map[*dt.Node]*dt.Node
	phandles map[uint32]*dt.Node
}

// Region is a physical address range.
type Region struct {
	Base, Size uint64
}

// IRQ is an interrupt as seL4 numbers it, with its trigger.
type IRQ struct {
	Number  uint64
	Trigger string // "level" or "edge"
}

// Device is what the tree says of one node.
type Device struct {
	Path       string
	Compatible []string
	Regs       []Region // physical, after every parent bus's ranges
	IRQs       []IRQ
}

// ReadTree reads a flattened device tree (a DTB).
func ReadTree(r io.ReadSeeker) (*Tree, error) {
	fdt, err := dt.ReadFDT(r)
	if err != nil {
		return nil, fmt.Errorf("reading the device tree: %w", err)
	}
	t := &Tree{root: fdt.RootNode, parent: map[*dt.Node]*dt.Node{}, phandles: map[uint32]*dt.Node{}}
	var index func(n *dt.Node)
	index = func(n *dt.Node) {
		for _, name := range []string{"phandle", "linux,phandle"} {
			if v, ok := cells(n, name); ok && len(v) == 1 {
				t.phandles[v[0]] = n
			}
		}
		for _, c := range n.Children {
			t.parent[c] = n
			index(c)
		}
	}
	index(t.root)
	return t, nil
}

// Node finds a node by its path, such as /soc/serial@30860000.
func (t *Tree) Node(path string) (*dt.Node, error) {
	n := t.root
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		if part == "" {
			continue
		}
		i := slices.IndexFunc(n.Children, func(c *dt.Node) bool { return c.Name == part })
		if i < 0 {
			var names []string
			for _, c := range n.Children {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("device tree has no node %s (no %q under %s; it has %s)", path, part, t.path(n), strings.Join(names, ", "))
		}
		n = n.Children[i]
	}
	return n, nil
}

func (t *Tree) path(n *dt.Node) string {
	if n == t.root {
		return "/"
	}
	var parts []string
	for ; n != t.root && n != nil; n = t.parent[n] {
		parts = append([]string{n.Name}, parts...)
	}
	return "/" + strings.Join(parts, "/")
}

// Device reads a node's compatible strings, its registers translated to
// physical addresses and its interrupts as seL4 numbers them.
func (t *Tree) Device(path string) (*Device, error) {
	n, err := t.Node(path)
	if err != nil {
		return nil, err
	}
	d := &Device{Path: path}
	d.Compatible = stringList(n, "compatible")
	if d.Regs, err = t.regs(n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.IRQs, err = t.irqs(n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// cells reads a property as big-endian 32-bit cells.
func cells(n *dt.Node, name string) ([]uint32, bool) {
	p, ok := n.LookProperty(name)
	if !ok || len(p.Value)%4 != 0 {
		return nil, false
	}
	out := make([]uint32, len(p.Value)/4)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(p.Value[4*i:])
	}
	return out, true
}

// stringList reads a property of NUL-terminated strings. (u-root's
// AsStringList panics on some lists, so plinth splits them itself.)
func stringList(n *dt.Node, name string) []string {
	p, ok := n.LookProperty(name)
	if !ok {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(p.Value), "\x00"), "\x00")
}

// cellCount is a bus node's #address-cells or #size-cells (the
// specification's defaults are 2 and 1).
func cellCount(n *dt.Node, name string, def int) int {
	if v, ok := cells(n, name); ok && len(v) == 1 {
		return int(v[0])
	}
	return def
}

func number(c []uint32) uint64 {
	var v uint64
	for _, x := range c {
		v = v<<32 | uint64(x)
	}
	return v
}

func (t *Tree) regs(n *dt.Node) ([]Region, error) {
	reg, ok := cells(n, "reg")
	if !ok {
		return nil, nil
	}
	bus := t.parent[n]
	ac, sc := cellCount(bus, "#address-cells", 2), cellCount(bus, "#size-cells", 1)
	if ac+sc == 0 || len(reg)%(ac+sc) != 0 {
		return nil, fmt.Errorf("reg has %d cells, not a multiple of %d address and %d size cells", len(reg), ac, sc)
	}
	var out []Region
	for i := 0; i < len(reg); i += ac + sc {
		addr, size := number(reg[i:i+ac]), number(reg[i+ac:i+ac+sc])
		phys, err := t.translate(bus, addr)
		if err != nil {
			return nil, err
		}
		out = append(out, Region{Base: phys, Size: size})
	}
	return out, nil
}

// translate follows an address on bus up through every parent's ranges.
func (t *Tree) translate(bus *dt.Node, addr uint64) (uint64, error) {
	for bus != t.root {
		up := t.parent[bus]
		p, ok := bus.LookProperty("ranges")
		if !ok {
			return 0, fmt.Errorf("bus %s has no ranges: its addresses are not physical", t.path(bus))
		}
		if len(p.Value) == 0 { // identity mapping
			bus = up
			continue
		}
		r, _ := cells(bus, "ranges")
		cac, pac, sc := cellCount(bus, "#address-cells", 2), cellCount(up, "#address-cells", 2), cellCount(bus, "#size-cells", 1)
		w := cac + pac + sc
		if len(r)%w != 0 {
			return 0, fmt.Errorf("bus %s: ranges has %d cells, not a multiple of %d", t.path(bus), len(r), w)
		}
		found := false
		for i := 0; i < len(r); i += w {
			child, parent, size := number(r[i:i+cac]), number(r[i+cac:i+cac+pac]), number(r[i+cac+pac:i+w])
			if addr >= child && addr-child < size {
				addr, found = parent+(addr-child), true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("address %#x is outside every range of bus %s", addr, t.path(bus))
		}
		bus = up
	}
	return addr, nil
}

// interruptParent is the controller a node's interrupts go to: its own
// interrupt-parent or the nearest ancestor's.
func (t *Tree) interruptParent(n *dt.Node) (*dt.Node, error) {
	for m := n; m != nil; m = t.parent[m] {
		if v, ok := cells(m, "interrupt-parent"); ok && len(v) == 1 {
			c, ok := t.phandles[v[0]]
			if !ok {
				return nil, fmt.Errorf("interrupt-parent <%#x> is no node's phandle", v[0])
			}
			return c, nil
		}
	}
	return nil, fmt.Errorf("no interrupt-parent")
}

func (t *Tree) irqs(n *dt.Node) ([]IRQ, error) {
	var out []IRQ
	if ext, ok := cells(n, "interrupts-extended"); ok {
		for i := 0; i < len(ext); {
			ctl, ok := t.phandles[ext[i]]
			if !ok {
				return nil, fmt.Errorf("interrupts-extended names <%#x>, no node's phandle", ext[i])
			}
			nc := cellCount(ctl, "#interrupt-cells", 1)
			if i+1+nc > len(ext) {
				return nil, fmt.Errorf("interrupts-extended ends inside a specifier")
			}
			irq, err := t.seL4IRQ(ctl, ext[i+1:i+1+nc])
			if err != nil {
				return nil, err
			}
			out = append(out, irq)
			i += 1 + nc
		}
		return out, nil
	}
	spec, ok := cells(n, "interrupts")
	if !ok {
		return nil, nil
	}
	ctl, err := t.interruptParent(n)
	if err != nil {
		return nil, err
	}
	nc := cellCount(ctl, "#interrupt-cells", 1)
	if nc == 0 || len(spec)%nc != 0 {
		return nil, fmt.Errorf("interrupts has %d cells, not a multiple of the controller's %d", len(spec), nc)
	}
	for i := 0; i < len(spec); i += nc {
		irq, err := t.seL4IRQ(ctl, spec[i:i+nc])
		if err != nil {
			return nil, err
		}
		out = append(out, irq)
	}
	return out, nil
}

// seL4IRQ turns an interrupt specifier into seL4's number: on an ARM GIC,
// SPI n is n+32 and PPI n is n+16, with the trigger in the flags cell; on a
// RISC-V PLIC the number is the source, level-triggered. A controller that
// is neither but has its own interrupt parent (i.MX's GPC) passes the
// specifier on unchanged.
func (t *Tree) seL4IRQ(ctl *dt.Node, spec []uint32) (IRQ, error) {
	compat := stringList(ctl, "compatible")
	has := func(sub string) bool {
		return slices.ContainsFunc(compat, func(c string) bool { return strings.Contains(c, sub) })
	}
	switch {
	case has("gic") && len(spec) >= 3:
		irq := IRQ{Number: uint64(spec[1]), Trigger: "level"}
		switch spec[0] {
		case 0:
			irq.Number += 32
		case 1:
			irq.Number += 16
		default:
			return IRQ{}, fmt.Errorf("GIC interrupt type %d is neither SPI (0) nor PPI (1)", spec[0])
		}
		if spec[2]&0x3 != 0 { // IRQ_TYPE_EDGE_RISING or _FALLING
			irq.Trigger = "edge"
		}
		return irq, nil
	case has("plic") && len(spec) >= 1:
		return IRQ{Number: uint64(spec[0]), Trigger: "level"}, nil
	}
	if next, err := t.interruptParent(ctl); err == nil && next != ctl {
		return t.seL4IRQ(next, spec)
	}
	return IRQ{}, fmt.Errorf("interrupt controller %s (%s) is not one plinth can translate (an ARM GIC or a RISC-V PLIC)", t.path(ctl), strings.Join(compat, ", "))
}
