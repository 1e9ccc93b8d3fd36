// Package recipes holds the recipes shipped with plinth, embedded in the
// binary so `plinth recipes` and `plinth check NAME` work from anywhere.
// Each recipe lives in its own directory as recipe.yaml, beside any
// component sources of its own.
package recipes

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed all:*
var shipped embed.FS

// FS is the tree of shipped recipes: NAME/recipe.yaml and their files.
func FS() fs.FS { return shipped }

// Names lists the shipped recipes, sorted.
func Names() []string {
	matches, _ := fs.Glob(shipped, "*/recipe.yaml")
	var names []string
	for _, m := range matches {
		names = append(names, path.Dir(m))
	}
	sort.Strings(names)
	return names
}
