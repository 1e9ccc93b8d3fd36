package boards

import (
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// BenchmarkLoad reads, inherits and validates every built-in board: the
// fixed cost of every plinth command that reads boards.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var d diag.List
		Load(&d, Embedded())
	}
}
