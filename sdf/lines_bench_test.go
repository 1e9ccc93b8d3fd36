package sdf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// systemOfPDs is n protection domains, written one a line or all on one.
func systemOfPDs(n int, oneLine bool) []byte {
	sep := "\n"
	if oneLine {
		sep = " "
	}
	var b strings.Builder
	b.WriteString("<system>" + sep)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<protection_domain name="pd%d" priority="%d"><program_image path="pd%d.elf" /></protection_domain>%s`, i, i%254, i, sep)
	}
	b.WriteString("</system>\n")
	return []byte(b.String())
}

// Checking a system costs the same whether it is written on one line or on
// many: positions are counted on from the last one, not from the start of
// the line. Compare the two (go test -bench Lines ./sdf): within 2x.
func BenchmarkCheckOneLine(b *testing.B)   { benchmarkLines(b, true) }
func BenchmarkCheckManyLines(b *testing.B) { benchmarkLines(b, false) }

func benchmarkLines(b *testing.B, oneLine bool) {
	data := systemOfPDs(100_000, oneLine)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var d diag.List
		Parse("big.system", data, arm, &d)
	}
}

// The positions are the same either way (the column, of course, differs).
func TestPositionsOnOneLine(t *testing.T) {
	data := systemOfPDs(50, true)
	var d diag.List
	Parse("big.system", data, arm, &d)
	var dm diag.List
	Parse("big.system", systemOfPDs(50, false), arm, &dm)
	if d.Len() != dm.Len() {
		t.Fatalf("%d diagnostics on one line, %d on many", d.Len(), dm.Len())
	}
	// The 50th PD's program_image path on one line starts at this column.
	line := string(data)
	want := strings.Index(line, `path="pd49.elf"`) + 1
	li := newLineIndex("x", data)
	if got := li.pos(want - 1).Col; got != want {
		t.Errorf("column %d, want %d", got, want)
	}
	// Asked out of order, it still counts right.
	if got := li.pos(5).Col; got != 6 {
		t.Errorf("column %d, want 6", got)
	}
	if got := li.pos(want - 1).Col; got != want {
		t.Errorf("column %d after going back, want %d", got, want)
	}
}
