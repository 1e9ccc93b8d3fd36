package sddf

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

const serialClientsSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client0" priority="1">
        <program_image path="client0.elf" />
    </protection_domain>
    <protection_domain name="client1" priority="1">
        <program_image path="client1.elf" />
    </protection_domain>
</system>
`

func serialDrivers(t *testing.T) []Driver {
	t.Helper()
	return loadDrivers(t, map[string]string{
		"drivers/serial/arm/config.json": `{"compatible": ["arm,pl011"], "resources": {"regions": [{"name": "regs", "perms": "rw", "size": 4096, "dt_index": 0}], "irqs": [{"dt_index": 0}]}}`,
	})
}

// sDDF's serial example composed by plinth: two clients, input on. The
// system checks, the wiring is sdfgen's (receive side first, so the
// driver's IRQ is id 0, its RX virtualiser 1 and its TX virtualiser 2),
// and every config says where its regions are mapped in its own PD.
func TestComposeSerial(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, err := sdf.TargetFor(b, "debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var d diag.List
	sys := sdf.Parse("serial.system", []byte(serialClientsSDF), target, &d)
	composed, err := ComposeSerial(sys, b, serialDrivers(t), "0.6.0", Serial{Clients: []string{"client0", "client1"}, Begin: DefaultSerialBegin, Colour: true, RX: true})
	if err != nil {
		t.Fatal(err)
	}
	text, again := recheck(t, sys, target)
	for _, want := range []string{
		`<protection_domain name="serial_driver" priority="200"`,
		`<protection_domain name="serial_virt_tx" priority="199" stack_size="0x2000"`,
		`<irq id="0" irq="33" />`,
		`<memory_region name="pl011@9000000/serial/queue/serial_driver/serial_virt_rx" size="0x1000" />`,
		`<memory_region name="pl011@9000000/serial/data/serial_virt_tx/client1" size="0x10000" />`,
		`<end pd="serial_driver" id="1" />`,
		`<end pd="serial_virt_rx" id="0" />`,
		`<end pd="serial_driver" id="2" />`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	if len(again.PDs) != 5 || len(again.MRs) != 13 || len(again.Channels) != 6 {
		t.Errorf("%d PDs, %d regions, %d channels; want 5, 13 (12 shared and the UART) and 6", len(again.PDs), len(again.MRs), len(again.Channels))
	}

	// Each config's regions are the maps of its own PD, by address.
	u64 := func(b []byte, off uint64) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	mapped := func(pd string, vaddr uint64) string {
		for _, m := range again.PD(pd).Maps {
			if m.Vaddr == vaddr {
				return m.MR
			}
		}
		return ""
	}
	client := composed.Sections["client1.elf"][".serial_client_config"]
	offs := SerialClient.Struct.Offsets() // magic, rx, tx
	if got := mapped("client1", u64(client, offs[2])); got != "pl011@9000000/serial/queue/serial_virt_tx/client1" {
		t.Errorf("client1's tx queue at %#x is %q", u64(client, offs[2]), got)
	}
	if got := mapped("client1", u64(client, offs[1]+16)); got != "pl011@9000000/serial/data/serial_virt_rx/client1" {
		t.Errorf("client1's rx data at %#x is %q", u64(client, offs[1]+16), got)
	}
	tx := composed.Sections["serial_virt_tx.elf"][".serial_virt_tx_config"]
	txOffs := SerialVirtTX06.Struct.Offsets() // magic driver clients num begin begin_len colour rx
	if tx[txOffs[3]] != 2 || !bytes.HasPrefix(tx[txOffs[4]:], []byte("Begin input\n\x00")) || tx[txOffs[5]] != 12 || tx[txOffs[6]] != 1 || tx[txOffs[7]] != 1 {
		t.Errorf("tx config: %d clients, begin %q, len %d, colour %d, rx %d", tx[txOffs[3]], tx[txOffs[4]:txOffs[4]+13], tx[txOffs[5]], tx[txOffs[6]], tx[txOffs[7]])
	}
	name1 := txOffs[2] + serialTxClient.Size() + serialConn.Size()
	if !bytes.HasPrefix(tx[name1:], []byte("client1\x00")) {
		t.Errorf("tx client 1 name %q", tx[name1:name1+8])
	}
	drv := composed.Sections["serial_driver.elf"][".serial_driver_config"]
	dOffs := SerialDriver.Struct.Offsets() // magic rx tx baud rx_enabled
	if u64(drv, dOffs[3]) != 115200 || drv[dOffs[4]] != 1 || drv[dOffs[1]+32] != 1 || drv[dOffs[2]+32] != 2 {
		t.Errorf("driver config: baud %d, rx_enabled %d, rx id %d, tx id %d", u64(drv, dOffs[3]), drv[dOffs[4]], drv[dOffs[1]+32], drv[dOffs[2]+32])
	}
	if _, ok := composed.Sections["serial_driver.elf"][".device_resources"]; !ok {
		t.Error("no device resources for the driver")
	}

	// sDDF 0.7's layout has no begin_str_len: the same system encodes to it.
	sys = sdf.Parse("serial.system", []byte(serialClientsSDF), target, &d)
	composed, err = ComposeSerial(sys, b, serialDrivers(t), "0.7.0", Serial{Clients: []string{"client0"}, Begin: "hi\n"})
	if err != nil {
		t.Fatal(err)
	}
	tx = composed.Sections["serial_virt_tx.elf"][".serial_virt_tx_config"]
	offs = SerialVirtTX.Struct.Offsets()
	if uint64(len(tx)) != SerialVirtTX.Struct.Size() || tx[offs[5]] != 0 || tx[offs[6]] != 0 || sys.PD("serial_virt_rx") != nil {
		t.Errorf("0.7.0 without input: colour %d, rx %d, virt_rx %v", tx[offs[5]], tx[offs[6]], sys.PD("serial_virt_rx") != nil)
	}
}

func TestComposeSerialRefuses(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, _ := sdf.TargetFor(b, "debug", "2.0.1")
	many := make([]string, 65)
	for i := range many {
		many[i] = "client0"
	}
	for _, tc := range []struct {
		system string
		s      Serial
		want   string
	}{
		{serialClientsSDF, Serial{Clients: []string{"nobody"}}, "serial client nobody is not a protection domain of the system"},
		{serialClientsSDF, Serial{}, "the serial device needs at least one client"},
		{serialClientsSDF, Serial{Clients: many}, "the serial device has 65 clients; sDDF allows at most 64"},
		{serialClientsSDF, Serial{Clients: []string{"client0", "client0"}}, "serial client client0 is listed twice"},
		{serialClientsSDF, Serial{Clients: []string{"client0"}, Begin: strings.Repeat("x", 128)}, "the serial begin string is 128 bytes; sDDF allows at most 127"},
		{strings.Replace(serialClientsSDF, `priority="1"`, `priority="199"`, 1), Serial{Clients: []string{"client0"}}, "serial client client0 has priority 199; the serial virtualisers' is 199 and must be higher"},
		{strings.Replace(serialClientsSDF, `client1.elf`, `client0.elf`, 1), Serial{Clients: []string{"client0", "client1"}}, "serial clients client0 and client1 run the same program client0.elf"},
		{strings.Replace(serialClientsSDF, `"client1"`, `"serial_virt_tx"`, 1), Serial{Clients: []string{"client0"}}, "the system already has a protection domain serial_virt_tx"},
	} {
		var d diag.List
		sys := sdf.Parse("serial.system", []byte(tc.system), target, &d)
		if _, err := ComposeSerial(sys, b, serialDrivers(t), "0.6.0", tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	var d diag.List
	sys := sdf.Parse("serial.system", []byte(serialClientsSDF), target, &d)
	if _, err := ComposeSerial(sys, b, timerDrivers(t), "0.6.0", Serial{Clients: []string{"client0"}}); err == nil || !strings.Contains(err.Error(), "board qemu_virt_aarch64 serial /pl011@9000000: this sDDF has no serial drivers") {
		t.Errorf("no drivers: %v", err)
	}
}
