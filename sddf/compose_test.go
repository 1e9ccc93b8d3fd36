package sddf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

const timerClientSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client" priority="1">
        <program_image path="client.elf" />
    </protection_domain>
</system>
`

func qemuVirtAArch64(t *testing.T) *boards.Board {
	t.Helper()
	var d diag.List
	set := boards.Select(&d, []string{"qemu_virt_aarch64"}, boards.Embedded())
	if d.HasErrors() {
		t.Fatal(d.Err())
	}
	b, _ := set.Get("qemu_virt_aarch64")
	return b
}

func timerDrivers(t *testing.T) []Driver {
	t.Helper()
	return loadDrivers(t, map[string]string{
		"drivers/timer/arm/config.json": `{"compatible": ["arm,armv8-timer"], "resources": {"regions": [], "irqs": [{"dt_index": 1}]}}`,
	})
}

// The timer class composed onto a system with one client: the result passes
// every check of the Microkit dialect it is for, and the configs say what
// the system wires.
func TestComposeTimer(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, err := sdf.TargetFor(b, "debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var d diag.List
	sys := sdf.Parse("timer.system", []byte(timerClientSDF), target, &d)
	composed, err := ComposeTimer(sys, b, timerDrivers(t), "0.6.0", []string{"client"})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := recheck(t, sys, target)
	for _, want := range []string{
		`<protection_domain name="timer_driver" priority="254" passive="true"`,
		`<irq id="0" irq="30" />`, // the ARM timer's PPI 14, dt_index 1 of the board's node
		`<end pd="client" id="0" pp="true" />`,
		`<end pd="timer_driver" id="1" />`, // the driver notifies the client when its timeout expires
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	client := composed.Sections["client.elf"][".timer_client_config"]
	if !bytes.Equal(client, []byte("sDDF\x06\x00")) {
		t.Errorf("client config % x", client)
	}
	res := composed.Sections["timer_driver.elf"][".device_resources"]
	irqsAt := DeviceResources.Struct.Offsets()[4]
	if len(res) != int(DeviceResources.Struct.Size()) || res[5] != 0 || res[6] != 1 || res[irqsAt] != 0 {
		t.Errorf("device resources: %d bytes, num_regions %d, num_irqs %d", len(res), res[5], res[6])
	}
}

func TestComposeTimerRefuses(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, _ := sdf.TargetFor(b, "debug", "2.0.1")
	for _, tc := range []struct {
		system  string
		clients []string
		want    string
	}{
		{timerClientSDF, []string{"nobody"}, "timer client nobody is not a protection domain of the system"},
		{strings.Replace(timerClientSDF, `priority="1"`, `priority="254"`, 1), []string{"client"}, "timer client client has priority 254; the timer driver's is 254 and must be higher"},
		{timerClientSDF, nil, "the timer needs at least one client"},
	} {
		var d diag.List
		sys := sdf.Parse("timer.system", []byte(tc.system), target, &d)
		if _, err := ComposeTimer(sys, b, timerDrivers(t), "0.6.0", tc.clients); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	var d diag.List
	sys := sdf.Parse("timer.system", []byte(timerClientSDF), target, &d)
	if _, err := ComposeTimer(sys, b, nil, "0.6.0", []string{"client"}); err == nil || !strings.Contains(err.Error(), "this sDDF has no timer drivers") {
		t.Errorf("no drivers: %v", err)
	}
}

// recheck writes a composed system canonically, parses and checks it as
// the build does, and fails the test with the diagnostics and the text if
// it does not check. It returns the text and the parsed system.
func recheck(t *testing.T, sys *sdf.System, target sdf.Target) ([]byte, *sdf.System) {
	t.Helper()
	var d diag.List
	text := sdf.Format(sys)
	again := sdf.Parse("composed.system", text, target, &d)
	sdf.Check(again, target, &d)
	if d.Len() > 0 {
		var w strings.Builder
		d.Write(&w)
		t.Fatalf("the composed system does not check:\n%s\n%s", w.String(), text)
	}
	return text, again
}

// parseGolden parses a system description a test compares with.
func parseGolden(t *testing.T, name string, data []byte, target sdf.Target) *sdf.System {
	t.Helper()
	var d diag.List
	sys := sdf.Parse(name, data, target, &d)
	if d.HasErrors() {
		t.Fatal(d.Err())
	}
	return sys
}

// loadDrivers reads drivers from config.json texts by path.
func loadDrivers(t *testing.T, files map[string]string) []Driver {
	t.Helper()
	drivers, err := LoadDrivers(driverFS(files))
	if err != nil {
		t.Fatal(err)
	}
	return drivers
}
