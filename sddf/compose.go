package sddf

import (
	"fmt"
	"path"
	"slices"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

// Composed is what composing adds besides the system description: the
// config bytes to write into each ELF, by file and section.
type Composed struct {
	Sections map[string]map[string][]byte
}

func (c *Composed) set(elf string, cfg Config, v Value) error {
	b, err := cfg.Encode(v)
	if err != nil {
		return err
	}
	if c.Sections == nil {
		c.Sections = map[string]map[string][]byte{}
	}
	if c.Sections[elf] == nil {
		c.Sections[elf] = map[string][]byte{}
	}
	c.Sections[elf][cfg.Section] = b
	return nil
}

// configsByStruct is a release's configs by their struct's name.
func configsByStruct(release string) (map[string]Config, error) {
	configs, err := ConfigsFor(release)
	if err != nil {
		return nil, err
	}
	byName := map[string]Config{}
	for _, c := range configs {
		byName[c.Struct.Name] = c
	}
	return byName, nil
}

// Composer adds sDDF device classes to one system for one board, keeping
// what the classes share: the configs of the sDDF release, the physical
// memory handed out for DMA (downward from the board's paddr_top, as
// sdfgen hands it out) and the config bytes for each ELF.
type Composer struct {
	sys     *sdf.System
	board   *boards.Board
	drivers []Driver
	configs map[string]Config
	top     uint64 // the next DMA region ends here
	floor   uint64 // and may not start below this: the bottom of that RAM
	Out     Composed
}

// NewComposer is a composer for sys on board b with the drivers of an
// sDDF tree whose release gives the config layouts.
func NewComposer(sys *sdf.System, b *boards.Board, drivers []Driver, release string) (*Composer, error) {
	configs, err := configsByStruct(release)
	if err != nil {
		return nil, err
	}
	c := &Composer{sys: sys, board: b, drivers: drivers, configs: configs}
	if b.SDDF != nil && b.SDDF.PaddrTop != 0 {
		c.top = b.SDDF.PaddrTop
		for _, m := range b.Memory {
			if m.Base < c.top && c.top <= m.Base+m.Size {
				c.floor = m.Base
			}
		}
	}
	return c, nil
}

// dma takes size bytes of physical memory for a region devices reach
// directly: the next below the last, as sdfgen allocates (unaligned
// beyond pages: such regions use 4 KiB pages).
func (c *Composer) dma(name string, size uint64) (uint64, error) {
	if c.top == 0 {
		return 0, fmt.Errorf("%s needs memory at a physical address, and board %s's file gives no sddf.paddr_top to allocate it below", name, c.board.Name)
	}
	size = (size + 0xfff) &^ 0xfff
	if c.top-c.floor < size {
		return 0, fmt.Errorf("%s (%#x bytes) does not fit: the DMA regions below paddr_top %#x have used the RAM down to %#x", name, size, c.board.SDDF.PaddrTop, c.top)
	}
	c.top -= size
	return c.top, nil
}

// deviceResources maps the device's register pages and the memory its
// driver's config.json asks for into the driver and hands it the device's
// interrupts, returning the driver's .device_resources. As sdfgen does,
// regions are named NODE/drivers/CLASS/REGION, register pages shared by
// two devices are one region, a register's address in the config keeps
// its offset in the page, and maps are uncached unless the driver asks.
func (c *Composer) deviceResources(driver *sdf.PD, class boards.DeviceClass, dev boards.Device, drv *Driver) (Value, error) {
	sys, b := c.sys, c.board
	node := path.Base(dev.Node)
	if dev.Node == "" {
		node = driver.Name
	}
	var regions, irqs []any
	for _, r := range drv.Regions {
		name := fmt.Sprintf("%s/drivers/%s/%s", node, class, r.Name)
		mr := &sdf.MR{Name: name, Size: (max(r.Size, 1) + 0xfff) &^ 0xfff, PageSize: 0x1000}
		var offset uint64
		if r.DTIndex != nil {
			if *r.DTIndex >= len(dev.Regs) {
				return nil, fmt.Errorf("board %s %s: driver %s wants register window %d; the board file lists %d", b.Name, dev.Node, drv.Dir, *r.DTIndex, len(dev.Regs))
			}
			reg := dev.Regs[*r.DTIndex]
			page := reg.Base &^ 0xfff
			offset = reg.Base - page
			if r.Size == 0 {
				mr.Size = (reg.Base+reg.Size+0xfff)&^0xfff - page
			}
			mr.PhysAddr = &page
			for _, other := range sys.MRs {
				if other.PhysAddr != nil && *other.PhysAddr == page {
					mr = other // another device in the same page
				}
			}
		} else {
			paddr, err := c.dma(name, mr.Size)
			if err != nil {
				return nil, err
			}
			mr.PhysAddr = &paddr
		}
		if sys.MR(mr.Name) == nil {
			sys.MRs = append(sys.MRs, mr)
			sys.Changed()
		} else if sys.MR(mr.Name) != mr {
			return nil, fmt.Errorf("the system already has a memory region %s", mr.Name)
		}
		perms := r.Perms
		if perms == "" {
			perms = "rw"
		}
		vaddr := nextVaddr(sys, driver, mr.Size)
		driver.Maps = append(driver.Maps, &sdf.Map{MR: mr.Name, Vaddr: vaddr, Perms: perms, Cached: r.Cached})
		regions = append(regions, Value{"region": Value{"vaddr": vaddr + offset, "size": mr.Size}, "io_addr": *mr.PhysAddr})
	}
	for _, q := range drv.IRQs {
		if q.DTIndex >= len(dev.IRQs) || dev.IRQs[q.DTIndex].IRQ == nil {
			return nil, fmt.Errorf("board %s %s: driver %s wants interrupt %d; the board file lists %d", b.Name, dev.Node, drv.Dir, q.DTIndex, len(dev.IRQs))
		}
		d := dev.IRQs[q.DTIndex]
		id, err := freeID(sys, driver)
		if err != nil {
			return nil, err
		}
		driver.IRQs = append(driver.IRQs, &sdf.IRQ{Kind: sdf.IRQConventional, ID: id, Number: *d.IRQ, Trigger: string(d.Trigger)})
		irqs = append(irqs, Value{"id": int(id)})
	}
	return Value{"num_regions": len(regions), "num_irqs": len(irqs), "regions": regions, "irqs": irqs}, nil
}

// freeID is the lowest channel id (0–61) the PD does not use yet for a
// channel end or an interrupt.
func freeID(sys *sdf.System, pd *sdf.PD) (uint64, error) {
	var used []uint64
	for _, q := range pd.IRQs {
		used = append(used, q.ID)
	}
	for _, ch := range sys.Channels {
		for _, e := range ch.Ends {
			if e.PD == pd.Name {
				used = append(used, e.ID)
			}
		}
	}
	for id := uint64(0); id <= sdf.MaxID; id++ {
		if !slices.Contains(used, id) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("protection domain %s has no free channel id (all %d are used)", pd.Name, sdf.MaxID+1)
}

// newDriver makes the protection domain of the board's first device of
// class, driven by the sDDF driver its compatible strings match, and
// returns it with its .device_resources. The caller adds the PD to sys.
func (c *Composer) newDriver(class boards.DeviceClass, name string, priority uint64) (*sdf.PD, Value, error) {
	b := c.board
	if b.SDDF == nil || len(b.SDDF.Devices[class]) == 0 {
		return nil, nil, fmt.Errorf("board %s has no %s device in its board file", b.Name, class)
	}
	dev := b.SDDF.Devices[class][0]
	drv, err := MatchDriver(c.drivers, string(class), dev.Compatible)
	if err != nil {
		return nil, nil, fmt.Errorf("board %s %s %s: %w", b.Name, class, dev.Node, err)
	}
	if c.sys.PD(name) != nil {
		return nil, nil, fmt.Errorf("the system already has a protection domain %s", name)
	}
	pd := &sdf.PD{Name: name, Priority: priority, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: 0x1000, FPU: true, Program: name + ".elf"}
	res, err := c.deviceResources(pd, class, dev, drv)
	if err != nil {
		return nil, nil, err
	}
	return pd, res, nil
}

// set encodes a config for an ELF into c.Out.
func (c *Composer) set(elf, structName string, v Value) error {
	cfg, ok := c.configs[structName]
	if !ok {
		return fmt.Errorf("plinth has no layout of %s for this sDDF release", structName)
	}
	return c.Out.set(elf, cfg, v)
}

// clientPDs finds each client's protection domain, refusing one that is
// not in the system, one listed twice, one not below the PD it calls or
// is served by (tail says which: "the serial virtualisers' is 199 and must
// be higher"), and two clients running one program (each gets a config of
// its own in its ELF).
func (c *Composer) clientPDs(class string, names []string, below uint64, tail string) ([]*sdf.PD, error) {
	var pds []*sdf.PD
	seen := map[string]bool{}
	programs := map[string]string{}
	for _, name := range names {
		pd := c.sys.PD(name)
		switch {
		case pd == nil:
			return nil, fmt.Errorf("%s client %s is not a protection domain of the system", class, name)
		case seen[name]:
			return nil, fmt.Errorf("%s client %s is listed twice", class, name)
		case pd.Priority >= below:
			return nil, fmt.Errorf("%s client %s has priority %d; %s", class, name, pd.Priority, tail)
		}
		if other, ok := programs[pd.Program]; ok {
			return nil, fmt.Errorf("%s clients %s and %s run the same program %s; each needs its own ELF for its config", class, other, name, pd.Program)
		}
		programs[pd.Program], seen[name] = name, true
		pds = append(pds, pd)
	}
	return pds, nil
}

// mapVaddrBase is where composed shared regions start in a PD's address
// space, as sdfgen places them: above the program and the device windows.
const mapVaddrBase = 0x20000000

// nextVaddr is the lowest page-aligned address at or above mapVaddrBase
// past every region the PD maps, for a new region of the given size.
func nextVaddr(sys *sdf.System, pd *sdf.PD, size uint64) uint64 {
	page := uint64(0x1000)
	if size%0x200000 == 0 {
		page = 0x200000
	}
	next := uint64(mapVaddrBase)
	for _, m := range pd.Maps {
		mr := sys.MR(m.MR)
		if mr == nil || m.Vaddr+mr.Size <= next {
			continue
		}
		next = m.Vaddr + mr.Size
	}
	return (next + page - 1) / page * page
}

// access is one PD's map of a shared region.
type access struct {
	pd    *sdf.PD
	perms string
}

// share adds a memory region of size to sys (at a physical address when
// phys is given) and maps it into each PD with its permissions, cached,
// returning each side's view as an sDDF region_resource_t.
func share(sys *sdf.System, name string, size uint64, phys *uint64, ends ...access) ([]Value, error) {
	if sys.MR(name) != nil {
		return nil, fmt.Errorf("the system already has a memory region %s", name)
	}
	sys.MRs = append(sys.MRs, &sdf.MR{Name: name, Size: size, PageSize: 0x1000, PhysAddr: phys})
	sys.Changed()
	var views []Value
	for _, e := range ends {
		vaddr := nextVaddr(sys, e.pd, size)
		e.pd.Maps = append(e.pd.Maps, &sdf.Map{MR: name, Vaddr: vaddr, Perms: e.perms, Cached: true})
		views = append(views, Value{"vaddr": vaddr, "size": size})
	}
	return views, nil
}

// shareRegion adds a memory region of size to sys and maps it read-write
// into both PDs, returning each side's view.
func shareRegion(sys *sdf.System, name string, size uint64, a, b *sdf.PD) (Value, Value, error) {
	views, err := share(sys, name, size, nil, access{a, "rw"}, access{b, "rw"})
	if err != nil {
		return nil, nil, err
	}
	return views[0], views[1], nil
}

// connect adds a channel between two PDs, each end at its lowest free id
// and both ends allowed to notify, and returns the two ids.
func connect(sys *sdf.System, a, b *sdf.PD) (uint64, uint64, error) {
	idA, err := freeID(sys, a)
	if err != nil {
		return 0, 0, err
	}
	idB, err := freeID(sys, b)
	if err != nil {
		return 0, 0, err
	}
	sys.Channels = append(sys.Channels, &sdf.Channel{Ends: [2]*sdf.End{
		{PD: a.Name, ID: idA, Notify: true},
		{PD: b.Name, ID: idB, Notify: true},
	}})
	return idA, idB, nil
}
