package farm

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pointsav/plinth/builder"
)

// Job is one build of a release: a recipe for a board and configuration.
type Job struct {
	Recipe string            `json:"recipe"`
	Board  string            `json:"board"`
	Config string            `json:"config"`
	Steps  []builder.Planned `json:"steps"`
	// Predicted is the job's predicted cost alone, in seconds.
	Predicted float64 `json:"predicted_seconds"`
	// Shard is the runner (1..N) that builds it.
	Shard int `json:"shard"`
}

// Name is recipe/board/config.
func (j *Job) Name() string { return j.Recipe + "/" + j.Board + "/" + j.Config }

// Shared is a step more than one job needs.
type Shared struct {
	Step      string         `json:"step"`
	Identity  builder.Digest `json:"identity"`
	Predicted float64        `json:"predicted_seconds"`
	Jobs      []string       `json:"jobs"`
	// Shards are the runners whose jobs need it: each builds it unless
	// another has put it in the shared cache first.
	Shards []int `json:"shards"`
}

// Load is what one runner is given.
type Load struct {
	Shard     int      `json:"shard"`
	Jobs      []string `json:"jobs"`
	Predicted float64  `json:"predicted_seconds"`
}

// Plan is a release's jobs, the steps they share and their shards.
type Plan struct {
	Release string    `json:"release"`
	Runners int       `json:"runners"`
	Jobs    []*Job    `json:"jobs"`
	Shared  []*Shared `json:"shared"`
	Shards  []Load    `json:"shards"`
}

// stepCost is a prediction of a step's seconds on one runner, by kind: the
// same on every runner whatever its cache holds, so every runner computes
// the same shards. (Measured on two cores: docs/build.md.)
var stepCost = map[string]float64{
	"microkit-tool":        60,
	"microkit-sdk-runtime": 15,
	"rust-std":             45,
	"u-boot":               90,
	"microkit-pd-rust":     10,
	"sddf-util":            3,
	"sddf-component":       2,
}

// Predict is a step's predicted cost in seconds.
func Predict(p builder.Planned) float64 {
	if c, ok := stepCost[p.Kind]; ok {
		return c
	}
	return 1
}

// NewPlan gathers the jobs (in the release's order), finds the steps they
// share and assigns them to n runners.
func NewPlan(release string, jobs []*Job, n int) (*Plan, error) {
	if n < 1 {
		return nil, fmt.Errorf("shards: want at least one runner, not %d", n)
	}
	p := &Plan{Release: release, Runners: n, Jobs: jobs}
	users := map[builder.Digest][]*Job{}
	steps := map[builder.Digest]builder.Planned{}
	for _, j := range jobs {
		j.Predicted = 0
		for _, s := range j.Steps {
			j.Predicted += Predict(s)
			if !slices.Contains(users[s.Identity], j) {
				users[s.Identity] = append(users[s.Identity], j)
			}
			steps[s.Identity] = s
		}
	}
	assign(jobs, users, steps, n)
	for id, js := range users {
		if len(js) < 2 {
			continue
		}
		sh := &Shared{Step: steps[id].Step, Identity: id, Predicted: Predict(steps[id])}
		for _, j := range js {
			sh.Jobs = append(sh.Jobs, j.Name())
			if !slices.Contains(sh.Shards, j.Shard) {
				sh.Shards = append(sh.Shards, j.Shard)
			}
		}
		sort.Ints(sh.Shards)
		p.Shared = append(p.Shared, sh)
	}
	sort.Slice(p.Shared, func(a, b int) bool {
		if p.Shared[a].Step != p.Shared[b].Step {
			return p.Shared[a].Step < p.Shared[b].Step
		}
		return p.Shared[a].Jobs[0] < p.Shared[b].Jobs[0]
	})
	for k := 1; k <= n; k++ {
		l := Load{Shard: k}
		seen := map[builder.Digest]bool{}
		for _, j := range jobs {
			if j.Shard != k {
				continue
			}
			l.Jobs = append(l.Jobs, j.Name())
			for _, s := range j.Steps {
				if !seen[s.Identity] {
					seen[s.Identity] = true
					l.Predicted += Predict(s)
				}
			}
		}
		p.Shards = append(p.Shards, l)
	}
	return p, nil
}

// assign gives each job a shard. Jobs of one board that share a step (its
// SDK) form one unit and go to one runner; units go, largest first, to
// the runner whose predicted total (each distinct step counted once) grows
// least past the others, so steps shared across boards (the Microkit
// tool) are built by as few runners as balance allows.
func assign(jobs []*Job, users map[builder.Digest][]*Job, steps map[builder.Digest]builder.Planned, n int) {
	parent := map[*Job]*Job{}
	var find func(j *Job) *Job
	find = func(j *Job) *Job {
		if parent[j] == nil || parent[j] == j {
			return j
		}
		parent[j] = find(parent[j])
		return parent[j]
	}
	ids := make([]builder.Digest, 0, len(users))
	for id := range users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		js := users[id]
		oneBoard := true
		for _, j := range js {
			oneBoard = oneBoard && j.Board == js[0].Board
		}
		if oneBoard {
			for _, j := range js[1:] {
				if a, b := find(j), find(js[0]); a != b {
					parent[a] = b
				}
			}
		}
	}
	type unit struct {
		jobs []*Job
		cost float64
	}
	byRoot := map[*Job]*unit{}
	var units []*unit
	for _, j := range jobs {
		r := find(j)
		if byRoot[r] == nil {
			byRoot[r] = &unit{}
			units = append(units, byRoot[r])
		}
		byRoot[r].jobs = append(byRoot[r].jobs, j)
	}
	stepsOf := func(js []*Job) map[builder.Digest]bool {
		set := map[builder.Digest]bool{}
		for _, j := range js {
			for _, s := range j.Steps {
				set[s.Identity] = true
			}
		}
		return set
	}
	for _, u := range units {
		for id := range stepsOf(u.jobs) {
			u.cost += Predict(steps[id])
		}
	}
	// Largest first; equal ones in the release's order (stable).
	sort.SliceStable(units, func(a, b int) bool { return units[a].cost > units[b].cost })
	have := make([]map[builder.Digest]bool, n)
	load := make([]float64, n)
	for k := range have {
		have[k] = map[builder.Digest]bool{}
	}
	for _, u := range units {
		need := stepsOf(u.jobs)
		best, bestLoad := 0, 0.0
		for k := 0; k < n; k++ {
			l := load[k]
			for id := range need {
				if !have[k][id] {
					l += Predict(steps[id])
				}
			}
			if k == 0 || l < bestLoad-1e-9 {
				best, bestLoad = k, l
			}
		}
		for id := range need {
			have[best][id] = true
		}
		load[best] = bestLoad
		for _, j := range u.jobs {
			j.Shard = best + 1
		}
	}
}

// ParseShard reads K/N (0 ≤ K ≤ N; 0 is the steps shards share).
func ParseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		_, err = fmt.Sscanf(a+" "+b, "%d %d", &k, &n)
	}
	if !ok || err != nil || n < 1 || k < 0 || k > n || fmt.Sprintf("%d/%d", k, n) != s {
		return 0, 0, fmt.Errorf("--shard %q: want K/N with 0 ≤ K ≤ N, as 2/4 (0/N: the steps several shards need, built first)", s)
	}
	return k, n, nil
}
