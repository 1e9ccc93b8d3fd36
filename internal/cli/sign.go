package cli

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/sign"
)

// signed is one thing plinth signs in a build directory: a file signed
// as it is (a message signature), or an in-toto statement (a DSSE
// envelope). Name is how --attach refers to it.
type signed struct {
	Name      string
	Path      string // under the build directory
	Statement bool
	Data      []byte // the bytes, for an item made while signing (the index)
}

// indexPath is the signed list of what a signer signed: with it, removing
// an item and its signature (the predicted measurements, say) is seen.
const indexPath = "signatures/index.json"

// indexEntry is one item the index lists.
type indexEntry struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// withIndex adds the index of items (their names, paths and digests) as
// the last item to sign.
func withIndex(dir string, items []signed) ([]signed, error) {
	var entries []indexEntry
	for _, it := range items {
		f, err := attest.DescribeFile(dir, it.Path)
		if err != nil {
			return nil, err
		}
		entries = append(entries, indexEntry{Name: it.Name, Path: it.Path, SHA256: f.SHA256})
	}
	data, err := attest.Canonical(map[string]any{"items": entries})
	if err != nil {
		return nil, err
	}
	return append(items, signed{Name: "index", Path: indexPath, Data: data}), nil
}

// signableItems are the items a build can have signed.
var signableItems = []string{"image", "manifest", "sbom", "provenance", "measurements", "eventlog"}

// signedItems are what plinth signs in a build directory: the image, the
// manifest that ties it to everything else, the SBOM and provenance
// statements, and the predicted measurements where plinth measure wrote
// them.
func signedItems(dir string) ([]signed, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a build directory (no manifest.json): %w", dir, err)
	}
	var m attest.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %v", dir, err)
	}
	if m.Image == nil {
		return nil, fmt.Errorf("%s: the manifest names no image", dir)
	}
	return producedItems(dir, &m), nil
}

// producedItems are the signable items a build has: image, manifest and
// both statements always; the measurements and event log when plinth
// measure wrote them (or a signature says it did).
func producedItems(dir string, m *attest.Manifest) []signed {
	items := []signed{{Name: "image", Path: m.Image.Path}, {Name: "manifest", Path: "manifest.json"},
		{Name: "sbom", Path: "sbom.intoto.json", Statement: true}, {Name: "provenance", Path: "provenance.intoto.json", Statement: true}}
	for _, it := range []signed{{Name: "measurements", Path: "measurements.json"}, {Name: "eventlog", Path: "eventlog.cel.json"}} {
		_, file := os.Stat(filepath.Join(dir, it.Path))
		_, sig := os.Stat(bundlePath(dir, it.Path))
		if file == nil || sig == nil {
			items = append(items, it)
		}
	}
	return items
}

// message is what a key signs for an item: the file, or the statement's
// DSSE pre-authentication encoding.
func (it signed) message(dir string, pub crypto.PublicKey) ([]byte, crypto.Hash, []byte, error) {
	data, err := it.Data, error(nil)
	if data == nil {
		data, err = os.ReadFile(filepath.Join(dir, it.Path))
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if it.Statement {
		msg, hash, err := sign.StatementDigest(pub, data)
		return msg, hash, data, err
	}
	msg, hash, err := sign.Digest(pub, data)
	return msg, hash, data, err
}

func bundlePath(dir, artifact string) string {
	return filepath.Join(dir, "signatures", filepath.Base(artifact)+".sigstore.json")
}

func signCommand() *command {
	return &command{
		name:    "sign",
		args:    "BUILD-DIR",
		summary: "sign a build: image, manifest, SBOM, provenance (Sigstore bundles)",
		help: `Sign a build directory (out/RECIPE/BOARD/CONFIG) with a private key, writing
Sigstore bundles (v0.3) to BUILD-DIR/signatures/: the image and
manifest.json (message signatures; the manifest holds the digests of every
other output, so its signature covers them all), the SBOM and provenance
statements (DSSE envelopes), and measurements.json and eventlog.cel.json
where plinth measure wrote them.

Two passes, for a key that never meets this machine (an offline HSM):
  plinth sign BUILD-DIR --pub KEY.pub --export-digests FILE
writes, for each item, what must be signed (hex: a SHA-256 digest for
ECDSA and RSA keys; for Ed25519 the bytes themselves); sign each elsewhere,
then attach every signature (raw or base64) by the item's name:
  plinth sign BUILD-DIR --pub KEY.pub --attach image=SIG --attach manifest=SIG \
      --attach sbom=SIG --attach provenance=SIG
Each is checked before any bundle is written.`,
		setup: func(fs *flag.FlagSet) run {
			keyPath := fs.String("key", "", "the private key (`FILE`, from plinth keygen or cosign; or a .tpmkey)")
			pubPath := fs.String("pub", "", "the public key (`FILE`), for --export-digests and --attach")
			export := fs.String("export-digests", "", "write what must be signed to `FILE` instead of signing")
			var attach multiFlag
			fs.Var(&attach, "attach", "attach a signature made elsewhere: `NAME=SIG` (image, manifest, sbom, provenance, …; repeatable)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				dir := args[0]
				switch {
				case *keyPath != "" && (*export != "" || len(attach) > 0):
					return usageError(e, "--key signs here; --export-digests and --attach are for keys elsewhere (with --pub)")
				case *keyPath == "" && *pubPath == "":
					return usageError(e, "give --key, or --pub with --export-digests or --attach")
				case *keyPath == "" && *export == "" && len(attach) == 0:
					return usageError(e, "with --pub, give --export-digests or --attach")
				}
				items, err := signedItems(dir)
				if err == nil {
					items, err = withIndex(dir, items)
				}
				if err != nil {
					return e.fail(err)
				}
				signer, pub, err := signerOrPublic(e, *keyPath, *pubPath)
				if err != nil {
					return e.fail(err)
				}
				if *export != "" {
					return exportDigests(e, dir, items, pub, *export)
				}
				sigs := map[string]string{}
				for _, a := range attach {
					name, file, ok := strings.Cut(a, "=")
					if !ok {
						return usageError(e, fmt.Sprintf("--attach %q: want NAME=SIG", a))
					}
					sigs[name] = file
				}
				// Every bundle is made before any is written: nothing half-signed.
				bundles := map[string]*sign.Bundle{}
				for _, it := range items {
					msg, hash, data, err := it.message(dir, pub)
					if err != nil {
						return e.fail(fmt.Errorf("%s: %w", it.Path, err))
					}
					var sig []byte
					if signer != nil {
						if sig, err = signer.Sign(rand.Reader, msg, hash); err != nil {
							return e.fail(fmt.Errorf("%s: signing: %w", it.Path, err))
						}
					} else {
						file, ok := sigs[it.Name]
						if !ok {
							return e.fail(fmt.Errorf("no signature for %s (%s): attach one for each of %s", it.Name, it.Path, itemNames(items)))
						}
						if sig, err = readSignature(file); err != nil {
							return e.fail(err)
						}
						delete(sigs, it.Name)
					}
					if it.Statement {
						bundles[it.Path], err = sign.AttachStatement(pub, data, sig)
					} else {
						bundles[it.Path], err = sign.Attach(pub, data, sig)
					}
					if err != nil {
						return e.fail(fmt.Errorf("%s: %w", it.Path, err))
					}
				}
				for name := range sigs {
					return e.fail(fmt.Errorf("--attach %s: this build has no such item (it has %s)", name, itemNames(items)))
				}
				for _, it := range items {
					data, err := bundles[it.Path].Marshal()
					if err != nil {
						return e.fail(err)
					}
					os.MkdirAll(filepath.Join(dir, "signatures"), 0o755)
					if it.Data != nil {
						if err := atomicfile.Write(filepath.Join(dir, it.Path), it.Data, 0o644); err != nil {
							return e.fail(err)
						}
					}
					if err := atomicfile.Write(bundlePath(dir, it.Path), data, 0o644); err != nil {
						return e.fail(err)
					}
					fmt.Fprintf(e.stdout, "signed %s: %s\n", it.Path, bundlePath(dir, it.Path))
				}
				return ExitOK
			}
		},
	}
}

func itemNames(items []signed) string {
	var names []string
	for _, it := range items {
		names = append(names, it.Name)
	}
	return strings.Join(names, ", ")
}

// exportDigests writes, per item, the bytes the offline signer signs.
func exportDigests(e *env, dir string, items []signed, pub crypto.PublicKey, file string) int {
	type entry struct {
		Name    string `json:"name"`
		Path    string `json:"path"`
		Hash    string `json:"hash"`              // SHA256, or none: sign Message itself
		Digest  string `json:"digest,omitempty"`  // hex, to sign with Hash
		Message string `json:"message,omitempty"` // hex, for Ed25519
	}
	var out []entry
	for _, it := range items {
		msg, hash, _, err := it.message(dir, pub)
		if err != nil {
			return e.fail(err)
		}
		en := entry{Name: it.Name, Path: filepath.Join(dir, it.Path), Hash: "none"}
		if hash == crypto.SHA256 {
			en.Hash, en.Digest = "SHA256", hex.EncodeToString(msg)
		} else {
			en.Message = hex.EncodeToString(msg)
		}
		out = append(out, en)
	}
	data, _ := json.MarshalIndent(out, "", "  ")
	if err := atomicfile.Write(file, append(data, '\n'), 0o644); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: sign each item's digest (or message, for Ed25519) and attach them with --attach NAME=SIG for %s\n", file, itemNames(items))
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
