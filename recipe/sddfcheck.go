package recipe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
	"github.com/pointsav/plinth/sddf"
)

// checkSDDF checks the sddf section: a pinned source, a release whose
// layouts plinth knows, a timer on every board, clients named.
func checkSDDF(r *Recipe, listed []*boards.Board, diags *diag.List) {
	for i, c := range r.Components {
		if c.SDDFUtil != "" && c.SDDFUtil != "debug" && c.SDDFUtil != "serial" {
			diags.Errorf(c.Meta.At("sddf_util"), "components[%d].sddf_util: %q is neither debug nor serial", i, c.SDDFUtil)
		}
		if c.SDDFUtil != "" && r.SDDF == nil {
			diags.Errorf(c.Meta.At("sddf_util"), "components[%d].sddf_util: the recipe has no sddf section naming the sDDF source", i)
		}
	}
	if r.Confirming() && r.SDDF == nil {
		diags.Errorf(r.Update.Meta.At("confirm"), "update.confirm: the confirming protection domain is a client of sDDF's block class; the recipe has no sddf section naming the sDDF source and release")
	}
	s := r.SDDF
	if s == nil {
		return
	}
	requireSource(r, s.Source, s.Meta.At("source"), "sddf.source", diags)
	if _, err := sddf.ConfigsFor(s.Release); err != nil {
		diags.Errorf(s.Meta.At("release"), "sddf.release: %v", err)
	}
	if s.Timer == nil && s.Serial == nil && s.Blk == nil && s.Network == nil && s.I2C == nil {
		if !r.Confirming() {
			diags.Warnf(s.Meta.Pos, "sddf: no device class is asked for")
		}
		return
	}
	if s.Timer != nil {
		checkSDDFClients(s.Timer.Clients, s.Timer.Meta, "timer", 64, diags)
		checkBoardsHave(listed, "timer", s.Meta.At("timer"), diags)
	}
	if c := s.Serial; c != nil {
		checkSDDFClients(c.Clients, c.Meta, "serial", 64, diags)
		checkBoardsHave(listed, "serial", s.Meta.At("serial"), diags)
		if c.Begin != nil && len(*c.Begin) > 127 {
			diags.Errorf(c.Meta.At("begin"), "sddf.serial.begin: %d bytes; sDDF keeps at most 127", len(*c.Begin))
		}
	}
	if c := s.I2C; c != nil {
		checkSDDFClients(c.Clients, c.Meta, "i2c", 64, diags)
		checkBoardsHave(listed, "i2c", s.Meta.At("i2c"), diags)
		if s.Release != "0.6.0" {
			diags.Errorf(s.Meta.At("i2c"), "sddf.i2c: plinth composes the I²C class in sDDF 0.6.0's layout only (0.7 changed its configs)")
		}
	}
	if c := s.Network; c != nil {
		var names []string
		macs := map[string]bool{}
		for i, cl := range c.Clients {
			names = append(names, cl.Name)
			if cl.MAC == "" {
				continue
			}
			if first, err := strconv.ParseUint(cl.MAC[:2], 16, 8); err == nil && first&1 != 0 {
				diags.Errorf(cl.Meta.At("mac"), "sddf.network.clients[%d].mac: %s is a multicast address", i, cl.MAC)
			}
			if macs[strings.ToLower(cl.MAC)] {
				diags.Errorf(cl.Meta.At("mac"), "sddf.network.clients[%d].mac: %s is another client's too", i, cl.MAC)
			}
			macs[strings.ToLower(cl.MAC)] = true
		}
		checkSDDFClients(names, c.Meta, "network", 64, diags)
		checkBoardsHave(listed, "network", s.Meta.At("network"), diags)
		if s.Release != "0.6.0" {
			diags.Errorf(s.Meta.At("network"), "sddf.network: plinth composes the network class in sDDF 0.6.0's layout only (0.7 changed its configs)")
		}
	}
	if c := s.Blk; c != nil {
		checkBlk(c, diags)
		checkBoardsHave(listed, "blk", s.Meta.At("blk"), diags)
	}
}

// checkBlk checks the block class: clients, their partitions and
// queues, and the disk's partitions.
func checkBlk(c *SDDFBlk, diags *diag.List) {
	var names []string
	total := 0
	for i, cl := range c.Clients {
		where := fmt.Sprintf("sddf.blk.clients[%d]", i)
		names = append(names, cl.Name)
		if cl.Partition < 0 || cl.Partition > 3 {
			diags.Errorf(cl.Meta.At("partition"), "%s.partition: %d; an MBR has partitions 0 to 3", where, cl.Partition)
		}
		if c.Disk != nil && cl.Partition >= 0 && cl.Partition >= len(c.Disk.Partitions) {
			diags.Errorf(cl.Meta.At("partition"), "%s.partition: the disk has %d partition(s); client %s would find none at %d", where, len(c.Disk.Partitions), cl.Name, cl.Partition)
		}
		capacity := cl.QueueCapacity
		if capacity == 0 {
			capacity = 128
		}
		if capacity < 0 || capacity > 0xffff {
			diags.Errorf(cl.Meta.At("queue_capacity"), "%s.queue_capacity: %d is not between 1 and 65535", where, capacity)
		}
		total += capacity
		if cl.DataSize%0x1000 != 0 {
			diags.Errorf(cl.Meta.At("data_size"), "%s.data_size: %d is not a multiple of 4 KiB, sDDF's transfer size", where, cl.DataSize)
		}
	}
	checkSDDFClients(names, c.Meta, "blk", 64, diags)
	if total > 1024 {
		diags.Errorf(c.Meta.At("clients"), "sddf.blk.clients: their queues hold %d requests together; the virtualiser's queue to the driver holds at most 1024", total)
	}
	if d := c.Disk; d != nil {
		if d.Size%512 != 0 {
			diags.Errorf(d.Meta.At("size"), "sddf.blk.disk.size: %d is not a multiple of 512-byte sectors", d.Size)
		}
		if len(d.Partitions) == 0 || len(d.Partitions) > 4 {
			diags.Errorf(d.Meta.At("partitions"), "sddf.blk.disk.partitions: an MBR holds 1 to 4 primary partitions, not %d", len(d.Partitions))
		}
		at := Size(1 << 20)
		for i, p := range d.Partitions {
			where := fmt.Sprintf("sddf.blk.disk.partitions[%d]", i)
			if p.Size%0x1000 != 0 {
				diags.Errorf(p.Meta.At("size"), "%s.size: %d is not a multiple of 4 KiB", where, p.Size)
			}
			if p.Type < 0 || p.Type > 0xff {
				diags.Errorf(p.Meta.At("type"), "%s.type: %#x is not a byte", where, p.Type)
			}
			if at+p.Size > d.Size {
				diags.Errorf(p.Meta.At("size"), "%s: %d bytes from %d run past the end of the %d-byte disk (partitions start at 1 MiB, each on a 1 MiB boundary)", where, p.Size, at, d.Size)
			}
			at = (at + p.Size + (1<<20 - 1)) &^ (1<<20 - 1)
		}
	}
}

// checkSDDFClients checks a class's client list: some, not too many,
// each named once.
func checkSDDFClients(clients []string, meta strictyaml.Meta, class string, most int, diags *diag.List) {
	switch {
	case len(clients) == 0:
		diags.Errorf(meta.At("clients"), "sddf.%s.clients: list at least one protection domain", class)
	case len(clients) > most:
		diags.Errorf(meta.At("clients"), "sddf.%s.clients: %d clients; sDDF allows at most %d", class, len(clients), most)
	}
	seen := map[string]bool{}
	for _, c := range clients {
		if seen[c] {
			diags.Errorf(meta.At("clients"), "sddf.%s.clients: %s is listed twice", class, c)
		}
		seen[c] = true
	}
}

// checkBoardsHave reports each listed board whose file names no device
// of the class.
func checkBoardsHave(listed []*boards.Board, class boards.DeviceClass, at diag.Pos, diags *diag.List) {
	for _, b := range listed {
		if b.SDDF == nil || len(b.SDDF.Devices[class]) == 0 {
			diags.Errorf(at, "sddf.%s: board %s has no %s device in its board file", class, b.Name, class)
		}
	}
}
