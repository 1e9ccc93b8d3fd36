package sddf

import (
	"fmt"
	"path"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

// Serial is what a system asks of sDDF's serial class.
type Serial struct {
	Clients []string // PDs that print (and read, with RX) through the virtualisers
	Begin   string   // what the transmit virtualiser prints first
	Colour  bool     // each client's output in its own colour
	RX      bool     // input: a receive virtualiser, and the driver receives
}

// The serial class as sDDF sizes and places it (sdfgen 0.23.1, the
// generator sDDF 0.6.0's examples pin; unchanged in sDDF 0.7's).
const (
	serialQueueSize      = 0x1000
	serialDataSize       = 0x10000
	serialBaud           = 115200
	serialSwitchChar     = 28   // Ctrl-\ switches input to the next client
	serialTerminateChar  = '\r' // ends a client number after the switch
	serialDriverPriority = 200
	serialVirtPriority   = 199
	serialVirtStack      = 0x2000
	// DefaultSerialBegin is the banner sdfgen gives the transmit virtualiser.
	DefaultSerialBegin = "Begin input\n"
)

// ComposeSerial adds the board's serial driver, a transmit virtualiser
// and (with RX) a receive virtualiser to sys, and connects every client
// through them as sDDF's serial class does: each connection is a queue
// region and a data region mapped into both ends and a channel, the
// driver above the virtualisers above the clients; the configs carry the
// connections, the client names and the banner in the release's layout.
func (c *Composer) Serial(s Serial) error {
	sys, b := c.sys, c.board
	if len(s.Clients) == 0 {
		return fmt.Errorf("the serial device needs at least one client")
	}
	if len(s.Clients) > maxSerialClients {
		return fmt.Errorf("the serial device has %d clients; sDDF allows at most %d", len(s.Clients), maxSerialClients)
	}
	if len(s.Begin) >= serialBeginMax {
		return fmt.Errorf("the serial begin string is %d bytes; sDDF allows at most %d", len(s.Begin), serialBeginMax-1)
	}
	clients, err := c.clientPDs("serial", s.Clients, serialVirtPriority, fmt.Sprintf("the serial virtualisers' is %d and must be higher", serialVirtPriority))
	if err != nil {
		return err
	}
	for _, pd := range clients {
		if len(pd.Name) >= nameLength {
			return fmt.Errorf("serial client %s: the name is %d bytes; sDDF keeps at most %d", pd.Name, len(pd.Name), nameLength-1)
		}
	}
	driver, res, err := c.newDriver("serial", "serial_driver", serialDriverPriority)
	if err != nil {
		return err
	}
	virt := func(name string) (*sdf.PD, error) {
		if sys.PD(name) != nil {
			return nil, fmt.Errorf("the system already has a protection domain %s", name)
		}
		return &sdf.PD{Name: name, Priority: serialVirtPriority, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: serialVirtStack, FPU: true, Program: name + ".elf"}, nil
	}
	virtTX, err := virt("serial_virt_tx")
	if err != nil {
		return err
	}
	sys.PDs = append(sys.PDs, driver, virtTX)
	var virtRX *sdf.PD
	if s.RX {
		if virtRX, err = virt("serial_virt_rx"); err != nil {
			return err
		}
		sys.PDs = append(sys.PDs, virtRX)
	}
	sys.Changed()

	// Regions are named after the device node, the server and the client,
	// as sdfgen names them, so a composed system reads like upstream's.
	node := path.Base(b.SDDF.Devices["serial"][0].Node)
	connection := func(server, client *sdf.PD) (Value, Value, error) {
		prefix := node + "/serial/"
		queueS, queueC, err := shareRegion(sys, prefix+"queue/"+server.Name+"/"+client.Name, serialQueueSize, server, client)
		if err != nil {
			return nil, nil, err
		}
		dataS, dataC, err := shareRegion(sys, prefix+"data/"+server.Name+"/"+client.Name, serialDataSize, server, client)
		if err != nil {
			return nil, nil, err
		}
		idS, idC, err := connect(sys, server, client)
		if err != nil {
			return nil, nil, err
		}
		return Value{"queue": queueS, "data": dataS, "id": int(idS)}, Value{"queue": queueC, "data": dataC, "id": int(idC)}, nil
	}

	// The order of connections decides channel ids and addresses; it is
	// sdfgen's: receive side first, then transmit.
	driverCfg := Value{"default_baud": serialBaud, "rx_enabled": s.RX}
	clientCfg := make([]Value, len(clients))
	for i := range clientCfg {
		clientCfg[i] = Value{}
	}
	if s.RX {
		drvEnd, virtEnd, err := connection(driver, virtRX)
		if err != nil {
			return err
		}
		driverCfg["rx"] = drvEnd
		var conns []any
		for i, pd := range clients {
			virtEnd, clientEnd, err := connection(virtRX, pd)
			if err != nil {
				return err
			}
			conns = append(conns, virtEnd)
			clientCfg[i]["rx"] = clientEnd
		}
		rx := Value{"driver": virtEnd, "clients": conns, "num_clients": len(clients), "switch_char": serialSwitchChar, "terminate_num_char": int(serialTerminateChar)}
		if err := c.set(virtRX.Program, "serial_virt_rx_config_t", rx); err != nil {
			return err
		}
	}
	drvEnd, virtEnd, err := connection(driver, virtTX)
	if err != nil {
		return err
	}
	driverCfg["tx"] = drvEnd
	var txClients []any
	for i, pd := range clients {
		virtEnd, clientEnd, err := connection(virtTX, pd)
		if err != nil {
			return err
		}
		txClients = append(txClients, Value{"conn": virtEnd, "name": pd.Name})
		clientCfg[i]["tx"] = clientEnd
	}
	tx := Value{"driver": virtEnd, "clients": txClients, "num_clients": len(clients), "begin_str": s.Begin, "enable_colour": s.Colour, "enable_rx": s.RX}
	if c.configs["serial_virt_tx_config_t"].Struct.Has("begin_str_len") {
		tx["begin_str_len"] = len(s.Begin)
	}
	if err := c.set(virtTX.Program, "serial_virt_tx_config_t", tx); err != nil {
		return err
	}
	if err := c.set(driver.Program, "serial_driver_config_t", driverCfg); err != nil {
		return err
	}
	if err := c.set(driver.Program, "device_resources_t", res); err != nil {
		return err
	}
	for i, pd := range clients {
		if err := c.set(pd.Program, "serial_client_config_t", clientCfg[i]); err != nil {
			return err
		}
	}
	return nil
}

// ComposeSerial composes the serial class alone onto sys.
func ComposeSerial(sys *sdf.System, b *boards.Board, drivers []Driver, release string, s Serial) (*Composed, error) {
	c, err := NewComposer(sys, b, drivers, release)
	if err != nil {
		return nil, err
	}
	if err := c.Serial(s); err != nil {
		return nil, err
	}
	return &c.Out, nil
}
