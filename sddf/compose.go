package sddf

import (
	"fmt"
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

// Merge adds other's sections to c; two classes writing the same
// section of the same ELF is an error.
func (c *Composed) Merge(other *Composed) error {
	for elf, sections := range other.Sections {
		for name, b := range sections {
			if _, dup := c.Sections[elf][name]; dup {
				return fmt.Errorf("%s: two device classes both write %s", elf, name)
			}
			if c.Sections == nil {
				c.Sections = map[string]map[string][]byte{}
			}
			if c.Sections[elf] == nil {
				c.Sections[elf] = map[string][]byte{}
			}
			c.Sections[elf][name] = b
		}
	}
	return nil
}

// driverVaddr is where a driver's device registers are mapped (above the
// PD's program, below its stack), one 2 MiB step per region.
const driverVaddr = 0x2000000

// deviceResources maps the device's register windows and allocated
// regions into the driver and hands it the device's interrupts, as the
// driver's config.json asks, returning the driver's .device_resources.
func deviceResources(sys *sdf.System, driver *sdf.PD, b *boards.Board, dev boards.Device, drv *Driver) (Value, error) {
	var regions, irqs []any
	for i, r := range drv.Regions {
		mr := &sdf.MR{Name: fmt.Sprintf("%s_%s", driver.Name, r.Name), Size: max(r.Size, 0x1000), PageSize: 0x1000}
		var io uint64
		if r.DTIndex != nil {
			if *r.DTIndex >= len(dev.Regs) {
				return nil, fmt.Errorf("board %s %s: driver %s wants register window %d; the board file lists %d", b.Name, dev.Node, drv.Dir, *r.DTIndex, len(dev.Regs))
			}
			reg := dev.Regs[*r.DTIndex]
			io = reg.Base
			mr.PhysAddr = &io
			mr.Size = max(r.Size, reg.Size)
		}
		if sys.MR(mr.Name) != nil {
			return nil, fmt.Errorf("the system already has a memory region %s", mr.Name)
		}
		sys.MRs = append(sys.MRs, mr)
		sys.Changed()
		vaddr := uint64(driverVaddr + i*0x200000)
		driver.Maps = append(driver.Maps, &sdf.Map{MR: mr.Name, Vaddr: vaddr, Perms: "rw", Cached: r.Cached || r.DTIndex == nil})
		regions = append(regions, Value{"region": Value{"vaddr": vaddr, "size": mr.Size}, "io_addr": io})
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
func newDriver(sys *sdf.System, b *boards.Board, drivers []Driver, class boards.DeviceClass, name string, priority uint64) (*sdf.PD, Value, error) {
	if b.SDDF == nil || len(b.SDDF.Devices[class]) == 0 {
		return nil, nil, fmt.Errorf("board %s has no %s device in its board file", b.Name, class)
	}
	dev := b.SDDF.Devices[class][0]
	drv, err := MatchDriver(drivers, string(class), dev.Compatible)
	if err != nil {
		return nil, nil, fmt.Errorf("board %s %s %s: %w", b.Name, class, dev.Node, err)
	}
	if sys.PD(name) != nil {
		return nil, nil, fmt.Errorf("the system already has a protection domain %s", name)
	}
	pd := &sdf.PD{Name: name, Priority: priority, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: 0x1000, FPU: true, Program: name + ".elf"}
	res, err := deviceResources(sys, pd, b, dev, drv)
	if err != nil {
		return nil, nil, err
	}
	return pd, res, nil
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

// shareRegion adds a memory region of size to sys and maps it read-write
// into both PDs, returning each side's view as an sDDF region_resource_t.
func shareRegion(sys *sdf.System, name string, size uint64, a, b *sdf.PD) (Value, Value, error) {
	if sys.MR(name) != nil {
		return nil, nil, fmt.Errorf("the system already has a memory region %s", name)
	}
	sys.MRs = append(sys.MRs, &sdf.MR{Name: name, Size: size, PageSize: 0x1000})
	sys.Changed()
	var views [2]Value
	for i, pd := range []*sdf.PD{a, b} {
		vaddr := nextVaddr(sys, pd, size)
		pd.Maps = append(pd.Maps, &sdf.Map{MR: name, Vaddr: vaddr, Perms: "rw", Cached: true})
		views[i] = Value{"vaddr": vaddr, "size": size}
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
