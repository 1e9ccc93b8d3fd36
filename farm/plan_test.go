package farm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/diag"
)

// jobsOf makes jobs as Microkit's make them: a tool step every job shares,
// an SDK step per board (shared by the recipes built for that board), a PD
// and an image per job.
func jobsOf(recipes []string, boards []string) []*Job {
	var jobs []*Job
	for _, r := range recipes {
		for _, b := range boards {
			jobs = append(jobs, &Job{Recipe: r, Board: b, Config: "debug", Steps: []builder.Planned{
				{Step: "tool", Kind: "microkit-tool", Identity: "tool"},
				{Step: "sdk", Kind: "microkit-sdk-runtime", Identity: builder.Digest("sdk-" + b)},
				{Step: "pd", Identity: builder.Digest("pd-" + r + b)},
				{Step: "image", Identity: builder.Digest("image-" + r + b)},
			}})
		}
	}
	return jobs
}

func TestShardsKeepABoardsSDKTogetherAndBalance(t *testing.T) {
	boards := []string{"a", "b", "c", "d", "e", "f"}
	plan, err := NewPlan("r", jobsOf([]string{"hello", "rust-hello"}, boards), 4)
	if err != nil {
		t.Fatal(err)
	}
	shardOf := map[string]int{}
	for _, j := range plan.Jobs {
		if j.Shard < 1 || j.Shard > 4 {
			t.Fatalf("%s: shard %d", j.Name(), j.Shard)
		}
		if s, ok := shardOf[j.Board]; ok && s != j.Shard {
			t.Errorf("board %s's jobs are on shards %d and %d: its SDK would be built twice", j.Board, s, j.Shard)
		}
		shardOf[j.Board] = j.Shard
	}
	jobs := 0
	for _, l := range plan.Shards {
		jobs += len(l.Jobs)
		// Six boards of 79 s (SDK 15 + two PDs and images) and the tool
		// (60) over four runners: two runners get two boards.
		if len(l.Jobs) != 2 && len(l.Jobs) != 4 {
			t.Errorf("shard %d: %v", l.Shard, l.Jobs)
		}
	}
	if jobs != 12 {
		t.Errorf("%d jobs in the shards, want 12", jobs)
	}
	var tool *Shared
	for _, s := range plan.Shared {
		if s.Step == "tool" {
			tool = s
		}
	}
	if tool == nil || len(tool.Jobs) != 12 || len(tool.Shards) != 4 {
		t.Errorf("the tool step: %+v", tool)
	}
	// The same release planned again (another runner) gives the same shards.
	again, _ := NewPlan("r", jobsOf([]string{"hello", "rust-hello"}, boards), 4)
	for i := range plan.Jobs {
		if plan.Jobs[i].Shard != again.Jobs[i].Shard {
			t.Fatalf("job %s: shard %d, then %d", plan.Jobs[i].Name(), plan.Jobs[i].Shard, again.Jobs[i].Shard)
		}
	}
}

func TestOneRunnerTakesEverything(t *testing.T) {
	plan, err := NewPlan("r", jobsOf([]string{"hello"}, []string{"a", "b"}), 1)
	if err != nil || plan.Shards[0].Predicted != 60+2*(15+1+1) {
		t.Fatalf("%v %+v", err, plan.Shards)
	}
	if _, err := NewPlan("r", nil, 0); err == nil {
		t.Error("zero runners planned")
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]string{"1/4": "1 4", "0/4": "0 4", "4/4": "4 4", "5/4": "error", "1/0": "error", "a/b": "error", "01/4": "error", "1": "error", "-1/4": "error"} {
		k, n, err := ParseShard(in)
		got := fmt.Sprintf("%d %d", k, n)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func TestAReleaseFileSaysEveryProblemAtOnce(t *testing.T) {
	var d diag.List
	Parse("r.yaml", []byte("name: Bad Name\njobs:\n  - recipe: hello\n    boards: [a, a]\n    configs: [debug, debug]\n  - boards: [b]\n"), &d)
	var got []string
	for _, x := range d.Items() {
		got = append(got, x.String())
	}
	want := []string{
		`r.yaml:1:7: error: name: "Bad Name" is not a name of lower-case letters, digits, '.' and '-'`,
		"r.yaml:4:17: error: jobs[0]: board a is listed twice",
		"r.yaml:5:22: error: jobs[0]: config debug is listed twice",
		`r.yaml:6:5: error: jobs[1]: missing required key "recipe"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
