package sddf

import (
	"fmt"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/sdf"
)

// BlkClientSpec is one client of the block device: a protection domain and
// the MBR partition (0–3) it sees as its whole disk.
type BlkClientSpec struct {
	Name          string
	Partition     int
	QueueCapacity int    // requests in flight (default 128)
	DataSize      uint64 // its DMA data region (default 2 MiB)
}

// The block class as sdfgen 0.23.1 sizes it (the same in sDDF 0.7).
const (
	blkDriverPriority     = 200
	blkVirtPriority       = 199
	blkVirtStack          = 0x2000
	blkStorageInfoSize    = 0x1000
	blkDriverDataSize     = 0x1000 // the virtualiser reads the MBR into it
	blkQueueEntryBytes    = 128    // a queue region holds capacity × this
	blkDefaultCapacity    = 128
	blkDefaultDataSize    = 0x200000
	blkDriverMaxBuffers   = 1024 // the virtualiser's limit on the driver queue
	blkMaxPartitions      = 4    // an MBR's entries
	blkTransferBlockBytes = 0x1000
)

// Blk adds the board's block driver and sDDF's block virtualiser to the
// system and connects each client through it as sDDF's block class does:
// the driver and the virtualiser share storage-information, request and
// response regions and a 4 KiB DMA region for reading the MBR; each client
// shares the same with the virtualiser and a DMA data region; the
// virtualiser maps each client to its partition.
func (c *Composer) Blk(clients []BlkClientSpec) error {
	sys := c.sys
	if len(clients) == 0 {
		return fmt.Errorf("the block device needs at least one client")
	}
	if len(clients) > maxBlkClients {
		return fmt.Errorf("the block device has %d clients; sDDF allows at most %d", len(clients), maxBlkClients)
	}
	var names []string
	for _, cl := range clients {
		names = append(names, cl.Name)
	}
	pds, err := c.clientPDs("block", names, blkVirtPriority, fmt.Sprintf("the block virtualiser's is %d and must be higher", blkVirtPriority))
	if err != nil {
		return err
	}
	total := 0
	for i := range clients {
		cl := &clients[i]
		if cl.QueueCapacity == 0 {
			cl.QueueCapacity = blkDefaultCapacity
		}
		if cl.DataSize == 0 {
			cl.DataSize = blkDefaultDataSize
		}
		switch {
		case cl.Partition < 0 || cl.Partition >= blkMaxPartitions:
			return fmt.Errorf("block client %s: partition %d; an MBR has partitions 0 to %d", cl.Name, cl.Partition, blkMaxPartitions-1)
		case cl.QueueCapacity < 1 || cl.QueueCapacity > 0xffff:
			return fmt.Errorf("block client %s: queue capacity %d is not between 1 and 65535", cl.Name, cl.QueueCapacity)
		case cl.DataSize%blkTransferBlockBytes != 0:
			return fmt.Errorf("block client %s: data size %#x is not a multiple of sDDF's %#x-byte transfer", cl.Name, cl.DataSize, blkTransferBlockBytes)
		}
		total += cl.QueueCapacity
	}
	if total > blkDriverMaxBuffers {
		return fmt.Errorf("the block clients' queues hold %d requests together; the virtualiser's queue to the driver holds at most %d", total, blkDriverMaxBuffers)
	}
	driver, res, err := c.newDriver("blk", "blk_driver", blkDriverPriority)
	if err != nil {
		return err
	}
	if sys.PD("blk_virt") != nil {
		return fmt.Errorf("the system already has a protection domain blk_virt")
	}
	virt := &sdf.PD{Name: "blk_virt", Priority: blkVirtPriority, Budget: sdf.DefaultBudget, Period: sdf.DefaultBudget, StackSize: blkVirtStack, FPU: true, Program: "blk_virt.elf"}
	sys.PDs = append(sys.PDs, driver, virt)
	sys.Changed()

	// queues shares the storage information (written by the server, read
	// by the other side) and the request and response queues, as sdfgen
	// does for both the driver's and each client's connection.
	queues := func(prefix string, server, other *sdf.PD, capacity int) ([2]Value, error) {
		var conns [2]Value
		info, err := share(sys, prefix+"_storage_info", blkStorageInfoSize, nil, access{server, "rw"}, access{other, "r"})
		if err != nil {
			return conns, err
		}
		size := uint64(capacity * blkQueueEntryBytes)
		req, err := share(sys, prefix+"_request", size, nil, access{server, "rw"}, access{other, "rw"})
		if err != nil {
			return conns, err
		}
		resp, err := share(sys, prefix+"_response", size, nil, access{server, "rw"}, access{other, "rw"})
		if err != nil {
			return conns, err
		}
		for i := range conns {
			conns[i] = Value{"storage_info": info[i], "req_queue": req[i], "resp_queue": resp[i], "num_buffers": capacity}
		}
		return conns, nil
	}
	// dmaRegion is a data region at a physical address (the driver is
	// given physical addresses), mapped into the PDs that touch it.
	dmaRegion := func(name string, size uint64, ends ...access) ([]Value, uint64, error) {
		paddr, err := c.dma(name, size)
		if err != nil {
			return nil, 0, err
		}
		views, err := share(sys, name, size, &paddr, ends...)
		return views, paddr, err
	}

	// The driver's side: its queues, the virtualiser's MBR buffer (the
	// driver never maps it), the channel (the virtualiser's end first).
	drv, err := queues("blk_driver", driver, virt, total)
	if err != nil {
		return err
	}
	mbr, mbrPaddr, err := dmaRegion("blk_driver_data", blkDriverDataSize, access{virt, "rw"})
	if err != nil {
		return err
	}
	virtID, driverID, err := connect(sys, virt, driver)
	if err != nil {
		return err
	}
	drv[0]["id"], drv[1]["id"] = int(driverID), int(virtID)
	if err := c.set(driver.Program, "blk_driver_config_t", Value{"virt": drv[0]}); err != nil {
		return err
	}
	virtCfg := Value{"num_clients": len(clients), "driver": Value{"conn": drv[1], "data": Value{"region": mbr[0], "io_addr": mbrPaddr}}}

	var virtClients []any
	for i, cl := range clients {
		prefix := "blk_client_" + cl.Name
		conn, err := queues(prefix, virt, pds[i], cl.QueueCapacity)
		if err != nil {
			return err
		}
		data, paddr, err := dmaRegion(prefix+"_data", cl.DataSize, access{virt, "rw"}, access{pds[i], "rw"})
		if err != nil {
			return err
		}
		virtID, clientID, err := connect(sys, virt, pds[i])
		if err != nil {
			return err
		}
		conn[0]["id"], conn[1]["id"] = int(virtID), int(clientID)
		virtClients = append(virtClients, Value{"conn": conn[0], "data": Value{"region": data[0], "io_addr": paddr}, "partition": cl.Partition})
		if err := c.set(pds[i].Program, "blk_client_config_t", Value{"virt": conn[1], "data": data[1]}); err != nil {
			return err
		}
	}
	virtCfg["clients"] = virtClients
	if err := c.set(virt.Program, "blk_virt_config_t", virtCfg); err != nil {
		return err
	}
	return c.set(driver.Program, "device_resources_t", res)
}

// ComposeBlk composes the block class alone onto sys.
func ComposeBlk(sys *sdf.System, b *boards.Board, drivers []Driver, release string, clients []BlkClientSpec) (*Composed, error) {
	c, err := NewComposer(sys, b, drivers, release)
	if err != nil {
		return nil, err
	}
	if err := c.Blk(clients); err != nil {
		return nil, err
	}
	return &c.Out, nil
}
