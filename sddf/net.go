package sddf

import (
	"crypto/sha256"
	"fmt"
	"path"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

// NetClientSpec is one client of the network device.
type NetClientSpec struct {
	Name string
	// MAC is the client's address; nil for one derived from the system
	// and the client's name (sdfgen picks random ones, so its output
	// differs run to run; plinth's does not).
	MAC  []byte
	Lwip bool // the client uses sDDF's lwIP glue: give it a pbuf pool
}

// The network class as sdfgen 0.23.1 sizes and places it for sDDF 0.6.0.
const (
	netBufferSize      = 2048
	netRxBuffers       = 512 // the device's receive buffers
	netClientBuffers   = 512 // each client's, each way
	netDriverPriority  = 101
	netDriverBudget    = 100
	netDriverPeriod    = 400
	netVirtTxPriority  = 100
	netVirtRxPriority  = 99
	netCopierPriority  = 98
	netVirtBudget      = 20000
	lwipPbufStructSize = 56 // sizeof(pbuf_custom_offset_t) with sDDF's lwipopts
)

// Net adds the board's network driver, sDDF's receive and transmit
// virtualisers and a copier per client, and connects them as sDDF 0.6.0's
// network class does: free and active queues and a channel per hop, the
// device's receive buffers (DMA) shared read-only with the receive
// virtualiser and read-write with each copier, which copies into the
// client's own receive region; each client's transmit buffers (DMA) read
// by the transmit virtualiser; each client's MAC address in the receive
// virtualiser's table. Clients that use lwIP get sDDF's pbuf pool.
func (c *Composer) Net(clients []NetClientSpec) error {
	sys, b := c.sys, c.board
	if _, ok := c.configs["net_driver_config_t"]; !ok {
		return fmt.Errorf("plinth composes the network class in sDDF 0.6.0's layout only (0.7 changed its configs)")
	}
	if len(clients) == 0 {
		return fmt.Errorf("the network device needs at least one client")
	}
	if uint64(len(clients)) > netMaxClients {
		return fmt.Errorf("the network device has %d clients; sDDF allows at most %d", len(clients), netMaxClients)
	}
	var names []string
	for _, cl := range clients {
		names = append(names, cl.Name)
	}
	pds, err := c.clientPDs("network", names, netCopierPriority, fmt.Sprintf("its copier's is %d and must be higher", netCopierPriority))
	if err != nil {
		return err
	}
	macs := map[string]string{}
	for i := range clients {
		cl := &clients[i]
		if cl.MAC == nil {
			sum := sha256.Sum256([]byte("plinth network client " + cl.Name))
			cl.MAC = append([]byte(nil), sum[:6]...)
			cl.MAC[0] = cl.MAC[0]&^0x01 | 0x02 // unicast, locally administered
		}
		if len(cl.MAC) != 6 || cl.MAC[0]&0x01 != 0 {
			return fmt.Errorf("network client %s: MAC address % x is not a 6-byte unicast address", cl.Name, cl.MAC)
		}
		mac := fmt.Sprintf("% x", cl.MAC)
		if other, ok := macs[mac]; ok {
			return fmt.Errorf("network clients %s and %s have the same MAC address", other, cl.Name)
		}
		macs[mac] = cl.Name
	}
	driver, res, err := c.newDriver("network", "ethernet_driver", netDriverPriority)
	if err != nil {
		return err
	}
	driver.Budget, driver.Period = netDriverBudget, netDriverPeriod
	newPD := func(name string, priority, budget uint64) (*sdf.PD, error) {
		if sys.PD(name) != nil {
			return nil, fmt.Errorf("the system already has a protection domain %s", name)
		}
		return &sdf.PD{Name: name, Priority: priority, Budget: budget, Period: budget, StackSize: 0x1000, FPU: true, Program: name + ".elf"}, nil
	}
	virtTX, err := newPD("net_virt_tx", netVirtTxPriority, netVirtBudget)
	if err != nil {
		return err
	}
	virtRX, err := newPD("net_virt_rx", netVirtRxPriority, sdf.DefaultBudget)
	if err != nil {
		return err
	}
	sys.PDs = append(sys.PDs, driver, virtTX, virtRX)
	var copiers []*sdf.PD
	for _, cl := range clients {
		copier, err := newPD(cl.Name+"_net_copier", netCopierPriority, netVirtBudget)
		if err != nil {
			return err
		}
		copiers = append(copiers, copier)
		sys.PDs = append(sys.PDs, copier)
	}
	sys.Changed()

	node := path.Base(b.SDDF.Devices["network"][0].Node)
	// connection is a free and an active queue of n buffers between two
	// PDs and a channel, as sdfgen's createConnection makes them.
	connection := func(server, client *sdf.PD, n int) (Value, Value, error) {
		size := (uint64(8+16*n) + 0xfff) &^ 0xfff
		prefix := fmt.Sprintf("%s/net/queue/%s/%s/", node, server.Name, client.Name)
		free, err := share(sys, prefix+"free", size, nil, access{server, "rw"}, access{client, "rw"})
		if err != nil {
			return nil, nil, err
		}
		active, err := share(sys, prefix+"active", size, nil, access{server, "rw"}, access{client, "rw"})
		if err != nil {
			return nil, nil, err
		}
		idS, idC, err := connect(sys, server, client)
		if err != nil {
			return nil, nil, err
		}
		return Value{"free_queue": free[0], "active_queue": active[0], "num_buffers": n, "id": int(idS)},
			Value{"free_queue": free[1], "active_queue": active[1], "num_buffers": n, "id": int(idC)}, nil
	}
	page := func(n uint64) uint64 { return (n + 0xfff) &^ 0xfff }

	// The driver's side: receive, then transmit.
	drvRX, rxDrv, err := connection(driver, virtRX, netRxBuffers)
	if err != nil {
		return err
	}
	rxDataName := node + "/net/rx/data/device"
	rxSize := page(netRxBuffers * netBufferSize)
	rxPaddr, err := c.dma(rxDataName, rxSize)
	if err != nil {
		return err
	}
	rxData, err := share(sys, rxDataName, rxSize, &rxPaddr, access{virtRX, "r"})
	if err != nil {
		return err
	}
	meta, err := share(sys, node+"/net/rx/virt_metadata", page(netRxBuffers*4), nil, access{virtRX, "rw"})
	if err != nil {
		return err
	}
	drvTX, txDrv, err := connection(driver, virtTX, netClientBuffers*len(clients))
	if err != nil {
		return err
	}
	rxCfg := Value{"driver": rxDrv, "data": Value{"region": rxData[0], "io_addr": rxPaddr}, "buffer_metadata": meta[0], "num_clients": len(clients)}
	txCfg := Value{"driver": txDrv, "num_clients": len(clients)}
	var rxClients, txClients []any
	for i, cl := range clients {
		pd, copier := pds[i], copiers[i]
		// Receive: virtualiser to copier, copier to client; the copier
		// maps the device's buffers and the client's receive region.
		virtEnd, copierRX, err := connection(virtRX, copier, netClientBuffers)
		if err != nil {
			return err
		}
		copierCl, clientRX, err := connection(copier, pd, netClientBuffers)
		if err != nil {
			return err
		}
		vaddr := nextVaddr(sys, copier, rxSize)
		copier.Maps = append(copier.Maps, &sdf.Map{MR: rxDataName, Vaddr: vaddr, Perms: "rw", Cached: true})
		deviceData := Value{"vaddr": vaddr, "size": rxSize}
		clientData, err := share(sys, fmt.Sprintf("%s/net/rx/data/client/%s", node, cl.Name), rxSize, nil, access{pd, "rw"}, access{copier, "rw"})
		if err != nil {
			return err
		}
		// Transmit: client to virtualiser, from the client's DMA buffers.
		txVirt, clientTX, err := connection(virtTX, pd, netClientBuffers)
		if err != nil {
			return err
		}
		txName := fmt.Sprintf("%s/net/tx/data/client/%s", node, cl.Name)
		txSize := page(netClientBuffers * netBufferSize)
		txPaddr, err := c.dma(txName, txSize)
		if err != nil {
			return err
		}
		txData, err := share(sys, txName, txSize, &txPaddr, access{virtTX, "r"}, access{pd, "rw"})
		if err != nil {
			return err
		}
		mac := make([]any, 6)
		for j, m := range cl.MAC {
			mac[j] = int(m)
		}
		rxClients = append(rxClients, Value{"conn": virtEnd, "mac_addr": mac})
		txClients = append(txClients, Value{"conn": txVirt, "data": Value{"region": txData[0], "io_addr": txPaddr}})
		if err := c.set(copier.Program, "net_copy_config_t", Value{"virt_rx": copierRX, "device_data": deviceData, "client": copierCl, "client_data": clientData[1]}); err != nil {
			return err
		}
		if err := c.set(pd.Program, "net_client_config_t", Value{"rx": clientRX, "rx_data": clientData[0], "tx": clientTX, "tx_data": txData[1], "mac_addr": mac}); err != nil {
			return err
		}
	}
	rxCfg["clients"], txCfg["clients"] = rxClients, txClients
	for _, set := range []struct {
		elf, cfg string
		v        Value
	}{
		{driver.Program, "net_driver_config_t", Value{"virt_rx": drvRX, "virt_tx": drvTX}},
		{driver.Program, "device_resources_t", res},
		{virtRX.Program, "net_virt_rx_config_t", rxCfg},
		{virtTX.Program, "net_virt_tx_config_t", txCfg},
	} {
		if err := c.set(set.elf, set.cfg, set.v); err != nil {
			return err
		}
	}
	// lwIP's pbuf pool: twice the device's receive buffers, in the client.
	for i, cl := range clients {
		if !cl.Lwip {
			continue
		}
		n := 2 * netRxBuffers
		pool, err := share(sys, fmt.Sprintf("%s/net/lib_sddf_lwip/%s", node, cl.Name), page(uint64(n*lwipPbufStructSize)), nil, access{pds[i], "rw"})
		if err != nil {
			return err
		}
		if err := c.set(pds[i].Program, "lib_sddf_lwip_config_t", Value{"pbuf_pool": pool[0], "num_pbufs": n}); err != nil {
			return err
		}
	}
	return nil
}

// Copiers is the copier PD of each network client, by client: their
// programs are copies of one copier ELF, each with its own config.
func Copiers(clients []NetClientSpec) map[string]string {
	out := map[string]string{}
	for _, cl := range clients {
		out[cl.Name] = cl.Name + "_net_copier.elf"
	}
	return out
}

// ComposeNet composes the network class alone onto sys.
func ComposeNet(sys *sdf.System, b *boards.Board, drivers []Driver, release string, clients []NetClientSpec) (*Composed, error) {
	c, err := NewComposer(sys, b, drivers, release)
	if err != nil {
		return nil, err
	}
	if err := c.Net(clients); err != nil {
		return nil, err
	}
	return &c.Out, nil
}
