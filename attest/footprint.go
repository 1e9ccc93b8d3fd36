package attest

import (
	"debug/elf"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/sdf"
)

// Footprint is what each protection domain of a built system takes: its
// program's code and data, its stack, the memory it maps, its channels and
// interrupts. Two builds' footprints diff PD by PD.
type Footprint struct {
	Board  string        `json:"board"`
	Config string        `json:"config"`
	PDs    []PDFootprint `json:"pds"`
}

// PDFootprint is one protection domain's share.
type PDFootprint struct {
	Name     string   `json:"name"`
	Program  string   `json:"program"`
	Priority uint64   `json:"priority"`
	Code     uint64   `json:"code"`   // bytes of executable segments
	Data     uint64   `json:"data"`   // bytes of other loaded segments, with zero-filled ones
	Stack    uint64   `json:"stack"`  // bytes
	Mapped   uint64   `json:"mapped"` // bytes of memory regions mapped
	Regions  []string `json:"regions"`
	Channels []uint64 `json:"channels"` // its ends' ids
	IRQs     []uint64 `json:"irqs"`     // seL4 interrupt numbers
}

// programSizes reads an ELF's loadable segments: executable ones as code,
// the rest as data (memory size, so .bss counts).
func programSizes(file string) (code, data uint64, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if p.Flags&elf.PF_X != 0 {
			code += p.Memsz
		} else {
			data += p.Memsz
		}
	}
	return code, data, nil
}

// FootprintOf reads a system description and the programs it names (found
// by file name among programs) into a footprint.
func FootprintOf(b *boards.Board, config, version, sysFile string, programs map[string]string) (*Footprint, error) {
	data, err := os.ReadFile(sysFile)
	if err != nil {
		return nil, err
	}
	t, err := sdf.TargetFor(b, config, version)
	if err != nil {
		return nil, err
	}
	var d diag.List
	sys := sdf.Parse(sysFile, data, t, &d)
	if d.HasErrors() {
		return nil, d.Err()
	}
	ends := map[string][]uint64{}
	for _, ch := range sys.Channels {
		for _, e := range ch.Ends {
			ends[e.PD] = append(ends[e.PD], e.ID)
		}
	}
	fp := &Footprint{Board: b.Name, Config: config}
	for _, pd := range sys.AllPDs() {
		p := PDFootprint{Name: pd.Name, Program: pd.Program, Priority: pd.Priority, Stack: pd.StackSize, Channels: ends[pd.Name], Regions: []string{}, IRQs: []uint64{}}
		if p.Channels == nil {
			p.Channels = []uint64{}
		}
		sort.Slice(p.Channels, func(i, j int) bool { return p.Channels[i] < p.Channels[j] })
		file, ok := programs[path.Base(pd.Program)]
		if !ok && strings.HasSuffix(pd.Program, "_net_copier.elf") {
			// Each network client's copier runs a copy of one program.
			file, ok = programs["net_copy.elf"]
		}
		if ok {
			if p.Code, p.Data, err = programSizes(file); err != nil {
				return nil, fmt.Errorf("%s: %w", pd.Program, err)
			}
		}
		for _, m := range pd.Maps {
			p.Regions = append(p.Regions, m.MR)
			if mr := sys.MR(m.MR); mr != nil {
				p.Mapped += mr.Size
			}
		}
		for _, q := range pd.IRQs {
			p.IRQs = append(p.IRQs, q.Number)
		}
		fp.PDs = append(fp.PDs, p)
	}
	return fp, nil
}

// Diff describes how a footprint changed from an older one, PD by PD, in
// lines meant for people ("+ added", "- removed", "~ changed").
func (new *Footprint) Diff(old *Footprint) []string {
	before := map[string]PDFootprint{}
	for _, p := range old.PDs {
		before[p.Name] = p
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range new.PDs {
		seen[p.Name] = true
		o, ok := before[p.Name]
		if !ok {
			out = append(out, fmt.Sprintf("+ %s: code %d, data %d, stack %d, mapped %d", p.Name, p.Code, p.Data, p.Stack, p.Mapped))
			continue
		}
		var changes []string
		for _, c := range []struct {
			what     string
			was, now uint64
		}{{"code", o.Code, p.Code}, {"data", o.Data, p.Data}, {"stack", o.Stack, p.Stack}, {"mapped", o.Mapped, p.Mapped}, {"channels", uint64(len(o.Channels)), uint64(len(p.Channels))}, {"irqs", uint64(len(o.IRQs)), uint64(len(p.IRQs))}} {
			if c.was != c.now {
				changes = append(changes, fmt.Sprintf("%s %d -> %d (%+d)", c.what, c.was, c.now, int64(c.now)-int64(c.was)))
			}
		}
		if len(changes) > 0 {
			line := "~ " + p.Name + ":"
			for _, c := range changes {
				line += " " + c + ";"
			}
			out = append(out, line[:len(line)-1])
		}
	}
	for _, p := range old.PDs {
		if !seen[p.Name] {
			out = append(out, fmt.Sprintf("- %s", p.Name))
		}
	}
	return out
}

// footprintPrograms finds the built programs under dir by file name.
func footprintPrograms(dir string, res *builder.Result) map[string]string {
	out := map[string]string{}
	for step, outs := range res.Outputs {
		for _, o := range outs {
			if filepath.Ext(o.Path) == ".elf" {
				out[filepath.Base(o.Path)] = filepath.Join(dir, step, o.Path)
			}
		}
	}
	return out
}
