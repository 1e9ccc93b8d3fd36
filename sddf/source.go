package sddf

import (
	"embed"

	"github.com/pointsav/plinth/internal/srcdigest"
)

// This package's own source. The builder runs this code to make step
// inputs, so a change to it must change every cache key.
//
//go:embed *.go
var ownSource embed.FS

// SourceDigest is a hash of this package's Go source, tests left out.
func SourceDigest() string { return srcdigest.Of(ownSource) }
