package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/doctor"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// plinth runs the command line in-process, with no PLINTH_* variables set.
func plinth(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, host: doctor.HostEnv()}
	code = e.main(args)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

var diagLine = regexp.MustCompile(`^[^:]+:\d+:\d+: (error|warning): .+$`)

// diagnostics checks that every line of stderr is FILE:LINE:COL: error|warning: …
// and returns the number of errors.
func diagnostics(t *testing.T, stderr string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if regexp.MustCompile(`^\d+ error\(s\)$`).MatchString(l) {
			continue
		}
		if !diagLine.MatchString(l) {
			t.Errorf("not a FILE:LINE:COL diagnostic: %q", l)
		}
		if strings.Contains(l, ": error: ") {
			n++
		}
	}
	return n
}

func TestBoardsJSONListsEveryBoardWithEveryField(t *testing.T) {
	out, stderr, code := plinth(t, "boards", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []struct {
		Name, Description, Arch, CPU, Since string
		Kernel                              struct {
			Platform string
			Options  map[string]any
			Defaults map[string]any
		}
		Loader *struct {
			LinkAddress uint64 `json:"link_address"`
		}
		Image struct {
			Default string
			Allowed []string
		}
		SMPCores int `json:"smp_cores"`
		Configs  []struct {
			Name          string
			SMP           bool
			KernelOptions map[string]any `json:"kernel_options"`
		}
		Memory   []struct{ Base, Size uint64 }
		Console  *struct{ Base, IOPort uint64 }
		Boot     struct{ Method string }
		Emulator *struct {
			Command string
			Args    []string
		}
		SDDF *struct {
			Devices map[string][]struct{ Driver string }
		}
		Refs map[string][]string
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	arches := map[string]int{}
	pairs := 0
	emulated := map[string]bool{}
	for _, b := range list {
		arches[b.Arch]++
		pairs += len(b.Configs)
		if b.Description == "" || b.Since == "" || b.Kernel.Platform == "" || b.Image.Default == "" || len(b.Image.Allowed) == 0 || b.Boot.Method == "" || b.Console == nil || len(b.Refs) == 0 {
			t.Errorf("%s: a required fact is empty: %+v", b.Name, b)
		}
		if b.Kernel.Defaults["KernelIsMCS"] != true || b.Kernel.Defaults["KernelSel4Arch"] != b.Arch {
			t.Errorf("%s: Microkit's default kernel options are missing: %v", b.Name, b.Kernel.Defaults)
		}
		if b.Arch != "x86_64" {
			if b.Loader == nil || b.Loader.LinkAddress == 0 || len(b.Memory) == 0 || b.CPU == "" && b.Arch == "aarch64" {
				t.Errorf("%s: loader link address, memory or cpu missing", b.Name)
			}
		}
		// Boards with SMP cores get the three smp-* configurations, the others not.
		want := 3
		if b.SMPCores > 0 {
			want = 6
		}
		if len(b.Configs) != want {
			t.Errorf("%s: %d configs, want %d", b.Name, len(b.Configs), want)
		}
		for _, c := range b.Configs {
			if c.SMP && c.KernelOptions["KernelMaxNumNodes"] == nil {
				t.Errorf("%s/%s: SMP config without KernelMaxNumNodes", b.Name, c.Name)
			}
			if c.KernelOptions["KernelPlatform"] != b.Kernel.Platform {
				t.Errorf("%s/%s: KernelPlatform %v", b.Name, c.Name, c.KernelOptions["KernelPlatform"])
			}
		}
		if b.Emulator != nil {
			emulated[b.Name] = true
			if !strings.Contains(strings.Join(b.Emulator.Args, " "), "{image}") {
				t.Errorf("%s: emulator args do not place the image", b.Name)
			}
		}
	}
	if len(list) != 29 || arches["aarch64"] != 21 || arches["riscv64"] != 6 || arches["x86_64"] != 2 {
		t.Errorf("got %d boards %v, want 29: 21 aarch64, 6 riscv64, 2 x86_64", len(list), arches)
	}
	// Microkit's build_sdk.py makes 159 board/config directories in a full SDK.
	if pairs != 159 {
		t.Errorf("%d board/config pairs, want 159", pairs)
	}
	for _, name := range []string{"qemu_virt_aarch64", "qemu_virt_aarch64_el1", "qemu_virt_riscv64", "x86_64_generic"} {
		if !emulated[name] {
			t.Errorf("%s has no emulator command line", name)
		}
	}
}

func TestBoardsTableAndShow(t *testing.T) {
	out, _, code := plinth(t, "boards")
	if code != 0 || !strings.Contains(out, "qemu_virt_riscv64") || !strings.Contains(out, "29 boards") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	out, _, code = plinth(t, "boards", "show", "rpi4b_4gb")
	for _, want := range []string{"inherits     rpi4b -> aarch64 -> microkit", "RPI4_MEMORY=4096", "loader link  0x10000000", "smp-debug: "} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("boards show rpi4b_4gb lacks %q:\n%s", want, out)
		}
	}
	_, stderr, code := plinth(t, "boards", "show", "rpi4b_4g")
	if code != 1 || !strings.Contains(stderr, `did you mean "rpi4b_4gb"?`) {
		t.Errorf("unknown board: exit %d, %q", code, stderr)
	}
}

func TestBadBoardFilesReportEveryProblem(t *testing.T) {
	out, stderr, code := plinth(t, "boards", "--boards-dir", "testdata/bad-boards")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	if n := diagnostics(t, stderr); n < 15 {
		t.Errorf("only %d errors:\n%s", n, stderr)
	}
	golden(t, "bad-boards.golden", stderr)
}

func TestInheritanceCycleIsAnError(t *testing.T) {
	_, stderr, code := plinth(t, "boards", "--boards-dir", "testdata/cycle-boards")
	want := "testdata/cycle-boards/a.yaml:2:11: error: inheritance cycle: a -> b -> c -> a\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
}

func TestBoardsDirOverridesAndExtends(t *testing.T) {
	out, stderr, code := plinth(t, "boards", "--json", "--boards-dir", "testdata/override-boards")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []struct {
		Name, CPU string
		File      string
		Chain     []string `json:"inherits_chain"`
		SMPCores  int      `json:"smp_cores"`
		SDDF      any
		Refs      map[string][]string
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, b := range list {
		byName[b.Name] = i
	}
	if len(list) != 30 {
		t.Errorf("%d boards, want the 29 built-in plus lab_el1", len(list))
	}
	q := list[byName["qemu_virt_aarch64"]]
	if q.CPU != "cortex-a57" || q.SMPCores != 2 || q.SDDF != nil || !strings.HasPrefix(q.File, "testdata/") {
		t.Errorf("the out-of-tree qemu_virt_aarch64 did not replace the built-in one: %+v", q)
	}
	lab := list[byName["lab_el1"]]
	if strings.Join(lab.Chain, ",") != "qemu_virt_aarch64_el1,qemu_virt_aarch64,aarch64,microkit" || lab.CPU != "cortex-a57" || lab.SDDF != nil {
		t.Errorf("lab_el1 did not inherit through the overridden board: %+v", lab)
	}
	if got := lab.Refs["since"]; len(got) != 3 || got[2] != "lab notes" {
		t.Errorf("refs are not kept from every file of the chain: %q", got)
	}
}

func TestBadRecipeReportsEveryProblem(t *testing.T) {
	_, stderr, code := plinth(t, "check", "testdata/bad-recipe/recipe.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if n := diagnostics(t, stderr); n < 20 {
		t.Errorf("only %d errors:\n%s", n, stderr)
	}
	golden(t, "bad-recipe.golden", stderr)

	out, _, code := plinth(t, "check", "--json", "testdata/bad-recipe")
	var res struct {
		OK          bool
		Diagnostics []struct {
			Pos struct {
				File      string
				Line, Col int
			}
			Severity string
			Message  string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.OK || len(res.Diagnostics) < 20 {
		t.Errorf("--json: exit %d, %v, %+v", code, err, res)
	}
}

func TestShippedRecipesCheck(t *testing.T) {
	out, _, code := plinth(t, "recipes")
	if code != 0 || !strings.Contains(out, "microkit-hello") {
		t.Fatalf("recipes: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		name := strings.Fields(line)[0]
		out, stderr, code := plinth(t, "check", name)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, name+": ok") {
			t.Errorf("check %s: exit %d\n%s%s", name, code, out, stderr)
		}
	}
	out, _, code = plinth(t, "check", "microkit-hello", "--board", "qemu_virt_aarch64")
	if code != 0 || !strings.Contains(out, "board qemu_virt_aarch64 (aarch64, qemu-arm-virt): configs debug, image binary") {
		t.Errorf("check --board: exit %d\n%s", code, out)
	}
	_, stderr, code := plinth(t, "check", "microkit-hierarchy", "--board", "rpi4b_1gb")
	if code != 1 || !strings.Contains(stderr, "does not list this board") {
		t.Errorf("check --board of a board the recipe lacks: exit %d\n%s", code, stderr)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"bords"},
		{"boards", "show"},
		{"boards", "--nope"},
		{"check"},
		{"check", "a", "b"},
		{"doctor", "extra"},
		{"schema", "neither"},
		{"completion", "tcsh"},
		{"version", "--board"},
	} {
		_, stderr, code := plinth(t, args...)
		if code != 2 || stderr == "" {
			t.Errorf("plinth %q: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
	_, stderr, _ := plinth(t, "bords")
	if !strings.Contains(stderr, `did you mean "boards"?`) {
		t.Errorf("no suggestion: %q", stderr)
	}
	// A recipe for several boards: run says which ones QEMU can boot.
	_, stderr, code := plinth(t, "run", "microkit-hello")
	if code != 2 || !strings.Contains(stderr, "the recipe lists 15 boards: choose one with --board (QEMU boots qemu_virt_aarch64, qemu_virt_riscv64, zcu102; the others are built only)") {
		t.Errorf("run without --board: exit %d\n%s", code, stderr)
	}
}

func TestEveryVerbHasHelp(t *testing.T) {
	var walk func(path []string, c *command)
	walk = func(path []string, c *command) {
		if c.hidden {
			return
		}
		out, _, code := plinth(t, append(path, "--help")...)
		want := "Usage: " + strings.Join(append([]string{"plinth"}, path...), " ")
		if code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("plinth %s --help: exit %d\n%s", strings.Join(path, " "), code, out)
		}
		for _, s := range c.sub {
			walk(append(append([]string{}, path...), s.name), s)
		}
	}
	walk(nil, commands())
	out, _, code := plinth(t, "help", "check")
	if code != 0 || !strings.Contains(out, "--board BOARD") {
		t.Errorf("plinth help check: exit %d\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	out, _, code := plinth(t, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || v.Module != "github.com/pointsav/plinth" || v.Go == "" {
		t.Errorf("exit %d, %v, %+v", code, err, v)
	}
}

func TestSchemasAreCurrent(t *testing.T) {
	for name := range schemas {
		out, _, code := plinth(t, "schema", name)
		if code != 0 {
			t.Fatalf("schema %s: exit %d", name, code)
		}
		path := filepath.Join("..", "..", "schema", name+".schema.json")
		committed, err := os.ReadFile(path)
		if err != nil || string(committed) != out {
			t.Errorf("%s is stale or missing (%v): run make generate", path, err)
		}
		var s map[string]any
		if err := json.Unmarshal([]byte(out), &s); err != nil || s["$schema"] == nil {
			t.Errorf("schema %s is not a JSON Schema: %v", name, err)
		}
	}
}

func TestBoardsTableDocIsCurrent(t *testing.T) {
	out, _, code := plinth(t, "boards", "--markdown")
	committed, err := os.ReadFile("../../docs/boards-table.md")
	if code != 0 || err != nil || string(committed) != out {
		t.Errorf("docs/boards-table.md is stale or missing (%v): run make generate", err)
	}
}

// A recipe with a local system description: check reads it for every board
// and configuration and enforces the recipe's policy; a violation is
// reported once, with both sites.
func TestCheckRecipeSystemAndPolicy(t *testing.T) {
	out, stderr, code := plinth(t, "check", "testdata/diode-recipe")
	if code != 0 || !strings.HasPrefix(out, "diode-demo: ok") {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/diode-recipe/recipe.yaml")
	sys, _ := os.ReadFile("../../sdf/testdata/valid/legal_diode.system")
	text := strings.Replace(string(src), "sdf: legal_diode.system", "sdf: system.xml", 1)
	os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(text), 0o644)
	// The vault may now notify the console, a higher zone.
	os.WriteFile(filepath.Join(dir, "system.xml"), []byte(strings.Replace(string(sys), `<end pd="vault" id="1" notify="false" />`, `<end pd="vault" id="1" />`, 1)), 0o644)
	_, stderr, code = plinth(t, "check", dir)
	if code != 1 || strings.Count(stderr, "error:") != 1 || !strings.Contains(stderr, "'vault' (zone vault) may notify 'console' (zone command)") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
