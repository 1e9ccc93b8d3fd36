package sddf

import (
	"fmt"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

// The I²C class as sdfgen 0.23.1 sizes it for sDDF 0.6.0, with the
// priorities of sDDF's i2c example.
const (
	i2cRegionSize     = 0x1000 // request, response and each client's data
	i2cBuffers        = 128
	i2cDriverPriority = 3
	i2cVirtPriority   = 2
)

// I2C adds the board's I²C driver and sDDF's I²C virtualiser and connects
// each client through it as sDDF 0.6.0's class does: request and response
// queues between driver and virtualiser and between the virtualiser and
// each client, each client's data region mapped into the client and into
// the driver (which reads and writes it; the virtualiser hands it offsets),
// clients calling the passive virtualiser by protected procedure call.
// Board regions the driver's code expects at fixed addresses (clock and
// pin control without their own drivers) are mapped there.
func (c *Composer) I2C(clients []string) error {
	sys, b := c.sys, c.board
	if _, ok := c.configs["i2c_driver_config_t"]; !ok {
		return fmt.Errorf("plinth composes the I²C class in sDDF 0.6.0's layout only (0.7 changed its configs)")
	}
	if len(clients) == 0 {
		return fmt.Errorf("the I²C bus needs at least one client")
	}
	if len(clients) > 64 {
		return fmt.Errorf("the I²C bus has %d clients; sDDF allows at most 64", len(clients))
	}
	pds, err := c.clientPDs("I²C", clients, i2cVirtPriority, fmt.Sprintf("the I²C virtualiser's is %d and must be higher (clients call it)", i2cVirtPriority))
	if err != nil {
		return err
	}
	driver, res, err := c.newDriver("i2c", "i2c_driver", i2cDriverPriority)
	if err != nil {
		return err
	}
	if sys.PD("i2c_virt") != nil {
		return fmt.Errorf("the system already has a protection domain i2c_virt")
	}
	virt := &sdf.PD{Name: "i2c_virt", Priority: i2cVirtPriority, Passive: true, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: 0x1000, FPU: true, Program: "i2c_virt.elf"}
	sys.PDs = append(sys.PDs, driver, virt)
	sys.Changed()

	req, err := share(sys, "i2c_driver_request", i2cRegionSize, nil, access{driver, "rw"}, access{virt, "rw"})
	if err != nil {
		return err
	}
	resp, err := share(sys, "i2c_driver_response", i2cRegionSize, nil, access{driver, "rw"}, access{virt, "rw"})
	if err != nil {
		return err
	}
	drvID, virtID, err := connect(sys, driver, virt)
	if err != nil {
		return err
	}
	driverConn := Value{"req_queue": req[0], "resp_queue": resp[0], "num_buffers": i2cBuffers, "id": int(drvID)}
	virtCfg := Value{"num_clients": len(clients), "driver": Value{"conn": Value{"req_queue": req[1], "resp_queue": resp[1], "num_buffers": i2cBuffers, "id": int(virtID)}}}
	var virtClients []any
	for i, pd := range pds {
		req, err := share(sys, "i2c_client_request_"+pd.Name, i2cRegionSize, nil, access{virt, "rw"}, access{pd, "rw"})
		if err != nil {
			return err
		}
		resp, err := share(sys, "i2c_client_response_"+pd.Name, i2cRegionSize, nil, access{virt, "rw"}, access{pd, "rw"})
		if err != nil {
			return err
		}
		data, err := share(sys, "i2c_client_data_"+pd.Name, i2cRegionSize, nil, access{driver, "rw"}, access{pd, "rw"})
		if err != nil {
			return err
		}
		if i == 0 {
			// The driver sees the clients' data regions from the first's
			// address on, one after another: the virtualiser passes offsets.
			driverConn["data"] = data[0]
		}
		virtEnd, clientEnd, err := connect(sys, virt, pd)
		if err != nil {
			return err
		}
		markPP(sys, pd.Name, clientEnd)
		virtClients = append(virtClients, Value{
			"conn":               Value{"data": Value{"vaddr": 0, "size": i2cRegionSize}, "req_queue": req[0], "resp_queue": resp[0], "num_buffers": i2cBuffers, "id": int(virtEnd)},
			"driver_data_offset": i * i2cRegionSize,
		})
		if err := c.set(pd.Program, "i2c_client_config_t", Value{"virt": Value{"data": data[1], "req_queue": req[1], "resp_queue": resp[1], "num_buffers": i2cBuffers, "id": int(clientEnd)}}); err != nil {
			return err
		}
	}
	virtCfg["clients"] = virtClients
	// Last, so the shared regions sit low, from 0x2000_0000 on.
	for _, x := range b.SDDF.Extra {
		if x.Driver != "i2c" {
			continue
		}
		base := x.Base
		name := "i2c_driver_" + x.Name
		if sys.MR(name) != nil {
			return fmt.Errorf("the system already has a memory region %s", name)
		}
		sys.MRs = append(sys.MRs, &sdf.MR{Name: name, Size: (x.Size + 0xfff) &^ 0xfff, PageSize: 0x1000, PhysAddr: &base})
		driver.Maps = append(driver.Maps, &sdf.Map{MR: name, Vaddr: x.Vaddr, Perms: "rw"})
	}
	sys.Changed()
	if err := c.set(driver.Program, "i2c_driver_config_t", Value{"virt": driverConn}); err != nil {
		return err
	}
	if err := c.set(driver.Program, "device_resources_t", res); err != nil {
		return err
	}
	return c.set(virt.Program, "i2c_virt_config_t", virtCfg)
}

// markPP makes the PD's end of its channel with that id the calling end.
func markPP(sys *sdf.System, pd string, id uint64) {
	for _, ch := range sys.Channels {
		for _, e := range ch.Ends {
			if e.PD == pd && e.ID == id {
				e.PP = true
			}
		}
	}
}

// ComposeI2C composes the I²C class alone onto sys.
func ComposeI2C(sys *sdf.System, b *boards.Board, drivers []Driver, release string, clients []string) (*Composed, error) {
	c, err := NewComposer(sys, b, drivers, release)
	if err != nil {
		return nil, err
	}
	if err := c.I2C(clients); err != nil {
		return nil, err
	}
	return &c.Out, nil
}
