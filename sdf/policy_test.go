package sdf

import (
	"os"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// diodePolicy and legalDiode are the policy and the system the tests and
// plinth sdf check --policy use: commands flow down (notifications, a region
// the higher zone writes), telemetry flows up through named regions the
// higher zones map read-only, and protected calls go to a server in the
// caller's own zone.
var (
	diodePolicy = readFile("testdata/diode.policy.yaml")
	legalDiode  = readFile("testdata/valid/legal_diode.system")
)

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func checkPolicy(t *testing.T, sdfText, policy string) []diag.Diagnostic {
	t.Helper()
	var d diag.List
	s := Parse("s.system", []byte(sdfText), with(arm, func(t *Target) { t.Cores = 1 }), &d)
	if d.HasErrors() {
		t.Fatalf("system has errors: %v", d.Items())
	}
	p := ParsePolicy("p.yaml", []byte(policy), &d)
	CheckPolicy(s, p, &d)
	var out []diag.Diagnostic
	for _, x := range d.Items() {
		if x.Severity == diag.Error {
			out = append(out, x)
		}
	}
	return out
}

func TestLegalDiodePasses(t *testing.T) {
	if errs := checkPolicy(t, legalDiode, diodePolicy); len(errs) > 0 {
		t.Errorf("a legal diode system is rejected: %v", errs)
	}
}

// Each way a lower zone can influence a higher one is reported with both
// sites and both zones.
func TestPolicyViolations(t *testing.T) {
	for _, tc := range []struct {
		name      string
		from, to  string // a replacement in legalDiode
		policy    string
		want      string
		sites     int // positions named in the message besides its own
		line, alt string
	}{
		{"notify up", `<end pd="vault" id="1" notify="false" />`, `<end pd="vault" id="1" />`, "",
			"'vault' (zone vault) may notify 'console' (zone command), a higher zone", 1, `<end pd="vault" id="1" />`, ""},
		{"protected call up", `<end pd="net" id="2" pp="true" /><end pd="timer" id="0" />`, `<end pd="net" id="2" pp="true" notify="false" /><end pd="vault" id="3" notify="false" />`, "",
			"'net' (zone public) may make protected calls into 'vault' (zone vault)", 1, `pd="net" id="2" pp="true"`, ""},
		{"writable shared region", `<map mr="commands" vaddr="0x1000000" perms="r" />`, `<map mr="commands" vaddr="0x1000000" perms="rw" />`, "",
			"'vault' (zone vault) maps region 'commands' writable and 'console' (zone command), a higher zone, maps it too", 1, `<map mr="commands" vaddr="0x1000000" perms="rw" />
        <map mr="vault_telemetry" vaddr="0x1001000" perms="rw" />`, ""},
		{"telemetry mapped writable above", `<map mr="vault_telemetry" vaddr="0x1001000" perms="r" />`, `<map mr="vault_telemetry" vaddr="0x1001000" perms="rw" />`, "",
			"'console' (zone command) maps telemetry region 'vault_telemetry' with perms \"rw\"", 1, `mr="vault_telemetry" vaddr="0x1001000" perms="rw" />
    </protection_domain>`, ""},
		{"undeclared telemetry", "", "", strings.Replace(diodePolicy, "telemetry: [vault_telemetry, net_telemetry]", "telemetry: [vault_telemetry]", 1),
			"'net' (zone public) maps region 'net_telemetry' writable and 'vault' (zone vault), a higher zone, maps it too", 1, `<map mr="net_telemetry" vaddr="0x1002000" perms="rw" />`, ""},
		{"cap handed up", `<cspace><cap_tcb pd="net" slot="1" /></cspace>`, "", "",
			"'net' (zone public) holds the tcb capability of 'vault' (zone vault)", 1, `<cap_tcb pd="vault"`, "net_cap"},
		{"child in another zone", "", "", strings.Replace(strings.Replace(diodePolicy, "pds: [vault]", "pds: [vault, net_driver]", 1), "pds: [net, net_driver, timer]", "pds: [net, timer]", 1),
			"child 'net_driver' (zone vault) and its parent 'net' (zone public) are in different zones", 1, `<protection_domain name="net_driver"`, ""},
	} {
		sdfText := legalDiode
		if tc.from != "" {
			sdfText = strings.Replace(sdfText, tc.from, tc.to, 1)
		}
		if tc.alt == "net_cap" {
			sdfText = strings.Replace(sdfText, `<map mr="net_telemetry" vaddr="0x1002000" perms="rw" />`, `<map mr="net_telemetry" vaddr="0x1002000" perms="rw" />
        <cspace><cap_tcb pd="vault" slot="1" /></cspace>`, 1)
		}
		policy := diodePolicy
		if tc.policy != "" {
			policy = tc.policy
		}
		errs := checkPolicy(t, sdfText, policy)
		want := lineOf(sdfText, tc.line)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, tc.want) || errs[0].Pos.Line != want || strings.Count(errs[0].Message, "s.system:") != tc.sites {
			t.Errorf("%s: want one error on line %d with %q naming the other site; got %v", tc.name, want, tc.want, errs)
		}
	}
}

func TestPolicyFileMistakes(t *testing.T) {
	errs := checkPolicy(t, legalDiode, `zones:
  - name: command
    pds: [console, consol]
  - name: command
    pds: [vault, console]
  - name: public
    pds: [net, timer]
telemetry: [vault_telemetry, nosuch]
`)
	var got []string
	for _, e := range errs {
		got = append(got, e.String())
	}
	for _, want := range []string{
		`p.yaml:3:20: error: policy: zone "command" names "consol", which is not a protection domain of s.system (did you mean "console"?)`,
		`p.yaml:4:11: error: policy: zone "command" is also defined at p.yaml:2:11`,
		`p.yaml:5:18: error: policy: protection domain "console" is in zone "command" and zone "command"`,
		`p.yaml:8:30: error: policy: telemetry region "nosuch" is not a memory region of s.system`,
		`s.system:20:28: error: policy: protection domain 'net_driver' is in no zone of p.yaml`,
	} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("missing %s in\n%s", want, strings.Join(got, "\n"))
		}
	}
}
