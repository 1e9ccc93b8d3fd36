package boards

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

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

func load(t *testing.T, files map[string]string) (*Set, []string) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	var d diag.List
	set := Load(&d, Embedded(), Dir(fsys, "lab"))
	var out []string
	for _, x := range d.Items() {
		out = append(out, x.String())
	}
	return set, out
}

const labBoard = `name: lab
inherits: aarch64
description: a lab board
cpu: cortex-a53
since: 2.0.0
kernel:
  platform: lab-plat
  options:
    KernelNumDomains: 4
    LabOption: "7"
loader: {link_address: 0x40000000}
smp_cores: 2
memory: [{base: 0x40000000, size: 0x10000000}]
boot: {method: uboot-go}
refs: {kernel: x, since: x, loader: x, memory: x, boot: x}
`

// A board's own options override the configuration's, which override the
// defaults; SMP configurations add KernelMaxNumNodes (build_sdk.py's order).
func TestKernelOptionsPrecedence(t *testing.T) {
	set, diags := load(t, map[string]string{"lab.yaml": labBoard})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	b, _ := set.Get("lab")
	opts, err := b.KernelOptions("smp-debug")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"KernelNumDomains":           "4",  // the board's own option wins over smp-debug's 1
		"KernelMaxNumNodes":          "2",  // smp_cores
		"KernelDebugBuild":           "ON", // the configuration
		"HardwareDebugAPI":           "ON", // the aarch64 base's addition to debug
		"KernelIsMCS":                "ON", // Microkit's defaults
		"KernelPlatform":             "lab-plat",
		"KernelSel4Arch":             "aarch64",
		"LabOption":                  "7",
		"KernelArmHypervisorSupport": "ON",
	} {
		if got := opts[k].String(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// For an older release the before rules drop Microkit's newer defaults,
	// but the board's own options stay.
	old, _ := b.KernelOptionsFor("debug", "2.0.1")
	if got := old["KernelNumDomains"].String(); got != "4" {
		t.Errorf("for 2.0.1 the board's KernelNumDomains = %q, want 4", got)
	}
	if _, ok := old["KernelSel4Arch"]; ok {
		t.Error("for 2.0.1 KernelSel4Arch is still set")
	}
	if _, err := b.KernelOptions("smp-nothing"); err == nil {
		t.Error("an unknown configuration is not an error")
	}
	if got := strings.Join(b.ConfigNames(), ","); got != "benchmark,debug,release,smp-benchmark,smp-debug,smp-release" {
		t.Errorf("configs %s", got)
	}
}

func TestNullRemovesAnInheritedKey(t *testing.T) {
	set, diags := load(t, map[string]string{"lab2.yaml": `name: lab2
inherits: qemu_virt_aarch64
description: no devices, no emulator
since: 1.3.0
emulator: null
sddf: null
refs: {since: x}
`})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	b, _ := set.Get("lab2")
	if b.Emulator != nil || b.SDDF != nil || b.Loader.LinkAddress != 0x70000000 {
		t.Errorf("%+v", b)
	}
}

func TestBadInheritance(t *testing.T) {
	_, diags := load(t, map[string]string{
		"x.yaml": "name: x\ninherits: aarch65\n",
		"y.yaml": "name: y\n",
	})
	want := []string{
		`lab/x.yaml:2:11: error: inherits from unknown board or base "aarch65" (did you mean "aarch64"?)`,
		`lab/y.yaml:1:1: error: missing required key "arch"`,
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(diags, "\n"), w) {
			t.Errorf("missing %s in\n%s", w, strings.Join(diags, "\n"))
		}
	}
}

// Arbitrary board files never panic the loader.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(labBoard))
	f.Add([]byte("name: fz\ninherits: fz\n"))
	f.Add([]byte("name: fz\ninherits: qemu_virt_aarch64\nrefs: {kernel: [a, b]}\nsddf: null\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"fz.yaml": &fstest.MapFile{Data: data}}
		var d diag.List
		Load(&d, Embedded(), Dir(fsys, "lab"))
	})
}

// Select gives the same board as Load, reading only its chain.
func TestSelectMatchesLoad(t *testing.T) {
	var d1, d2 diag.List
	all := Load(&d1, Embedded())
	some := Select(&d2, []string{"rpi4b_4gb", "qemu_virt_aarch64_el1", "nosuch"}, Embedded())
	if d2.Len() > 0 || len(some.Names()) != 2 {
		t.Fatalf("%v %v", d2.Items(), some.Names())
	}
	for _, n := range some.Names() {
		a, _ := all.Get(n)
		b, _ := some.Get(n)
		if a.Description != b.Description || a.Loader.LinkAddress != b.Loader.LinkAddress || len(a.ConfigList) != len(b.ConfigList) || len(a.Refs) != len(b.Refs) {
			t.Errorf("%s differs", n)
		}
	}
	if !strings.Contains(some.UnknownError("rpi4b_4g"), `did you mean "rpi4b_4gb"`) {
		t.Errorf("no suggestion from unloaded boards: %s", some.UnknownError("rpi4b_4g"))
	}
}

func BenchmarkSelectOne(b *testing.B) {
	for b.Loop() {
		var d diag.List
		Select(&d, []string{"qemu_virt_aarch64"}, Embedded())
	}
}

// Microkit 2.0.1's build_sdk.py set only the board's and the
// configuration's options; the board files' before rules reproduce that set
// exactly (checked against build_sdk.py for all 45 of its board/configs in
// development; these two stand for the aarch64 and RISC-V rules).
func TestKernelOptionsForAnOlderRelease(t *testing.T) {
	var diags diag.List
	set := Select(&diags, []string{"qemu_virt_aarch64", "qemu_virt_riscv64"}, Embedded())
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	for _, tc := range []struct{ board, config, version, want string }{
		{"qemu_virt_aarch64", "debug", "2.0.1", "KernelArmExportPCNTUser=ON KernelArmExportPTMRUser=ON KernelArmHypervisorSupport=ON KernelArmVtimerUpdateVOffset=OFF KernelDebugBuild=ON KernelIsMCS=ON KernelPlatform=qemu-arm-virt KernelPrinting=ON KernelVerificationBuild=OFF QEMU_MEMORY=2048"},
		{"qemu_virt_riscv64", "benchmark", "2.0.1", "KernelArmExportPMUUser=ON KernelBenchmarks=track_utilisation KernelDebugBuild=OFF KernelIsMCS=ON KernelPlatform=qemu-riscv-virt KernelRiscvExtD=ON KernelRiscvExtF=ON KernelVerificationBuild=OFF QEMU_MEMORY=2048"},
	} {
		b, _ := set.Get(tc.board)
		opts, err := b.KernelOptionsFor(tc.config, tc.version)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range slices.Sorted(maps.Keys(opts)) {
			got = append(got, k+"="+opts[k].String())
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s/%s for %s:\n got %s\nwant %s", tc.board, tc.config, tc.version, g, tc.want)
		}
		newest, _ := b.KernelOptions(tc.config)
		for _, v := range []string{"", "2.1.0", "2.3.0", "dev"} {
			opts, _ := b.KernelOptionsFor(tc.config, v)
			if !maps.Equal(opts, newest) {
				t.Errorf("%s/%s for %q differs from the newest options", tc.board, tc.config, v)
			}
		}
	}
}

func TestCompareReleases(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		sign int
	}{
		{"2.0.1", "2.1.0", -1}, {"2.1.0", "2.0.1", 1}, {"2.1.0", "2.1.0", 0},
		{"2.10.0", "2.9.0", 1}, {"dev", "2.3.0", 1}, {"2.3.0", "dev", -1},
		{"2.1.0-rc1", "2.1.0", -1}, {"2.1", "2.1.0", -1},
	} {
		got := compareReleases(tc.a, tc.b)
		if (got > 0) != (tc.sign > 0) || (got < 0) != (tc.sign < 0) {
			t.Errorf("compareReleases(%s, %s) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
	}
}

// Where the boot loader puts the image, and U-Boot's event log, must be
// RAM: said at the board file's line.
func TestALoadAddressOutsideMemoryIsRefused(t *testing.T) {
	_, diags := load(t, map[string]string{"lab3.yaml": `name: lab3
inherits: qemu_virt_aarch64
description: the image loaded where there is no RAM
since: 1.3.0
boot:
  load_address: 0x10000000
  before:
    "2.1.0": {method: uboot-go, load_address: 0x20000000}
refs: {since: x}
`})
	all := strings.Join(diags, "\n")
	for _, w := range []string{
		"lab/lab3.yaml:6:17: error: boot.load_address 0x10000000 is outside the board's memory ([0x40000000, 0xc0000000))",
		"lab/lab3.yaml:8:47: error: boot.before.2.1.0.load_address 0x20000000 is outside the board's memory",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %s in\n%s", w, all)
		}
	}
}
