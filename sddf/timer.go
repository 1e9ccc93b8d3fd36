package sddf

import (
	"fmt"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

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
func (c *Composer) Timer(clients []string) error {
	sys := c.sys
	if len(clients) == 0 {
		return fmt.Errorf("the timer needs at least one client")
	}
	if len(clients) > 64 {
		return fmt.Errorf("the timer has %d clients; sDDF allows at most 64", len(clients))
	}
	driver, res, err := c.newDriver("timer", "timer_driver", timerDriverPriority)
	if err != nil {
		return err
	}
	driver.Passive = true
	for _, name := range clients {
		pd := sys.PD(name)
		if pd == nil {
			return fmt.Errorf("timer client %s is not a protection domain of the system", name)
		}
		if pd.Priority >= timerDriverPriority {
			return fmt.Errorf("timer client %s has priority %d; the timer driver's is %d and must be higher", name, pd.Priority, timerDriverPriority)
		}
		clientID, err := freeID(sys, pd)
		if err != nil {
			return err
		}
		driverID, err := freeID(sys, driver)
		if err != nil {
			return err
		}
		sys.Channels = append(sys.Channels, &sdf.Channel{Ends: [2]*sdf.End{
			{PD: name, ID: clientID, PP: true, Notify: true},
			{PD: driver.Name, ID: driverID, Notify: true},
		}})
		if err := c.set(pd.Program, "timer_client_config_t", Value{"driver_id": int(clientID)}); err != nil {
			return err
		}
	}
	sys.PDs = append(sys.PDs, driver)
	sys.Changed()
	if err := c.set(driver.Program, "device_resources_t", res); err != nil {
		return err
	}
	return nil
}

// ComposeTimer composes the timer class alone onto sys.
func ComposeTimer(sys *sdf.System, b *boards.Board, drivers []Driver, release string, clients []string) (*Composed, error) {
	c, err := NewComposer(sys, b, drivers, release)
	if err != nil {
		return nil, err
	}
	if err := c.Timer(clients); err != nil {
		return nil, err
	}
	return &c.Out, nil
}
