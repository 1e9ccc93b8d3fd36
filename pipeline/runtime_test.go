package pipeline

import (
	"slices"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

// The kernel is configured with the board file's options, sorted, with
// paths written microkit:PATH or kernel:PATH resolved in those trees.
func TestRuntimeCMakeArguments(t *testing.T) {
	var diags diag.List
	set := boards.Select(&diags, []string{"imx8mp_iotgate"}, boards.Embedded())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	b, _ := set.Get("imx8mp_iotgate")
	opts, err := b.KernelOptionsFor("debug", "2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	rb := runtimeBuild{board: b, config: "debug", options: opts, microkit: "src/mk", kernel: "src/sel4"}
	args := rb.cmakeArgs("/w")
	if !slices.IsSorted(args) {
		t.Errorf("arguments not sorted: %v", args)
	}
	for _, want := range []string{
		"-DKernelCustomDTS=/w/src/mk/custom_dts/iot-gate.dts",
		"-DKernelCustomDTSOverlay=/w/src/sel4/src/plat/imx8m-evk/overlay-imx8mp-evk.dts",
		"-DKernelDebugBuild=ON",
		"-DKernelPlatform=imx8mp-evk",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("missing %s in %v", want, args)
		}
	}
	if slices.ContainsFunc(args, func(a string) bool { return len(a) > 16 && a[:16] == "-DKernelSel4Arch" }) {
		t.Errorf("Microkit 2.0.1 did not set KernelSel4Arch: %v", args)
	}
}
