package sddf

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

const i2cClientsSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client_pn532" priority="1">
        <program_image path="client_pn532.elf" />
    </protection_domain>
    <protection_domain name="client_ds3231" priority="1">
        <program_image path="client_ds3231.elf" />
    </protection_domain>
</system>
`

// sDDF's i2c example's bus on the ODROID-C4, composed by plinth: the
// system checks; the driver gets the clock and GPIO blocks at the
// addresses its code uses, both interrupts and each client's data region,
// one after another; clients call the passive virtualiser.
func TestComposeI2C(t *testing.T) {
	var d diag.List
	b, _ := boards.Select(&d, []string{"odroidc4"}, boards.Embedded()).Get("odroidc4")
	target, err := sdf.TargetFor(b, "debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	drivers := loadDrivers(t, map[string]string{
		"drivers/i2c/meson/config.json": `{"compatible": ["amlogic,meson-axg-i2c"], "resources": {"regions": [{"name": "regs", "perms": "rw", "size": 4096, "dt_index": 0}], "irqs": [{"dt_index": 0}, {"dt_index": 1}]}}`,
	})
	sys := sdf.Parse("i2c.system", []byte(i2cClientsSDF), target, &d)
	composed, err := ComposeI2C(sys, b, drivers, "0.6.0", []string{"client_ds3231", "client_pn532"})
	if err != nil {
		t.Fatal(err)
	}
	text, again := recheck(t, sys, target)
	for _, want := range []string{
		`<protection_domain name="i2c_virt" priority="2" passive="true"`,
		`<memory_region name="i2c_driver_clk" size="0x1000" phys_addr="0xff63c000" />`,
		`<map mr="i2c_driver_clk" vaddr="0x30000000" cached="false" />`,
		`<map mr="i2c_driver_gpio" vaddr="0x30100000" cached="false" />`,
		`<map mr="i2c_client_data_client_ds3231" vaddr="0x20003000" />`,
		`<map mr="i2c_client_data_client_pn532" vaddr="0x20004000" />`,
		`<end pd="client_ds3231" id="0" pp="true" />`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	if irqs := len(again.PD("i2c_driver").IRQs); irqs != 2 {
		t.Errorf("the driver has %d interrupts, want 2", irqs)
	}
	virt := composed.Sections["i2c_virt.elf"][".i2c_virt_config"]
	clients := I2CVirt06.Struct.Offsets()[3]
	stride := uint64(len(virt)-int(clients)) / 64
	if binary.LittleEndian.Uint64(virt[8:]) != 2 || binary.LittleEndian.Uint64(virt[clients+stride+stride-8:]) != 0x1000 {
		t.Errorf("virt config: %d clients, second client's offset %#x", binary.LittleEndian.Uint64(virt[8:]), binary.LittleEndian.Uint64(virt[clients+stride+stride-8:]))
	}
	drv := composed.Sections["i2c_driver.elf"][".i2c_driver_config"]
	if binary.LittleEndian.Uint64(drv[8:]) != 0x20003000 {
		t.Errorf("the driver's data starts at %#x", binary.LittleEndian.Uint64(drv[8:]))
	}

	sys = sdf.Parse("i2c.system", []byte(strings.Replace(i2cClientsSDF, `priority="1"`, `priority="2"`, 1)), target, &d)
	if _, err := ComposeI2C(sys, b, drivers, "0.6.0", []string{"client_pn532"}); err == nil || !strings.Contains(err.Error(), "must be higher (clients call it)") {
		t.Errorf("priority: %v", err)
	}
	sys = sdf.Parse("i2c.system", []byte(i2cClientsSDF), target, &d)
	if _, err := ComposeI2C(sys, b, drivers, "0.7.0", []string{"client_pn532"}); err == nil || !strings.Contains(err.Error(), "0.6.0's layout only") {
		t.Errorf("0.7.0: %v", err)
	}
}
