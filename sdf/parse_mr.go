package sdf

// Memory regions and their prefill.

import (
	"os"
	"path"
	"path/filepath"

	"github.com/pointsav/plinth/internal/safename"
)

func (p *parser) mr(el *Element) *MR {
	allowed := []string{"name", "size", "page_size", "phys_addr"}
	gated := map[string]string{"prefill_path": "prefill_path", "prefill_bootinfo": "prefill_bootinfo"}
	for k, f := range gated {
		if p.has(f) {
			allowed = append(allowed, k)
		}
	}
	p.attrs(el, allowed, gated)
	mr := &MR{El: el, PageSize: smallPage}
	var ok bool
	mr.Name, ok = p.required(el, "name")
	if v, present, vok := p.number(el, "page_size"); present {
		mr.PageSizeGiven = true
		if vok {
			mr.PageSize = v
			if v != smallPage && v != largePage {
				p.valueError(el.At("page_size"), el, "page size %#x not supported", v)
				mr.PageSize = smallPage
			}
		}
	}
	prefill := -1
	if p.has("prefill_path") {
		if a, has := el.Attr("prefill_path"); has {
			mr.PrefillPath = a.Value
			prefill = p.prefillSize(el, a)
			mr.PrefillSize = max(prefill, 0)
		}
	}
	if p.has("prefill_bootinfo") {
		if a, has := el.Attr("prefill_bootinfo"); has {
			mr.PrefillBootinfo = a.Value
			known := false
			for _, k := range bootinfoKinds {
				known = known || k == a.Value
			}
			if !known {
				p.valueError(a.Pos, el, "BootInfoMap type: '%s' is not supported", a.Value)
			}
			if mr.PrefillPath != "" {
				p.valueError(a.Pos, el, "prefill_path and prefill_bootinfo cannot be both specified")
			}
		}
	}
	if v, present, vok := p.number(el, "size"); present {
		mr.SizeGiven = true
		if vok {
			mr.Size = v
			if v%mr.PageSize != 0 {
				p.valueError(el.At("size"), el, "size is not a multiple of the page size")
			}
			if prefill > 0 && uint64(prefill) > v {
				p.valueError(el.At("size"), el, "size of prefill file exceeds memory region size: %x > %x", prefill, v)
			}
		} else {
			ok = false
		}
	} else {
		switch {
		case mr.PrefillBootinfo != "":
			mr.Size = mr.PageSize
		case mr.PrefillPath != "":
			mr.Size = (uint64(max(prefill, 0)) + mr.PageSize - 1) / mr.PageSize * mr.PageSize
		case !p.has("prefill_path"):
			p.errorf(el.Pos, "Missing required attribute 'size' on element '%s'", el.Name)
			ok = false
		default:
			p.valueError(el.Pos, el, "size must be specified if memory region is not prefilled")
			ok = false
		}
	}
	if v, present, vok := p.number(el, "phys_addr"); present && vok {
		mr.PhysAddr = &v
		if v%mr.PageSize != 0 {
			p.valueError(el.At("phys_addr"), el, "phys_addr is not aligned to the page size")
		}
	}
	// A region with a bad size stays in the model (with what could be
	// read), so the maps naming it are not reported as naming nothing.
	if mr.Name == "" {
		return nil
	}
	_ = ok
	return mr
}

// prefillSize finds and reads a prefill file: its size, or -1 after
// reporting a problem (0 when files are not looked at).
func (p *parser) prefillSize(el *Element, a Attr) int {
	if p.t.SearchPaths == nil {
		return 0
	}
	if err := safename.RelPath(path.Clean(a.Value)); err != nil {
		p.valueError(a.Pos, el, "prefill_path: %v (a prefill file is looked up in the search path; plinth is stricter than the Microkit tool here)", err)
		return -1
	}
	for _, dir := range p.t.SearchPaths {
		path := filepath.Join(dir, a.Value)
		info, err := os.Stat(path)
		if err != nil || info.IsDir() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			p.valueError(a.Pos, el, "failed to read file '%s' at prefill_path", a.Value)
			return -1
		}
		if len(data) == 0 {
			p.valueError(a.Pos, el, "prefill file '%s' is empty", a.Value)
			return -1
		}
		return len(data)
	}
	p.valueError(a.Pos, el, "unable to find prefill file: '%s'", a.Value)
	return -1
}
