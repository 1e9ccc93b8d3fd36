package deployment

import (
	"os"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

func load(t *testing.T, file string, data []byte) (*Deployment, string) {
	t.Helper()
	var diags diag.List
	d := Parse(file, data, &diags)
	if d != nil {
		Check(d, &diags)
	}
	var b strings.Builder
	diags.Write(&b)
	return d, b.String()
}

func TestShippedDeploymentsAreClean(t *testing.T) {
	for _, f := range []string{"../deployments/minimum.yaml", "../deployments/fleet.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if d, errs := load(t, f, data); errs != "" || d == nil || len(d.Systems) < 2 {
			t.Errorf("%s:\n%s", f, errs)
		}
	}
}

// Every problem at once, each with its line and column; a reversed link
// names both systems' zone lines.
func TestBadDeploymentsAreRefusedWithEveryProblem(t *testing.T) {
	const bad = `name: bad
description: x
zones: [console, vault, vault]
systems:
  - {name: console, recipe: os-console, board: qemu_virt_aarch64, zone: console, address: 10.0.2.1}
  - {name: vault, recipe: os-totebox, board: qemu_virt_aarch64, zone: vault, address: 10.0.2.1}
  - {name: vault, recipe: os-totebox, board: qemu_virt_aarch64, zone: basement}
links:
  - {from: vault, to: console, carries: commands}
  - {from: console, to: vault, carries: telemetry}
  - {from: console, to: nobody, carries: commands}
  - {from: console, to: vault, carries: smoke}
absent:
  - {zones: [attic]}
`
	_, errs := load(t, "bad.yaml", []byte(bad))
	for _, want := range []string{
		`bad.yaml:3:25: error: zones[2]: "vault" is listed twice`,
		`bad.yaml:6:87: error: systems[1]: address 10.0.2.1 is also console's (bad.yaml:5:91)`,
		`bad.yaml:7:12: error: systems[2]: "vault" is also the name of the system at bad.yaml:6:5`,
		`bad.yaml:7:71: error: systems[2]: zone "basement" is not one of the zones`,
		`bad.yaml:9:5: error: links[0]: commands may only go down the zones, but this link sends them from vault (zone vault, bad.yaml:6:71) to console (zone console, bad.yaml:5:73), which is higher`,
		`bad.yaml:10:5: error: links[1]: telemetry may only go up the zones, but this link sends it from console (zone console, bad.yaml:5:73) to vault (zone vault, bad.yaml:6:71), which is lower`,
		`bad.yaml:11:25: error: links[2]: no system is named "nobody"`,
		`bad.yaml:12:41: error: links[3].carries: unknown value "smoke" (expected one of: commands, telemetry)`,
		`bad.yaml:14:14: error: absent[0]: zone "attic" is not one of the zones`,
		`bad.yaml:14:5: error: absent[0]: name crates, symbols or sections that must be absent`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Log(errs)
	}
}
