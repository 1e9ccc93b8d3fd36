package sdf

// Virtual machines.

func (p *parser) vm(el *Element) *VM {
	sched := p.t.Arch == "aarch64" || !p.has("x86_vm_no_sched")
	if sched {
		p.attrs(el, []string{"name", "budget", "period", "priority"}, nil)
	} else {
		p.attrs(el, []string{"name"}, nil)
	}
	vm := &VM{El: el, Budget: DefaultBudget}
	vm.Name, _ = p.required(el, "name")
	if sched {
		if v, present, ok := p.number(el, "budget"); present && ok {
			vm.Budget = v
		}
		vm.Period = vm.Budget
		if v, present, ok := p.number(el, "period"); present && ok {
			vm.Period = v
		}
		if vm.Budget > vm.Period {
			p.valueError(el.At("budget"), el, "budget (%d) must be less than, or equal to, period (%d)", vm.Budget, vm.Period)
		}
		if v, present, ok := p.number(el, "priority"); present && ok {
			vm.Priority = v
			if v > MaxPriority {
				// The tool casts it to a byte without a check.
				p.valueError(el.At("priority"), el, "priority must be between 0 and %d (the Microkit tool does not check a VM's priority and truncates it to a byte)", MaxPriority)
			}
		}
	}
	for _, c := range el.Children {
		switch c.Name {
		case "vcpu":
			allowed := []string{"id"}
			gated := map[string]string{"setvar_id": "setvar_id", "cpu": "cpu"}
			if p.has("cpu") {
				allowed = append(allowed, "cpu", "setvar_id")
			}
			p.attrs(c, allowed, gated)
			v := &VCPU{El: c}
			id, _, ok := p.decimal(c, "id", true)
			if ok && (id < 0 || id > MaxID) {
				p.valueError(c.At("id"), c, "id must be < %d", MaxID+1)
				ok = false
			}
			v.ID = uint64(max(id, 0))
			if ok {
				for _, other := range vm.VCPUs {
					if other.ID == v.ID {
						p.errorf(c.Pos, "duplicate vcpu id %d in virtual machine '%s' (first at %s)", v.ID, vm.Name, other.El.Pos)
						ok = false
					}
				}
			}
			v.SetvarID = attrValue(c, "setvar_id")
			if p.has("cpu") {
				if cpu, present, cok := p.number(c, "cpu"); present && cok {
					v.CPU = &cpu
					if cpu >= uint64(p.t.Cores) {
						p.valueError(c.At("cpu"), c, "cpu core must be less than %d, got %d", p.t.Cores, cpu)
					}
				}
			}
			if ok {
				vm.VCPUs = append(vm.VCPUs, v)
			}
		case "map":
			if m := p.mapping(c, false, p.t.VMMapLimit()); m != nil {
				vm.Maps = append(vm.Maps, m)
			}
		default:
			p.errorf(c.Pos, "invalid XML element '%s'", c.Name)
		}
	}
	if len(vm.VCPUs) == 0 && !hasChild(el, "vcpu") {
		p.errorf(el.Pos, "missing 'vcpu' element on virtual_machine: '%s'", vm.Name)
	}
	if p.t.Arch == "x86_64" && len(vm.VCPUs) > 1 {
		// The tool asserts here and panics.
		p.errorf(el.Pos, "a virtual machine on x86_64 has exactly one vcpu, '%s' has %d (the Microkit tool stops with a panic)", vm.Name, len(vm.VCPUs))
	}
	return vm
}
