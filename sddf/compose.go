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

// driverVaddr is where a driver's device registers are mapped (above the
// PD's program, below its stack), one 2 MiB step per region.
const driverVaddr = 0x2000000

// timerDriverPriority is the driver's priority in sDDF's timer example;
// clients call it by protected procedure call, so it must be above them.
const timerDriverPriority = 254

// ComposeTimer adds the board's timer driver to sys and connects each
// client to it as sDDF's timer class does: the driver is passive and
// above every client, each client calls it by protected procedure call
// (pp on the client's end) and is notified on the same channel when its
// timeout expires, and the driver learns its device through
// .device_resources and each client its channel through
// .timer_client_config, in the layout of the sDDF release.
func ComposeTimer(sys *sdf.System, b *boards.Board, drivers []Driver, release string, clients []string) (*Composed, error) {
	configs, err := ConfigsFor(release)
	if err != nil {
		return nil, err
	}
	byName := map[string]Config{}
	for _, c := range configs {
		byName[c.Struct.Name] = c
	}
	if b.SDDF == nil || len(b.SDDF.Devices["timer"]) == 0 {
		return nil, fmt.Errorf("board %s has no timer device in its board file", b.Name)
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("the timer needs at least one client")
	}
	if len(clients) > 64 {
		return nil, fmt.Errorf("the timer has %d clients; sDDF allows at most 64", len(clients))
	}
	dev := b.SDDF.Devices["timer"][0]
	drv, err := MatchDriver(drivers, "timer", dev.Compatible)
	if err != nil {
		return nil, fmt.Errorf("board %s timer %s: %w", b.Name, dev.Node, err)
	}
	const name = "timer_driver"
	if sys.PD(name) != nil {
		return nil, fmt.Errorf("the system already has a protection domain %s", name)
	}
	driver := &sdf.PD{Name: name, Priority: timerDriverPriority, Passive: true, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: 0x1000, FPU: true, Program: name + ".elf"}
	res, err := deviceResources(sys, driver, b, dev, drv)
	if err != nil {
		return nil, err
	}
	var out Composed
	for _, c := range clients {
		pd := sys.PD(c)
		if pd == nil {
			return nil, fmt.Errorf("timer client %s is not a protection domain of the system", c)
		}
		if pd.Priority >= timerDriverPriority {
			return nil, fmt.Errorf("timer client %s has priority %d; the timer driver's is %d and must be higher", c, pd.Priority, timerDriverPriority)
		}
		clientID, err := freeID(sys, pd)
		if err != nil {
			return nil, err
		}
		driverID, err := freeID(sys, driver)
		if err != nil {
			return nil, err
		}
		sys.Channels = append(sys.Channels, &sdf.Channel{Ends: [2]*sdf.End{
			{PD: c, ID: clientID, PP: true, Notify: true},
			{PD: name, ID: driverID, Notify: true},
		}})
		if err := out.set(pd.Program, byName["timer_client_config_t"], Value{"driver_id": int(clientID)}); err != nil {
			return nil, err
		}
	}
	sys.PDs = append(sys.PDs, driver)
	sys.Changed()
	if err := out.set(driver.Program, byName["device_resources_t"], res); err != nil {
		return nil, err
	}
	return &out, nil
}

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

// freeID is the lowest channel id (0–62) the PD does not use yet for a
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
	for id := uint64(0); id < 63; id++ {
		if !slices.Contains(used, id) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("protection domain %s has no free channel id (all 63 are used)", pd.Name)
}
