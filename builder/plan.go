package builder

// Planned is a step as a plan sees it before anything runs.
type Planned struct {
	Step string `json:"step"`
	Kind string `json:"kind,omitempty"`
	// Identity names what the step is from its own inputs and its
	// dependencies' identities: the same on every machine before any
	// step runs, so jobs that share a step can be told.
	Identity Digest   `json:"identity"`
	Deps     []string `json:"deps,omitempty"`
	// Action is the step's action digest and size, known when its
	// dependencies' outputs are (they are in the cache).
	Action     Digest `json:"action,omitempty"`
	ActionSize int64  `json:"action_size,omitempty"`
	Cached     bool   `json:"cached"`
	// Seconds is how long the step took when it was built (cached only).
	Seconds float64 `json:"seconds,omitempty"`
}

// Plan says, without running anything, what each step is, which steps'
// action digests are known and which are in the cache, dependencies first.
// Without a cache it gives identities only.
func (r *Runner) Plan(steps []*Step) ([]Planned, error) {
	all := closure(steps)
	if err := checkGraph(all); err != nil {
		return nil, err
	}
	states := map[*Step]*stepState{}
	ids := map[*Step]Digest{}
	known := map[*Step]bool{}
	var out []Planned
	for _, s := range all {
		p := Planned{Step: s.Name}
		p.Kind, _ = s.Key["kind"].(string)
		deps := map[string]Digest{}
		ready := true
		for _, d := range s.Deps {
			deps[d.Name] = ids[d]
			p.Deps = append(p.Deps, d.Name)
			ready = ready && known[d]
		}
		id, err := HashJSON(map[string]any{"plinth": r.Version, "step": s.Name, "inputs": s.Key, "deps": deps, "outputs": s.Outputs})
		if err != nil {
			return nil, err
		}
		ids[s], p.Identity = id, id
		states[s] = &stepState{}
		if ready && r.Cache != nil {
			a, err := r.actionOf(s, states)
			if err != nil {
				return nil, err
			}
			p.Action, p.ActionSize = a.Key, a.Size
			if rec, ok := r.Cache.GetAction(a, s.Name, s.Outputs); ok {
				p.Cached, p.Seconds = true, rec.Duration
				states[s].outputs, known[s] = rec.Outputs, true
			}
		}
		out = append(out, p)
	}
	return out, nil
}
