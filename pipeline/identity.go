package pipeline

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"sync"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/internal/srcdigest"

	"github.com/pointsav/plinth/sddf"
	"github.com/pointsav/plinth/sdf"
)

// The pipeline's own source: what turns a recipe and a board into steps.
//
//go:embed *.go
var ownSource embed.FS

var codeDigest = sync.OnceValue(func() string {
	h := sha256.New()
	for _, d := range []string{srcdigest.Of(ownSource), builder.SourceDigest(), attest.SourceDigest(), sddf.SourceDigest(), sdf.SourceDigest()} {
		h.Write([]byte(d))
	}
	return hex.EncodeToString(h.Sum(nil))
})

// CodeDigest identifies the code that makes and runs steps and describes
// builds (this package, the engine, the manifest and statements, sDDF
// composition, the system description writer). With plinth's module
// version it is plinth's identity in every key and manifest: the same
// source gives the same identity however the binary was built (make or go
// build, with or without VCS stamps, any -trimpath), and a change to a
// step's code gives a new one.
func CodeDigest() string { return codeDigest() }

// Identity is plinth's identity as keys and manifests hold it.
func Identity(moduleVersion string) string {
	return moduleVersion + "+code." + CodeDigest()[:16]
}
