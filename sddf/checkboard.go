package sddf

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

// CheckBoard compares a board file's sDDF devices with a device tree of the
// board (and, given drivers, with the sDDF revision's drivers): each node
// must exist with the same compatible strings, registers (addresses
// translated to physical ones, sizes as the tree gives them) and interrupts, and match the driver the board
// file names. Disagreements are diagnostics at the board file's lines; it
// returns how many devices agree.
func CheckBoard(b *boards.Board, tree *Tree, dtbName string, drivers []Driver, diags *diag.List) int {
	if b.SDDF == nil {
		return 0
	}
	agree := 0
	for _, class := range slices.Sorted(maps.Keys(b.SDDF.Devices)) {
		for i, want := range b.SDDF.Devices[class] {
			where := fmt.Sprintf("sddf.devices.%s[%d]", class, i)
			if want.Node == "" {
				continue // x86: fixed facts, no device tree
			}
			got, err := tree.Device(want.Node)
			if err != nil {
				diags.Errorf(want.Meta.At("node"), "%s: %s: %v", where, dtbName, err)
				continue
			}
			before := diags.ErrorCount()
			if !slices.Equal(got.Compatible, want.Compatible) {
				diags.Errorf(want.Meta.At("compatible"), "%s: compatible is %s in %s", where, quoteAll(got.Compatible), dtbName)
			}
			var regs, wantRegs []string
			for _, r := range got.Regs {
				regs = append(regs, fmt.Sprintf("%#x+%#x", r.Base, r.Size))
			}
			for _, r := range want.Regs {
				wantRegs = append(wantRegs, fmt.Sprintf("%#x+%#x", r.Base, r.Size))
			}
			if !slices.Equal(regs, wantRegs) {
				diags.Errorf(want.Meta.At("regs"), "%s: registers are [%s] in %s, the board file says [%s]", where, strings.Join(regs, " "), dtbName, strings.Join(wantRegs, " "))
			}
			var irqs, wantIRQs []string
			for _, q := range got.IRQs {
				irqs = append(irqs, fmt.Sprintf("%d/%s", q.Number, q.Trigger))
			}
			for _, q := range want.IRQs {
				if q.IRQ != nil {
					wantIRQs = append(wantIRQs, fmt.Sprintf("%d/%s", *q.IRQ, q.Trigger))
				}
			}
			if !slices.Equal(irqs, wantIRQs) {
				diags.Errorf(want.Meta.At("irqs"), "%s: interrupts are [%s] in %s, the board file says [%s]", where, strings.Join(irqs, " "), dtbName, strings.Join(wantIRQs, " "))
			}
			if drivers != nil {
				d, err := MatchDriver(drivers, string(class), got.Compatible)
				named := string(class) + "/" + want.Driver
				switch {
				case err != nil:
					diags.Warnf(want.Meta.At("driver"), "%s: %v", where, err)
				case d.Dir != named && !strings.HasPrefix(named, d.Dir+"/"):
					diags.Errorf(want.Meta.At("driver"), "%s: the board file names driver %s, the compatible strings match %s", where, want.Driver, strings.TrimPrefix(d.Dir, string(class)+"/"))
				}
			}
			if diags.ErrorCount() == before {
				agree++
			}
		}
	}
	return agree
}

func quoteAll(s []string) string {
	var q []string
	for _, x := range s {
		q = append(q, fmt.Sprintf("%q", x))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
