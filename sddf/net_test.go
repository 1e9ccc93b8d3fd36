package sddf

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

const netClientsSDF = `<?xml version="1.0" encoding="UTF-8"?>
<system>
    <protection_domain name="client0" priority="97" budget="20000">
        <program_image path="echo0.elf" />
    </protection_domain>
    <protection_domain name="client1" priority="97" budget="20000">
        <program_image path="echo1.elf" />
    </protection_domain>
</system>
`

func netDrivers(t *testing.T) []Driver {
	t.Helper()
	return loadDrivers(t, map[string]string{
		"drivers/network/virtio/config.json": `{"compatible": ["virtio,mmio"], "resources": {"regions": [
			{"name": "regs", "perms": "rw", "size": 4096, "dt_index": 0},
			{"name": "hw_ring_buffer", "size": 65536}], "irqs": [{"dt_index": 0}]}}`,
	})
}

// The network class composed by plinth for the device sDDF 0.6.0's
// echo_server uses is sdfgen's: the same regions with the same sizes and
// DMA addresses, the same maps in the driver, the virtualisers and the
// copiers, the same channels between them. (sdfgen's system, which booted
// and echoed in development, also holds the serial, timer and benchmark
// PDs of the example, which move the clients' own addresses.)
func TestComposeNetAsSDDFExample(t *testing.T) {
	b := lastVirtioSlot(qemuVirtAArch64(t), "network")
	target, err := sdf.TargetFor(b, "debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var d diag.List
	sys := sdf.Parse("echo.system", []byte(netClientsSDF), target, &d)
	composed, err := ComposeNet(sys, b, netDrivers(t), "0.6.0", []NetClientSpec{{Name: "client0", Lwip: true}, {Name: "client1", Lwip: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, again := recheck(t, sys, target)
	golden, err := os.ReadFile("testdata/echo_server_sdfgen.system")
	if err != nil {
		t.Fatal(err)
	}
	want := parseGolden(t, "echo_server_sdfgen.system", golden, target)
	// The network's part of each: its regions, and its own PDs whole.
	netPD := func(name string) bool {
		return name == "ethernet_driver" || strings.HasPrefix(name, "net_virt_") || strings.HasSuffix(name, "_net_copier")
	}
	netPart := func(sys *sdf.System) []string {
		var out []string
		for _, l := range summary(sys) {
			f := strings.Fields(l)
			switch f[0] {
			case "mr":
				if strings.Contains(f[1], "/net/") || strings.Contains(f[1], "/drivers/network/") {
					out = append(out, l)
				}
			case "pd", "map", "irq":
				if netPD(f[1]) {
					out = append(out, l)
				}
			case "ch":
				if netPD(strings.Split(f[1], "/")[0]) && netPD(strings.Split(f[2], "/")[0]) {
					out = append(out, l)
				}
			}
		}
		return out
	}
	got, wantPart := netPart(again), netPart(want)
	if !slices.Equal(got, wantPart) {
		t.Errorf("composed:\n%s\nsdfgen's:\n%s", strings.Join(got, "\n"), strings.Join(wantPart, "\n"))
	}
	if len(got) < 70 {
		t.Errorf("only %d lines compared", len(got))
	}
	// Copies of one copier with their own configs; a client's MAC in its
	// config and in the receive virtualiser's table; the pbuf pool.
	copy0 := composed.Sections["client0_net_copier.elf"][".net_copy_config"]
	copy1 := composed.Sections["client1_net_copier.elf"][".net_copy_config"]
	if len(copy0) != 120 || len(copy1) != 120 {
		t.Errorf("copier configs: %d and %d bytes", len(copy0), len(copy1))
	}
	client := composed.Sections["echo1.elf"][".net_client_config"]
	rx := composed.Sections["net_virt_rx.elf"][".net_virt_rx_config"]
	mac := client[120:126]
	if mac[0]&3 != 2 || !bytes.Equal(rx[88+48+40:88+48+46], mac) {
		t.Errorf("client1's MAC % x; the virtualiser's table has % x", mac, rx[88+48+40:88+48+46])
	}
	lwip := composed.Sections["echo0.elf"][".lib_sddf_lwip_config"]
	if len(lwip) != 32 || lwip[4] != 8 || lwip[16] != 0x00 || lwip[17] != 0xe0 || lwip[24] != 0x00 || lwip[25] != 0x04 {
		t.Errorf("lwip config % x", lwip)
	}
}

func TestComposeNetRefuses(t *testing.T) {
	b := qemuVirtAArch64(t)
	target, _ := sdf.TargetFor(b, "debug", "2.0.1")
	for _, tc := range []struct {
		clients []NetClientSpec
		release string
		want    string
	}{
		{nil, "0.6.0", "the network device needs at least one client"},
		{[]NetClientSpec{{Name: "nobody"}}, "0.6.0", "network client nobody is not a protection domain"},
		{[]NetClientSpec{{Name: "client0"}, {Name: "client0"}}, "0.6.0", "network client client0 is listed twice"},
		{[]NetClientSpec{{Name: "client0", MAC: []byte{1, 2, 3, 4, 5, 6}}}, "0.6.0", "is not a 6-byte unicast address"},
		{[]NetClientSpec{{Name: "client0", MAC: []byte{2, 0, 0, 0, 0, 1}}, {Name: "client1", MAC: []byte{2, 0, 0, 0, 0, 1}}}, "0.6.0", "network clients client0 and client1 have the same MAC address"},
		{[]NetClientSpec{{Name: "client0"}}, "0.7.0", "in sDDF 0.6.0's layout only"},
	} {
		var d diag.List
		sys := sdf.Parse("echo.system", []byte(netClientsSDF), target, &d)
		if _, err := ComposeNet(sys, b, netDrivers(t), tc.release, tc.clients); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	var d diag.List
	sys := sdf.Parse("echo.system", []byte(strings.ReplaceAll(netClientsSDF, `priority="97"`, `priority="98"`)), target, &d)
	if _, err := ComposeNet(sys, b, netDrivers(t), "0.6.0", []NetClientSpec{{Name: "client0"}}); err == nil || !strings.Contains(err.Error(), "its copier's is 98 and must be higher") {
		t.Errorf("priority: %v", err)
	}
}
