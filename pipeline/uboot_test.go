package pipeline

import (
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

// Every board that boots through U-Boot gets a FIT its U-Boot can start:
// arm64 images as go starts them, RISC-V ones with the hart id and device
// tree as OpenSBI starts them; a board booted otherwise is refused, saying
// how it boots.
func TestUBootFactsFollowTheBoardsBoot(t *testing.T) {
	var d diag.List
	set := boards.Load(&d, boards.Embedded())
	for name, want := range map[string]string{
		"maaxboard":         "arm64 u-boot mmc",
		"star64":            "riscv linux mmc",
		"qemu_virt_aarch64": "arm64 u-boot virtio",
		"qemu_virt_riscv64": "riscv linux virtio",
		"cheshire":          "boots by gdb",
		"x86_64_generic":    "boots by multiboot",
	} {
		b, ok := set.Get(name)
		if !ok {
			t.Fatalf("no board %s", name)
		}
		u, err := UBootFacts(b, "2.0.1")
		got := u.Arch + " " + u.OS + " " + u.Interface
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
