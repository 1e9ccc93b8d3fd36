package sddf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"go.yaml.in/yaml/v3"
)

func driverFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return fsys
}

func TestMatchDriverByCompatible(t *testing.T) {
	drivers, err := LoadDrivers(driverFS(map[string]string{
		"drivers/serial/pl011/config.json":        `{"compatible": ["arm,pl011"], "resources": {"regions": [{"name": "regs", "perms": "rw", "size": 4096, "dt_index": 0}], "irqs": [{"dt_index": 0}]}}`,
		"drivers/serial/uart/config.json":         `{"compatible": ["fsl,imx8mq-uart", "fsl,imx6q-uart"], "resources": {"regions": [], "irqs": []}}`,
		"drivers/serial/uart6/config.json":        `{"compatible": ["fsl,imx6q-uart"], "resources": {"regions": [], "irqs": []}}`,
		"drivers/network/virtio/mmio/config.json": `{"compatible": ["virtio,mmio"], "resources": {"regions": [{"name": "hw_ring_buffer", "size": 65536, "cached": true}], "irqs": [{"dt_index": 0}]}}`,
		"drivers/serial/README.md":                "not a config",
	}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := MatchDriver(drivers, "serial", []string{"arm,pl011", "arm,primecell"})
	if err != nil || d.Dir != "serial/pl011" || d.Regions[0].Size != 4096 || *d.Regions[0].DTIndex != 0 || d.IRQs[0].DTIndex != 0 {
		t.Errorf("pl011: %+v, %v", d, err)
	}
	// The node's most specific string decides, even where a less specific
	// one is listed by two drivers.
	if d, err := MatchDriver(drivers, "serial", []string{"fsl,imx8mq-uart", "fsl,imx6q-uart"}); err != nil || d.Dir != "serial/uart" {
		t.Errorf("imx8mq: %+v, %v", d, err)
	}
	if d, err := MatchDriver(drivers, "network", []string{"virtio,mmio"}); err != nil || d.Dir != "network/virtio/mmio" || d.Regions[0].DTIndex != nil || !d.Regions[0].Cached {
		t.Errorf("virtio: %+v, %v", d, err)
	}
	for _, tc := range []struct {
		class  string
		compat []string
		want   string
	}{
		{"serial", []string{"fsl,imx6q-uart"}, `"fsl,imx6q-uart" is listed by two serial drivers, serial/uart and serial/uart6`},
		{"serial", []string{"ns16550a"}, `no serial driver in this sDDF drives "ns16550a"; its serial drivers: serial/pl011 (arm,pl011); serial/uart`},
		{"serial", []string{"xlnx,zynqmp-uart", "cdns,uart-r1p12"}, `no serial driver in this sDDF drives "xlnx,zynqmp-uart" or "cdns,uart-r1p12"; its`},
		{"timer", []string{"arm,armv8-timer"}, "this sDDF has no timer drivers"},
		{"network", []string{"arm,pl011"}, `no network driver`},
	} {
		if _, err := MatchDriver(drivers, tc.class, tc.compat); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: got %v, want %q", tc.class, tc.compat, err, tc.want)
		}
	}
	if _, err := LoadDrivers(driverFS(map[string]string{
		"drivers/serial/a/config.json": `{"compatible": ["x"], "resources": {"regions": [{"nmae": "regs"}]}}`,
		"drivers/timer/b/config.json":  `{"compatible": [], "resources": {}}`,
	})); err == nil || !strings.Contains(err.Error(), `drivers/serial/a/config.json: json: unknown field "nmae"`) || !strings.Contains(err.Error(), "drivers/timer/b/config.json: no compatible strings") {
		t.Errorf("bad configs: %v", err)
	}
}

// Every board file's sDDF driver against the drivers of the sDDF revision
// the board files cite (650ace5), taken from its mirror: the driver plinth
// would match by compatible string is the one the board file names. Runs
// when PLINTH_MIRRORS maps sDDF's repository.
func TestBoardDriversMatchPinnedSDDF(t *testing.T) {
	dir := sddfTree(t, "650ace5d", "drivers")
	drivers, err := LoadDrivers(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	var diags diag.List
	set := boards.Load(&diags, boards.Embedded())
	matched := 0
	for _, b := range set.All() {
		if b.SDDF == nil {
			continue
		}
		for class, devices := range b.SDDF.Devices {
			for _, dev := range devices {
				if len(dev.Compatible) == 0 {
					continue // x86: fixed facts, no device tree
				}
				d, err := MatchDriver(drivers, string(class), dev.Compatible)
				named := filepath.ToSlash(filepath.Join(string(class), dev.Driver))
				switch {
				case err != nil && strings.Contains(err.Error(), "has no "+string(class)+" drivers"):
					t.Logf("%s %s %s: %v", b.Name, class, dev.Node, err) // no config.json for the class at this revision
				case err != nil:
					t.Errorf("%s %s %s: %v", b.Name, class, dev.Node, err)
				case d.Dir != named && !strings.HasPrefix(named, d.Dir+"/"):
					t.Errorf("%s %s %s: the board file names %s, the compatible strings match %s", b.Name, class, dev.Node, named, d.Dir)
				default:
					matched++
				}
			}
		}
	}
	t.Logf("%d board devices match their sDDF driver by compatible string (%d drivers)", matched, len(drivers))
}

// sddfTree unpacks directories of sDDF at a commit from the mirror
// PLINTH_MIRRORS maps sDDF's repository to; the test is skipped without one.
func sddfTree(t *testing.T, commit string, dirs ...string) string {
	t.Helper()
	mirrorFile := os.Getenv("PLINTH_MIRRORS")
	if mirrorFile == "" {
		t.Skip("PLINTH_MIRRORS not set: no sDDF tree")
	}
	// The mirror map's format (builder.LoadMirrors, which this package
	// cannot import: builder builds sDDF systems with it).
	data, err := os.ReadFile(mirrorFile)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Mirrors []struct{ From, To string }
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	repo := ""
	for _, e := range m.Mirrors {
		if e.From == "https://github.com/au-ts/sddf" {
			repo = e.To
		}
	}
	if repo == "" {
		t.Skip("the mirror map has no sDDF")
	}
	dir := t.TempDir()
	script := `git --git-dir="$1" archive "$3" "$4" | tar -x -C "$2"`
	for _, d := range dirs {
		if out, err := exec.Command("sh", "-c", script, "sh", repo, dir, commit, d).CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	return dir
}
