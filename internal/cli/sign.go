package cli

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/sign"
)

// signedArtifacts are what plinth signs in a build directory: the image
// and the manifest that ties it to everything else.
func signedArtifacts(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a build directory (no manifest.json): %w", dir, err)
	}
	var m builder.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %v", dir, err)
	}
	if m.Image == nil {
		return nil, fmt.Errorf("%s: the manifest names no image", dir)
	}
	return []string{m.Image.Path, "manifest.json"}, nil
}

// statementFiles are the in-toto statements a build writes about its image.
var statementFiles = []string{"sbom.intoto.json", "provenance.intoto.json"}

func bundlePath(dir, artifact string) string {
	return filepath.Join(dir, "signatures", filepath.Base(artifact)+".sigstore.json")
}

func signCommand() *command {
	return &command{
		name:    "sign",
		args:    "BUILD-DIR",
		summary: "sign a build's image and manifest (Sigstore bundles)",
		help: `Sign the image and manifest.json of a build directory
(out/RECIPE/BOARD/CONFIG) with a private key, writing Sigstore bundles
(v0.3) to BUILD-DIR/signatures/. The manifest holds the digests of the
image and of every other output, so its signature covers them all.

Two passes, for a key that never meets this machine (an offline HSM):
  plinth sign BUILD-DIR --pub KEY.pub --export-digests FILE
writes what must be signed (hex; SHA-256 digests for ECDSA and RSA, the
whole file for Ed25519); sign each elsewhere, then
  plinth sign BUILD-DIR --pub KEY.pub --attach image=SIG --attach manifest=SIG
checks each signature (raw or base64) and writes the bundles.`,
		setup: func(fs *flag.FlagSet) run {
			keyPath := fs.String("key", "", "the private key (`FILE`, from plinth keygen or cosign)")
			pubPath := fs.String("pub", "", "the public key (`FILE`), for --export-digests and --attach")
			export := fs.String("export-digests", "", "write what must be signed to `FILE` instead of signing")
			var attach multiFlag
			fs.Var(&attach, "attach", "attach a signature made elsewhere: `image=SIG` or manifest=SIG (repeatable)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				dir := args[0]
				arts, err := signedArtifacts(dir)
				if err != nil {
					return e.fail(err)
				}
				switch {
				case *keyPath != "" && (*export != "" || len(attach) > 0):
					return usageError(e, "--key signs here; --export-digests and --attach are for keys elsewhere (with --pub)")
				case *keyPath == "" && *pubPath == "":
					return usageError(e, "give --key, or --pub with --export-digests or --attach")
				case *keyPath == "" && *export == "" && len(attach) == 0:
					return usageError(e, "with --pub, give --export-digests or --attach")
				}
				bundles := map[string]*sign.Bundle{}
				var signer crypto.Signer
				if *keyPath != "" {
					signer, err = loadSigner(e, *keyPath)
					if err != nil {
						return e.fail(err)
					}
					for _, a := range arts {
						data, err := os.ReadFile(filepath.Join(dir, a))
						if err != nil {
							return e.fail(err)
						}
						if bundles[a], err = sign.SignBlob(signer, data); err != nil {
							return e.fail(fmt.Errorf("%s: %w", a, err))
						}
					}
				} else {
					pub, err := sign.LoadPublicKey(*pubPath)
					if err != nil {
						return e.fail(err)
					}
					if *export != "" {
						return exportDigests(e, dir, arts, pub, *export)
					}
					sigs := map[string]string{}
					for _, a := range attach {
						name, file, ok := strings.Cut(a, "=")
						if !ok || (name != "image" && name != "manifest") {
							return usageError(e, fmt.Sprintf("--attach %q: want image=SIG or manifest=SIG", a))
						}
						sigs[map[string]string{"image": arts[0], "manifest": arts[1]}[name]] = file
					}
					for _, a := range arts {
						file, ok := sigs[a]
						if !ok {
							return e.fail(fmt.Errorf("no signature for %s: attach image and manifest together", a))
						}
						sig, err := readSignature(file)
						if err != nil {
							return e.fail(err)
						}
						data, err := os.ReadFile(filepath.Join(dir, a))
						if err != nil {
							return e.fail(err)
						}
						if bundles[a], err = sign.Attach(pub, data, sig); err != nil {
							return e.fail(fmt.Errorf("%s (%s): %w", a, file, err))
						}
					}
				}
				// The SBOM and provenance statements, as DSSE envelopes.
				if signer != nil {
					for _, st := range statementFiles {
						data, err := os.ReadFile(filepath.Join(dir, st))
						if os.IsNotExist(err) {
							continue
						}
						if err != nil {
							return e.fail(err)
						}
						if bundles[st], err = sign.SignStatement(signer, data); err != nil {
							return e.fail(fmt.Errorf("%s: %w", st, err))
						}
						arts = append(arts, st)
					}
				}
				// Every bundle is made before any is written: nothing half-signed.
				for _, a := range arts {
					data, err := bundles[a].Marshal()
					if err != nil {
						return e.fail(err)
					}
					os.MkdirAll(filepath.Join(dir, "signatures"), 0o755)
					if err := atomicfile.Write(bundlePath(dir, a), data, 0o644); err != nil {
						return e.fail(err)
					}
					fmt.Fprintf(e.stdout, "signed %s: %s\n", a, bundlePath(dir, a))
				}
				return ExitOK
			}
		},
	}
}

// exportDigests writes, per artifact, the bytes the offline signer signs.
func exportDigests(e *env, dir string, arts []string, pub crypto.PublicKey, file string) int {
	type item struct {
		Name   string `json:"name"`
		Path   string `json:"path"`
		Hash   string `json:"hash"`             // SHA256, or none: sign the file itself
		Digest string `json:"digest,omitempty"` // hex, to sign with Hash
	}
	var out []item
	for i, a := range arts {
		data, err := os.ReadFile(filepath.Join(dir, a))
		if err != nil {
			return e.fail(err)
		}
		msg, hash, err := sign.Digest(pub, data)
		if err != nil {
			return e.fail(err)
		}
		it := item{Name: []string{"image", "manifest"}[i], Path: filepath.Join(dir, a), Hash: "none"}
		if hash == crypto.SHA256 {
			it.Hash, it.Digest = "SHA256", hex.EncodeToString(msg)
		}
		out = append(out, it)
	}
	data, _ := json.MarshalIndent(out, "", "  ")
	if err := atomicfile.Write(file, append(data, '\n'), 0o644); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: sign each digest (or file, for Ed25519) and attach with --attach image=SIG --attach manifest=SIG\n", file)
	return ExitOK
}

// readSignature reads a signature file: raw bytes, or base64 text (what
// cosign and most HSM tools print).
func readSignature(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil {
		return dec, nil
	}
	return data, nil
}

// multiFlag collects a repeatable flag's values.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
