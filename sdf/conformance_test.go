package sdf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
)

// Conformance against the real Microkit tool. It runs in development, where
// the upstream tool has been built (see reference/real-microkit.md):
//
//	PLINTH_MICROKIT_HEAD=/path/to/mkhead   a script: mkhead FILE.system runs
//	                                       Microkit 2.3.0-dev for qemu_virt_aarch64 debug
//	PLINTH_MICROKIT_201=/path/to/mk201     the same for Microkit 2.0.1
//	PLINTH_MICROKIT_FIXTURES_HEAD=DIR      upstream's tool/microkit/tests/sdf (optional)
//	PLINTH_MICROKIT_FIXTURES_201=DIR       the same at 2.0.1 (optional)
//
// For every case, plinth and the tool must agree on accepting or rejecting
// it, and where both reject, plinth must name the problem the tool names.
// plinth may reject more only with a message that says where it is stricter
// than the Microkit tool.
func TestConformanceWithMicrokit(t *testing.T) {
	type tool struct{ version, script, fixtures, accepted string }
	var tools []tool
	if s := os.Getenv("PLINTH_MICROKIT_HEAD"); s != "" {
		tools = append(tools, tool{"dev", s, os.Getenv("PLINTH_MICROKIT_FIXTURES_HEAD"), "failed to parse initialiser ELF"})
	}
	if s := os.Getenv("PLINTH_MICROKIT_201"); s != "" {
		tools = append(tools, tool{"2.0.1", s, os.Getenv("PLINTH_MICROKIT_FIXTURES_201"), "unable to find program image"})
	}
	if len(tools) == 0 {
		t.Skip("PLINTH_MICROKIT_HEAD / PLINTH_MICROKIT_201 not set: no real Microkit tool to compare with")
	}
	var d diag.List
	set := boards.Load(&d, boards.Embedded())
	board, _ := set.Get("qemu_virt_aarch64")
	for _, tl := range tools {
		target, err := TargetFor(board, "debug", tl.version)
		if err != nil {
			t.Fatal(err)
		}
		type kase struct{ name, src, dir string }
		var cases []kase
		for _, rc := range ruleCases {
			if rc.target.Arch == "aarch64" && rc.target.Cores == 1 && rc.target.Hypervisor && rc.target.SMC && rc.target.NumDomains == 16 && rc.target.NumDomainSchedules == 100 {
				cases = append(cases, kase{"rule" + itoa(rc.rule), rc.sdf, ""})
			}
		}
		valid, _ := filepath.Glob("testdata/valid/*.system")
		for _, f := range valid {
			src, _ := os.ReadFile(f)
			cases = append(cases, kase{filepath.Base(f), string(src), ""})
		}
		if tl.fixtures != "" {
			files, _ := filepath.Glob(filepath.Join(tl.fixtures, "*.system"))
			for _, f := range files {
				src, _ := os.ReadFile(f)
				cases = append(cases, kase{"upstream/" + filepath.Base(f), string(src), tl.fixtures})
			}
		}
		// Mutants of the valid fixtures, the same every run: values
		// replaced, attributes dropped, lines doubled.
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < mutants; i++ {
			f := valid[rng.IntN(len(valid))]
			src, _ := os.ReadFile(f)
			cases = append(cases, kase{fmt.Sprintf("mutant%d(%s)", i, filepath.Base(f)), mutate(rng, string(src)), ""})
		}
		var agree, names, stricter, total, panics, bothAccept int
		var mismatches []string
		for _, c := range cases {
			dir := t.TempDir()
			file := filepath.Join(dir, "case.system")
			os.WriteFile(file, []byte(c.src), 0o644)
			cmd := exec.Command(tl.script, file)
			cmd.Dir = dir
			if c.dir != "" {
				cmd.Env = append(os.Environ(), "MK_SEARCH_PATH="+c.dir+":"+filepath.Join(c.dir, ".."))
			}
			out, _ := cmd.CombinedOutput()
			text := string(out)
			toolAccepts := strings.Contains(text, tl.accepted) || cmd.ProcessState.ExitCode() == 0
			toolPanics := strings.Contains(text, "panicked")
			toolMsg := coreMessage(firstError(text))

			tg := target
			tg.SearchPaths = []string{dir}
			if c.dir != "" {
				tg.SearchPaths = []string{dir, c.dir, filepath.Join(c.dir, "..")}
			}
			var pd diag.List
			Parse(file, []byte(c.src), tg, &pd)
			var msgs []string
			strictOnly := true
			for _, x := range pd.Items() {
				if x.Severity == diag.Error {
					msgs = append(msgs, x.Message)
					if !strings.Contains(x.Message, "Microkit tool") {
						strictOnly = false
					}
				}
			}
			plinthAccepts := len(msgs) == 0
			total++
			switch {
			case toolPanics:
				panics++
				if plinthAccepts {
					mismatches = append(mismatches, c.name+": the tool panics, plinth accepts")
				} else {
					agree++
				}
			case toolAccepts == plinthAccepts:
				agree++
				if toolAccepts {
					bothAccept++
				}
				if !toolAccepts {
					if named(toolMsg, msgs) {
						names++
					} else {
						mismatches = append(mismatches, c.name+": both reject; tool: "+toolMsg+" | plinth: "+strings.Join(msgs, " | "))
					}
				}
			case toolAccepts && strictOnly:
				stricter++
			default:
				mismatches = append(mismatches, c.name+": tool accepts="+boolStr(toolAccepts)+" ("+strings.TrimSpace(firstError(text))+"), plinth: "+strings.Join(msgs, " | "))
			}
		}
		sort.Strings(mismatches)
		t.Logf("Microkit %s: %d cases; %d agree on accept/reject (%d both accept; %d the tool panics on and plinth reports as errors); %d rejected by plinth only, where it is documented stricter; both reject and plinth names the tool's problem in %d; %d mismatches",
			tl.version, total, agree, bothAccept, panics, stricter, names, len(mismatches))
		for _, m := range mismatches {
			t.Error(m)
		}
	}
}

// mutants is how many mutated systems are compared with the tool.
const mutants = 1000

var quotedValue = regexp.MustCompile(`="[^"]*"`)

func mutate(rng *rand.Rand, src string) string {
	lines := strings.Split(src, "\n")
	i := rng.IntN(len(lines))
	switch rng.IntN(3) {
	case 0:
		vals := quotedValue.FindAllStringIndex(lines[i], -1)
		if len(vals) > 0 {
			v := vals[rng.IntN(len(vals))]
			repl := []string{"0", "1", "61", "62", "-1", "0x10", "0x1001", "abc", "", "255", "256", "true", "r", "w", "edge", "99999999999999999999", "a", "0x200000"}
			lines[i] = lines[i][:v[0]] + `="` + repl[rng.IntN(len(repl))] + `"` + lines[i][v[1]:]
		}
	case 1:
		attrs := regexp.MustCompile(` [a-z_]+="[^"]*"`).FindAllStringIndex(lines[i], -1)
		if len(attrs) > 0 {
			v := attrs[rng.IntN(len(attrs))]
			lines[i] = lines[i][:v[0]] + lines[i][v[1]:]
		}
	case 2:
		if strings.HasSuffix(strings.TrimSpace(lines[i]), "/>") {
			lines = append(lines[:i+1], lines[i:]...)
		}
	}
	return strings.Join(lines, "\n")
}

var locSuffix = regexp.MustCompile(`( on element '[^']*')?(: [^ ]+:\d+:\d+|\s+@\s+.*)?$`)

func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "mk201:") || strings.HasPrefix(l, "mkhead:") || strings.HasPrefix(l, "WARNING") || strings.TrimSpace(l) == "" {
			continue
		}
		return l
	}
	return ""
}

// coreMessage strips the tool's prefix and location from a message.
func coreMessage(s string) string {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	for _, p := range []string{"Error: ", "ERROR: ", "microkit: error: "} {
		s = strings.TrimPrefix(s, p)
	}
	return strings.TrimSpace(locSuffix.ReplaceAllString(s, ""))
}

// sites are plinth's references to the other site of a clash.
var sites = regexp.MustCompile(`\s*\((first |also |first set |other end |vcpu |writer's map )?at [^)]*\)`)

func named(toolMsg string, msgs []string) bool {
	if toolMsg == "" {
		return false
	}
	toolMsg = strings.TrimSuffix(toolMsg, ".")
	for _, m := range msgs {
		core := strings.TrimSuffix(strings.TrimSpace(locSuffix.ReplaceAllString(sites.ReplaceAllString(m, ""), "")), ".")
		switch {
		case strings.HasPrefix(toolMsg, "Could not parse") && strings.HasPrefix(m, "not well-formed XML"):
			return true // both say the XML is broken, each in its parser's words
		case strings.HasPrefix(toolMsg, "schedule_index_shift") && strings.HasPrefix(m, "schedule_index_shift"):
			return true // the tool prints start_index where it means index_shift (an upstream bug)
		}
		if strings.HasPrefix(core, toolMsg) || strings.HasPrefix(toolMsg, core) || strings.Contains(m, toolMsg) {
			return true
		}
	}
	return false
}
