package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
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

// An image past the end of RAM, or over where U-Boot stages the FIT, is
// refused before anything is made.
func TestAnImageThatDoesNotFitWhereUBootPutsItIsRefused(t *testing.T) {
	b := &boards.Board{Name: "lab", Memory: []boards.Region{{Base: 0x40000000, Size: 0x10000000}}, Boot: boards.Boot{LoadAddress: 0x40400000}}
	deps := t.TempDir()
	os.WriteFile(filepath.Join(deps, UBootEnvText), []byte("bootcmd=bootflow scan\nkernel_addr_r=0x40200000\n"), 0o644)
	sc := &builder.StepContext{Deps: map[string]string{"u-boot": deps}}
	ub := &builder.Step{Name: "u-boot"}
	if err := checkPlacement(b, make([]byte, 0x100), sc, ub); err != nil {
		t.Errorf("a small image: %v", err)
	}
	if err := checkPlacement(b, make([]byte, 0x300000), sc, ub); err == nil || !strings.Contains(err.Error(), "kernel_addr_r 0x40200000") {
		t.Errorf("over the FIT: %v", err)
	}
	b.Boot.LoadAddress = 0x4ff00000
	if err := checkPlacement(b, make([]byte, 0x200000), sc, nil); err == nil || !strings.Contains(err.Error(), "past the end of its RAM") {
		t.Errorf("past RAM: %v", err)
	}
}
