package boards

import (
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

func TestAllBoardsLoad(t *testing.T) {
	var d diag.List
	set := Load(&d, Embedded())
	for _, x := range d.Items() {
		t.Error(x)
	}
	if got := len(set.Names()); got != 29 {
		t.Errorf("loaded %d boards, want 29: %v", got, set.Names())
	}
}
