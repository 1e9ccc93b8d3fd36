package pipeline

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/pointsav/plinth/builder"
)

// The Microkit binding for Rust protection domains: a crate
// (plinth-microkit) and the C shim it calls, which makes libmicrokit's
// inline functions real. plinth compiles the shim against the SDK's own
// header and links it into every bare-metal Rust PD, and offers the crate
// to cargo as `plinth-microkit` (a PD's Cargo.toml names it with
// `plinth-microkit = "0.1"`).
//
//go:embed rustmicrokit
var rustMicrokit embed.FS

// rustMicrokitDigest is the binding's content, for the PD steps' keys: a
// hash of every embedded file's path and bytes.
var rustMicrokitDigest = sync.OnceValues(func() (builder.Digest, error) {
	h := sha256.New()
	err := fs.WalkDir(rustMicrokit, "rustmicrokit", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(rustMicrokit, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	return builder.Digest(hex.EncodeToString(h.Sum(nil))), err
})

// writeRustMicrokit writes the binding's crate and shim into dir.
func writeRustMicrokit(dir string) error {
	sub, err := fs.Sub(rustMicrokit, "rustmicrokit")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return os.CopyFS(dir, sub)
}
