package sdf

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/diag"
)

// Arbitrary input never panics or hangs the parser, the checker, the
// writer, the picture or the policy; what parses cleanly formats to a form
// that parses to the same system.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/valid/*.system")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	for _, rc := range ruleCases[:40] {
		f.Add([]byte(rc.sdf))
	}
	pol := []byte(diodePolicy)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tg := range []Target{arm, x86, with(arm, func(t *Target) { t.Version = "2.0.1" })} {
			tg.SearchPaths = nil
			var d diag.List
			s := Parse("f.system", data, tg, &d)
			if s == nil {
				continue
			}
			SVG(s, GraphOptions{})
			DOT(s, GraphOptions{})
			CheckPolicy(s, ParsePolicy("p.yaml", pol, &d), &d)
			if d.HasErrors() {
				continue
			}
			out := Format(s)
			var d2 diag.List
			s2 := Parse("f.system", out, tg, &d2)
			if d2.HasErrors() || model(s) != model(s2) {
				t.Fatalf("round trip broke:\n%s\n%v", out, d2.Items())
			}
		}
	})
}

// bigSystem has 63 PDs, 504 channels and 200 shared regions: the largest
// a Microkit system gets.
func bigSystem() []byte {
	var b strings.Builder
	b.WriteString("<system>\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "    <memory_region name=\"mr%d\" size=\"0x%x\" />\n", i, 0x1000*(1+i%4))
	}
	nextID := make([]int, 63)
	for p := 0; p < 63; p++ {
		fmt.Fprintf(&b, "    <protection_domain name=\"pd%d\" priority=\"%d\">\n        <program_image path=\"pd%d.elf\" />\n", p, 1+p*4%250, p)
		for i := 0; i < 200; i++ {
			if i%63 == p || (i+7)%63 == p {
				fmt.Fprintf(&b, "        <map mr=\"mr%d\" vaddr=\"0x%x\" perms=\"%s\" />\n", i, 0x10000000+i*0x10000, map[bool]string{true: "rw", false: "r"}[i%63 == p])
			}
		}
		if p < 8 {
			fmt.Fprintf(&b, "        <irq irq=\"%d\" id=\"61\" />\n", 40+p)
			nextID[p] = 0
		}
		b.WriteString("    </protection_domain>\n")
	}
	n := 0
	for p := 0; n < 504; p = (p + 1) % 63 {
		q := (p + 1 + n/63) % 63
		if q == p || nextID[p] >= 61 || nextID[q] >= 61 {
			continue
		}
		fmt.Fprintf(&b, "    <channel>\n        <end pd=\"pd%d\" id=\"%d\" />\n        <end pd=\"pd%d\" id=\"%d\" />\n    </channel>\n", p, nextID[p], q, nextID[q])
		nextID[p]++
		nextID[q]++
		n++
	}
	b.WriteString("</system>\n")
	return []byte(b.String())
}

func TestBigSystemIsValid(t *testing.T) {
	var d diag.List
	s := Parse("big.system", bigSystem(), arm, &d)
	if d.HasErrors() || len(s.AllPDs()) != 63 || len(s.Channels) != 504 || len(s.MRs) != 200 {
		t.Fatalf("%d PDs, %d channels, %d regions: %v", len(s.AllPDs()), len(s.Channels), len(s.MRs), d.Items())
	}
}

// BenchmarkParseCheck parses and checks the largest system Microkit allows.
func BenchmarkParseCheck(b *testing.B) {
	data := bigSystem()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var d diag.List
		Parse("big.system", data, arm, &d)
	}
}

// BenchmarkMicrokitTool runs the real Microkit tool on the same file, for
// the ratio (PLINTH_MICROKIT_HEAD, as in the conformance test). The tool
// parses and checks the system, then stops at its placeholder initialiser,
// so this is its whole SDF path plus its start-up.
func BenchmarkMicrokitTool(b *testing.B) {
	tool := os.Getenv("PLINTH_MICROKIT_HEAD")
	if tool == "" {
		b.Skip("PLINTH_MICROKIT_HEAD not set")
	}
	file := filepath.Join(b.TempDir(), "big.system")
	os.WriteFile(file, bigSystem(), 0o644)
	for b.Loop() {
		out, _ := exec.Command(tool, file).CombinedOutput()
		if !strings.Contains(string(out), "initialiser ELF") {
			b.Fatalf("the tool did not get past the system description:\n%s", out)
		}
	}
}

// BenchmarkPlinthCommand runs plinth's whole process on the same file, for
// a like-for-like ratio with the tool's process (PLINTH_BIN names the binary).
func BenchmarkPlinthCommand(b *testing.B) {
	bin := os.Getenv("PLINTH_BIN")
	if bin == "" {
		b.Skip("PLINTH_BIN not set")
	}
	file := filepath.Join(b.TempDir(), "big.system")
	os.WriteFile(file, bigSystem(), 0o644)
	for b.Loop() {
		if out, err := exec.Command(bin, "sdf", "check", file, "--board", "qemu_virt_aarch64", "--config", "debug").CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}
