package pipeline

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"

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

// rustMicrokitDigest is the binding's content, for the PD steps' keys.
func rustMicrokitDigest() (builder.Digest, error) {
	dir, err := os.MkdirTemp("", "plinth-binding-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := writeRustMicrokit(dir); err != nil {
		return "", err
	}
	return builder.HashTree(dir)
}

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
