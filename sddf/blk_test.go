package sddf

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

const blkClientSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client" priority="1">
        <program_image path="client.elf" />
    </protection_domain>
</system>
`

// blkExampleSDF is the system sdfgen 0.23.1 makes for sDDF 0.6.0's blk
// example on QEMU (its meta.py names the last virtio-mmio slot), the one
// that booted and passed in development.
const blkExampleSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <memory_region name="virtio_mmio@a003e00/drivers/blk/regs" size="0x1000" phys_addr="0xa003000" />
    <memory_region name="virtio_mmio@a003e00/drivers/blk/virtio_headers" size="0x10000" phys_addr="0x5fff0000" />
    <memory_region name="virtio_mmio@a003e00/drivers/blk/virtio_metadata" size="0x200000" phys_addr="0x5fdf0000" />
    <memory_region name="blk_driver_storage_info" size="0x1000" />
    <memory_region name="blk_driver_request" size="0x4000" />
    <memory_region name="blk_driver_response" size="0x4000" />
    <memory_region name="blk_driver_data" size="0x1000" phys_addr="0x5fdef000" />
    <memory_region name="blk_client_client_storage_info" size="0x1000" />
    <memory_region name="blk_client_client_request" size="0x4000" />
    <memory_region name="blk_client_client_response" size="0x4000" />
    <memory_region name="blk_client_client_data" size="0x200000" phys_addr="0x5fbef000" />
    <protection_domain name="blk_driver" priority="200">
        <program_image path="blk_driver.elf" />
        <map mr="virtio_mmio@a003e00/drivers/blk/regs" vaddr="0x20000000" perms="rw" cached="false" />
        <map mr="virtio_mmio@a003e00/drivers/blk/virtio_headers" vaddr="0x20001000" perms="rw" cached="false" />
        <map mr="virtio_mmio@a003e00/drivers/blk/virtio_metadata" vaddr="0x20200000" perms="rw" cached="false" />
        <map mr="blk_driver_storage_info" vaddr="0x20400000" perms="rw" />
        <map mr="blk_driver_request" vaddr="0x20401000" perms="rw" />
        <map mr="blk_driver_response" vaddr="0x20405000" perms="rw" />
        <irq irq="79" id="0" trigger="edge" />
    </protection_domain>
    <protection_domain name="blk_virt" priority="199" stack_size="0x2000">
        <program_image path="blk_virt.elf" />
        <map mr="blk_driver_storage_info" vaddr="0x20000000" perms="r" />
        <map mr="blk_driver_request" vaddr="0x20001000" perms="rw" />
        <map mr="blk_driver_response" vaddr="0x20005000" perms="rw" />
        <map mr="blk_driver_data" vaddr="0x20009000" perms="rw" />
        <map mr="blk_client_client_storage_info" vaddr="0x2000a000" perms="rw" />
        <map mr="blk_client_client_request" vaddr="0x2000b000" perms="rw" />
        <map mr="blk_client_client_response" vaddr="0x2000f000" perms="rw" />
        <map mr="blk_client_client_data" vaddr="0x20200000" perms="rw" />
    </protection_domain>
    <protection_domain name="client" priority="1">
        <program_image path="client.elf" />
        <map mr="blk_client_client_storage_info" vaddr="0x20000000" perms="r" />
        <map mr="blk_client_client_request" vaddr="0x20001000" perms="rw" />
        <map mr="blk_client_client_response" vaddr="0x20005000" perms="rw" />
        <map mr="blk_client_client_data" vaddr="0x20200000" perms="rw" />
    </protection_domain>
    <channel>
        <end pd="blk_virt" id="0" />
        <end pd="blk_driver" id="1" />
    </channel>
    <channel>
        <end pd="blk_virt" id="1" />
        <end pd="client" id="0" />
    </channel>
</system>
`

func blkDrivers(t *testing.T) []Driver {
	t.Helper()
	return loadDrivers(t, map[string]string{
		"drivers/blk/virtio/config.json": `{"compatible": ["virtio,mmio"], "resources": {"regions": [
			{"name": "regs", "perms": "rw", "size": 4096, "dt_index": 0},
			{"name": "virtio_headers", "size": 65536},
			{"name": "virtio_metadata", "size": 2097152}], "irqs": [{"dt_index": 0}]}}`,
	})
}

// summary lists a system's regions, maps, interrupts and channels in a
// form two systems can be compared by.
func summary(sys *sdf.System) []string {
	var out []string
	for _, mr := range sys.MRs {
		phys := "-"
		if mr.PhysAddr != nil {
			phys = fmt.Sprintf("%#x", *mr.PhysAddr)
		}
		out = append(out, fmt.Sprintf("mr %s %#x %s", mr.Name, mr.Size, phys))
	}
	for _, pd := range sys.AllPDs() {
		out = append(out, fmt.Sprintf("pd %s prio %d budget %d period %d stack %#x", pd.Name, pd.Priority, pd.Budget, pd.Period, pd.StackSize))
		for _, m := range pd.Maps {
			out = append(out, fmt.Sprintf("map %s %s %#x %s cached=%v", pd.Name, m.MR, m.Vaddr, m.Perms, m.Cached))
		}
		for _, q := range pd.IRQs {
			out = append(out, fmt.Sprintf("irq %s %d id %d %s", pd.Name, q.Number, q.ID, q.Trigger))
		}
	}
	for _, ch := range sys.Channels {
		out = append(out, fmt.Sprintf("ch %s/%d %s/%d", ch.Ends[0].PD, ch.Ends[0].ID, ch.Ends[1].PD, ch.Ends[1].ID))
	}
	slices.Sort(out)
	return out
}

// The block class composed by plinth for the device sDDF 0.6.0's blk
// example uses is the system sdfgen makes for it, region for region, map
// for map (addresses, permissions, caching), and the configs carry the
// values that booted: the register's in-page offset, the DMA addresses,
// the channel ids, the queue sizes.
func TestComposeBlkAsSDDFExample(t *testing.T) {
	b := qemuVirtAArch64(t)
	// The example's meta.py names QEMU's last virtio-mmio slot, where QEMU
	// puts a block device given no bus; plinth's board file names slot 1.
	copied := lastVirtioSlot(b, "blk")
	target, err := sdf.TargetFor(copied, "debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var d diag.List
	sys := sdf.Parse("blk.system", []byte(blkClientSDF), target, &d)
	composed, err := ComposeBlk(sys, copied, blkDrivers(t), "0.6.0", []BlkClientSpec{{Name: "client"}})
	if err != nil {
		t.Fatal(err)
	}
	_, again := recheck(t, sys, target)
	want := parseGolden(t, "sdfgen.system", []byte(blkExampleSDF), target)
	if got, want := summary(again), summary(want); !slices.Equal(got, want) {
		t.Errorf("composed:\n%s\nsdfgen's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	u64 := func(b []byte, off uint64) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	res := composed.Sections["blk_driver.elf"][".device_resources"]
	regions := DeviceResources.Struct.Offsets()[3]
	if res[5] != 3 || res[6] != 1 || u64(res, regions) != 0x20000e00 || u64(res, regions+16) != 0xa003000 || u64(res, regions+24+16) != 0x5fff0000 || u64(res, regions+48) != 0x20200000 {
		t.Errorf("device resources: %d regions, %d irqs, regs at %#x (io %#x), headers io %#x, metadata at %#x", res[5], res[6], u64(res, regions), u64(res, regions+16), u64(res, regions+24+16), u64(res, regions+48))
	}
	drv := composed.Sections["blk_driver.elf"][".blk_driver_config"]
	if len(drv) != 64 || u64(drv, 8) != 0x20400000 || u64(drv, 24) != 0x20401000 || u64(drv, 40) != 0x20405000 || binary.LittleEndian.Uint16(drv[56:]) != 128 || drv[58] != 1 {
		t.Errorf("driver config % x", drv)
	}
	virt := composed.Sections["blk_virt.elf"][".blk_virt_config"]
	if len(virt) != 5728 || u64(virt, 8) != 1 || virt[16+50] != 0 || u64(virt, 16+56+16) != 0x5fdef000 || virt[96+50] != 1 || u64(virt, 96+56) != 0x20200000 || u64(virt, 96+56+16) != 0x5fbef000 || binary.LittleEndian.Uint32(virt[96+80:]) != 0 {
		t.Errorf("virt config: %d clients, driver id %d, MBR buffer io %#x, client id %d, client data %#x io %#x", u64(virt, 8), virt[16+50], u64(virt, 16+56+16), virt[96+50], u64(virt, 96+56), u64(virt, 96+56+16))
	}
	client := composed.Sections["client.elf"][".blk_client_config"]
	if len(client) != 80 || u64(client, 8) != 0x20000000 || client[8+50] != 0 || u64(client, 64) != 0x20200000 || u64(client, 72) != 0x200000 {
		t.Errorf("client config % x", client)
	}
}

func ptrTo[T any](v T) *T { return &v }

// lastVirtioSlot is the board with its device of class moved to QEMU's
// last virtio-mmio slot, where sDDF 0.6.0's examples look for it (QEMU puts
// a device given no bus there); plinth's board file names others.
func lastVirtioSlot(b *boards.Board, class boards.DeviceClass) *boards.Board {
	copied := *b
	sddfCopy := *b.SDDF
	sddfCopy.Devices = map[boards.DeviceClass][]boards.Device{class: {{
		Node: "/virtio_mmio@a003e00", Compatible: []string{"virtio,mmio"},
		Regs: []boards.Region{{Base: 0xa003e00, Size: 0x200}},
		IRQs: []boards.IRQ{{IRQ: ptrTo(uint64(79)), Trigger: "edge"}},
	}}}
	copied.SDDF = &sddfCopy
	return &copied
}

func TestComposeBlkRefuses(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, _ := sdf.TargetFor(b, "debug", "2.0.1")
	for _, tc := range []struct {
		clients []BlkClientSpec
		want    string
	}{
		{nil, "the block device needs at least one client"},
		{[]BlkClientSpec{{Name: "nobody"}}, "block client nobody is not a protection domain of the system"},
		{[]BlkClientSpec{{Name: "client", Partition: 4}}, "block client client: partition 4; an MBR has partitions 0 to 3"},
		{[]BlkClientSpec{{Name: "client", QueueCapacity: 2000}}, "the block clients' queues hold 2000 requests together; the virtualiser's queue to the driver holds at most 1024"},
		{[]BlkClientSpec{{Name: "client", DataSize: 0x1800}}, "data size 0x1800 is not a multiple"},
		// 0x60000000 down to RAM's base 0x40000000 is 512 MiB.
		{[]BlkClientSpec{{Name: "client", DataSize: 0x20000000}}, "blk_client_client_data (0x20000000 bytes) does not fit: the DMA regions below paddr_top 0x60000000 have used the RAM down to 0x5fdef000"},
	} {
		var d diag.List
		sys := sdf.Parse("blk.system", []byte(blkClientSDF), target, &d)
		if _, err := ComposeBlk(sys, b, blkDrivers(t), "0.6.0", tc.clients); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
