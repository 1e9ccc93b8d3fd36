package builder

import (
	"embed"

	"github.com/pointsav/plinth/internal/srcdigest"
)

// This package's own source, for plinth's identity in cache keys and
// manifests: a change to it must change them.
//
//go:embed *.go
var ownSource embed.FS

// SourceDigest is a hash of this package's Go source, tests left out.
func SourceDigest() string { return srcdigest.Of(ownSource) }
