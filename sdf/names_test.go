package sdf

import (
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// Names in a system description that become paths stay inside: a program
// image and a prefill file are looked up in the search path, and plinth
// names files after protection domains.
func TestNamesThatBecomePathsStayInside(t *testing.T) {
	for _, c := range []struct{ sdf, want string }{
		{sys(`<protection_domain name="a"><program_image path="/etc/passwd" /></protection_domain>`), `"/etc/passwd" is absolute`},
		{sys(`<protection_domain name="a"><program_image path="../../a.elf" /></protection_domain>`), `"../../a.elf" climbs out of its tree`},
		{sys(pd("../../../tmp/x", "", "")), `holds a path separator`},
		{sys(pd("a", "", ""), `<memory_region name="m" size="0x1000" prefill_path="../../../etc/passwd" />`), `prefill_path: "../../../etc/passwd" climbs out`},
	} {
		var d diag.List
		Parse("x.system", []byte(c.sdf), arm, &d)
		var msgs []string
		for _, x := range d.Items() {
			msgs = append(msgs, x.String())
		}
		if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
			t.Errorf("want %q, got %v", c.want, msgs)
		}
	}
}

// A huge attribute value is quoted in part, not echoed whole.
func TestHugeValuesAreClipped(t *testing.T) {
	huge := strings.Repeat("9", 1<<20)
	var d diag.List
	Parse("x.system", []byte(sys(pd("a", `priority="`+huge+`"`, ""))), arm, &d)
	if !d.HasErrors() {
		t.Fatal("accepted")
	}
	for _, x := range d.Items() {
		if len(x.Message) > 400 {
			t.Errorf("a message of %d bytes: %.120s…", len(x.Message), x.Message)
		}
	}
}
