package sddf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

func readTree(t *testing.T, path string) *Tree {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tree, err := ReadTree(f)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// The board files' sDDF device facts against the device tree QEMU itself
// generates for each board it emulates as a "virt" machine: every node
// exists, with the same compatible strings, registers (page-aligned, as the
// board files give them) and seL4 interrupts.
func TestBoardDevicesMatchQEMUsDeviceTree(t *testing.T) {
	var diags diag.List
	set := boards.Load(&diags, boards.Embedded())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	checked := 0
	for _, b := range set.All() {
		if b.Emulator == nil || b.SDDF == nil {
			continue
		}
		if i := slices.Index(b.Emulator.Args, "-machine"); i < 0 || i+1 >= len(b.Emulator.Args) || !strings.HasPrefix(b.Emulator.Args[i+1], "virt") {
			continue // only QEMU's generated "virt" machines have a tree to dump
		}
		if _, err := exec.LookPath(b.Emulator.Command); err != nil {
			t.Logf("%s: no %s here; not checked", b.Name, b.Emulator.Command)
			continue
		}
		dtb := filepath.Join(t.TempDir(), b.Name+".dtb")
		var args []string
		for i := 0; i < len(b.Emulator.Args); i++ {
			a := b.Emulator.Args[i]
			switch {
			case i+1 < len(b.Emulator.Args) && strings.Contains(b.Emulator.Args[i+1], "{image}"):
				i++ // the image to boot (-device loader,… or -kernel): not needed to dump the tree
			case i > 0 && b.Emulator.Args[i-1] == "-machine":
				args = append(args, a+",dumpdtb="+dtb)
			default:
				args = append(args, a)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, b.Emulator.Command, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %s %v: %v\n%s", b.Name, b.Emulator.Command, args, err, out)
		}
		var d diag.List
		n := CheckBoard(b, readTree(t, dtb), b.Name+".dtb", nil, &d)
		if d.Len() > 0 {
			var w strings.Builder
			d.Write(&w)
			t.Errorf("%s against QEMU's tree:\n%s", b.Name, w.String())
		}
		checked += n
	}
	if checked == 0 {
		t.Skip("no QEMU here to generate a device tree")
	}
	t.Logf("%d devices agree with QEMU's device trees", checked)
}

func formatRegion(base, size uint64) string  { return fmt.Sprintf("%#x+%#x", base, size) }
func formatIRQ(n uint64, trig string) string { return fmt.Sprintf("%d/%s", n, trig) }

const fixtureDTS = `/dts-v1/;
/ {
	#address-cells = <2>;
	#size-cells = <2>;
	interrupt-parent = <&gic>;

	gic: interrupt-controller@38800000 {
		compatible = "arm,gic-v3";
		interrupt-controller;
		#interrupt-cells = <3>;
		reg = <0 0x38800000 0 0x10000>;
	};
	gpc: gpc@303a0000 {
		compatible = "fsl,imx8mq-gpc";
		interrupt-controller;
		#interrupt-cells = <3>;
		interrupt-parent = <&gic>;
		reg = <0 0x303a0000 0 0x10000>;
	};
	plic: interrupt-controller@c000000 {
		compatible = "sifive,plic-1.0.0", "riscv,plic0";
		interrupt-controller;
		#interrupt-cells = <1>;
		reg = <0 0xc000000 0 0x4000000>;
	};
	soc@0 {
		compatible = "simple-bus";
		#address-cells = <1>;
		#size-cells = <1>;
		ranges = <0x0 0x0 0x0 0x40000000>;
		bus@30800000 {
			compatible = "simple-bus";
			#address-cells = <1>;
			#size-cells = <1>;
			ranges = <0x0 0x30800000 0x400000>;
			serial@60000 {
				compatible = "fsl,imx8mq-uart", "fsl,imx6q-uart";
				reg = <0x60000 0x10000>;
				interrupt-parent = <&gpc>;
				interrupts = <0 27 4>;
			};
		};
		ethernet@30be0000 {
			compatible = "fsl,imx8mq-fec";
			reg = <0x30be0000 0x10000>;
			interrupts = <0 118 4>, <0 119 1>, <1 9 0x104>;
		};
	};
	serial@10000000 {
		compatible = "ns16550a";
		reg = <0 0x10000000 0 0x100>;
		interrupts-extended = <&plic 10>;
	};
	nobus {
		#address-cells = <1>;
		#size-cells = <1>;
		dev@10 { reg = <0x10 0x4>; };
	};
	odd@0 {
		reg = <0 0x1000 0 0x1000>;
		interrupts = <2 5 4>;
	};
};
`

// Registers through two levels of bus ranges, interrupts through GIC SPIs
// and PPIs, an i.MX GPC in front of the GIC and a PLIC through
// interrupts-extended, from a tree compiled by the real dtc; and the errors
// a wrong board file would meet.
func TestDeviceTreeTranslation(t *testing.T) {
	if _, err := exec.LookPath("dtc"); err != nil {
		t.Skip("no dtc (apt-get install device-tree-compiler)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "board.dts"), []byte(fixtureDTS), 0o644)
	if out, err := exec.Command("dtc", "-q", "-I", "dts", "-O", "dtb", "-o", filepath.Join(dir, "board.dtb"), filepath.Join(dir, "board.dts")).CombinedOutput(); err != nil {
		t.Fatalf("dtc: %v\n%s", err, out)
	}
	tree := readTree(t, filepath.Join(dir, "board.dtb"))
	for path, want := range map[string]string{
		"/soc@0/bus@30800000/serial@60000": "fsl,imx8mq-uart,fsl,imx6q-uart [0x30860000+0x10000] [59/level]",
		"/soc@0/ethernet@30be0000":         "fsl,imx8mq-fec [0x30be0000+0x10000] [150/level 151/edge 25/level]",
		"/serial@10000000":                 "ns16550a [0x10000000+0x100] [10/level]",
	} {
		d, err := tree.Device(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		var regs, irqs []string
		for _, r := range d.Regs {
			regs = append(regs, formatRegion(r.Base, r.Size))
		}
		for _, i := range d.IRQs {
			irqs = append(irqs, formatIRQ(i.Number, i.Trigger))
		}
		if got := fmt.Sprintf("%s %v %v", strings.Join(d.Compatible, ","), regs, irqs); got != want {
			t.Errorf("%s:\n got %s\nwant %s", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"/soc@0/serial@60000": `no "serial@60000" under /soc@0; it has bus@30800000, ethernet@30be0000`,
		"/nobus/dev@10":       "bus /nobus has no ranges",
		"/odd@0":              "GIC interrupt type 2 is neither SPI (0) nor PPI (1)",
	} {
		if _, err := tree.Device(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", path, err, want)
		}
	}
}
