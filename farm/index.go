package farm

import (
	"encoding/json"
	"path/filepath"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// IndexFile is a release directory's index.
const IndexFile = "release.json"

// Built is one job's build in a release directory.
type Built struct {
	Recipe string `json:"recipe"`
	Board  string `json:"board"`
	Config string `json:"config"`
	// Dir is the build's directory, relative to the release's.
	Dir      string `json:"dir"`
	Image    string `json:"image_sha256,omitempty"`
	Manifest string `json:"manifest_sha256"`
}

// Index is a release directory's one manifest: every job's build, in the
// release file's order.
type Index struct {
	Release string  `json:"release"`
	Jobs    []Built `json:"jobs"`
}

// WriteIndex writes dir/release.json whole or not at all.
func WriteIndex(dir string, idx Index) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, IndexFile), append(b, '\n'), 0o644)
}
