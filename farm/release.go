// Package farm spreads a release over build runners: a release file names
// the jobs (recipe × board × configuration), a plan says what each job's
// steps are and which steps jobs share, and shards give each of N runners
// a balanced set of jobs that keeps shared steps together. The runners
// share a cache; a release is assembled from it.
package farm

import (
	"fmt"
	"slices"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
)

// Release is a release file: what a release is built of.
type Release struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Name        string    `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9.-]{0,63}$" patterndoc:"a name of lower-case letters, digits, '.' and '-'" doc:"The release's name."`
	Description string    `yaml:"description" json:"description,omitempty" doc:"One line saying what the release is."`
	Jobs        []*JobSet `yaml:"jobs" json:"jobs" required:"true" doc:"The recipes it builds, each for its boards and configurations (or those listed)."`
	File        string    `yaml:"-" json:"-"`
}

// JobSet is one recipe of a release, for some of its boards and configs.
type JobSet struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Recipe  string   `yaml:"recipe" json:"recipe" required:"true" doc:"The recipe: a shipped one's name, or a directory relative to this file."`
	Boards  []string `yaml:"boards" json:"boards,omitempty" doc:"The boards to build for (default: every board the recipe lists)."`
	Configs []string `yaml:"configs" json:"configs,omitempty" doc:"The configurations (default: every one the recipe lists)."`
}

// Doc describes a release file.
func (Release) Doc() string {
	return "A plinth release: the recipes, boards and configurations built, sharded across runners and assembled together."
}

// Parse decodes a release file; it is returned even with problems (in
// diags), so that all are reported at once.
func Parse(file string, data []byte, diags *diag.List) *Release {
	root := strictyaml.Parse(file, data, diags)
	if root == nil {
		return nil
	}
	r := &Release{File: file}
	(&strictyaml.Decoder{File: file, Diags: diags}).Decode(root, r)
	if r.Meta.Has("jobs") && len(r.Jobs) == 0 {
		diags.Errorf(r.Meta.At("jobs"), "jobs: name at least one recipe")
	}
	for i, j := range r.Jobs {
		if j == nil {
			continue
		}
		for k, b := range j.Boards {
			if slices.Index(j.Boards, b) != k {
				diags.Errorf(j.Meta.At(fmt.Sprintf("boards[%d]", k)), "jobs[%d]: board %s is listed twice", i, b)
			}
		}
		for k, c := range j.Configs {
			if slices.Index(j.Configs, c) != k {
				diags.Errorf(j.Meta.At(fmt.Sprintf("configs[%d]", k)), "jobs[%d]: config %s is listed twice", i, c)
			}
		}
	}
	return r
}
