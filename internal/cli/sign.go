package cli

import (
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/term"
)

// passphrase is the key's passphrase: from PLINTH_PASSWORD (or cosign's
// COSIGN_PASSWORD), else asked for on the terminal. It is never printed.
func passphrase(e *env, confirm bool) ([]byte, error) {
	for _, name := range []string{"PLINTH_PASSWORD", "COSIGN_PASSWORD"} {
		if v := e.getenv(name); v != "" {
			return []byte(v), nil
		}
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, errors.New("no passphrase: set PLINTH_PASSWORD, or run on a terminal to be asked")
	}
	defer tty.Close()
	fmt.Fprint(tty, "Passphrase for the private key: ")
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(tty, "Again: ")
		again, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		if err != nil {
			return nil, err
		}
		if string(again) != string(pw) {
			return nil, errors.New("the two passphrases differ")
		}
	}
	return pw, nil
}

func keygenCommand() *command {
	return &command{
		name:    "keygen",
		summary: "make a signing key pair (cosign's format)",
		help: `Make a key pair for plinth sign: PREFIX.key, the private key encrypted with
a passphrase (cosign's format, mode 0600), and PREFIX.pub. The passphrase
comes from PLINTH_PASSWORD (or COSIGN_PASSWORD), else from the terminal.
Existing files are not overwritten.

With --tpm, the TPM makes the key (ECDSA P-256) and keeps its private part:
PREFIX.tpmkey records which TPM and the key as the TPM sealed it to itself
(useless elsewhere); no passphrase. TPM is a device such as /dev/tpmrm0, or
swtpm:HOST:PORT for a software TPM.`,
		setup: func(fs *flag.FlagSet) run {
			kind := fs.String("type", sign.KeyTypes[0], "the key type: "+strings.Join(sign.KeyTypes, ", "))
			prefix := fs.String("o", "plinth", "write `PREFIX`.key and PREFIX.pub")
			tpm := fs.String("tpm", "", "make the key inside this `TPM` (/dev/tpmrm0, swtpm:HOST:PORT)")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q", args[0]))
				}
				if *tpm != "" {
					return tpmKeygen(e, *tpm, *prefix)
				}
				key, err := sign.GenerateKey(*kind)
				if err != nil {
					return e.fail(err)
				}
				pw, err := passphrase(e, true)
				if err != nil {
					return e.fail(err)
				}
				priv, pub, err := sign.WriteKeyPair(*prefix, key, pw)
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "wrote %s (private, encrypted) and %s (%s)\n", priv, pub, *kind)
				return ExitOK
			}
		},
	}
}

// tpmKeygen has a TPM make a signing key and writes PREFIX.tpmkey and
// PREFIX.pub.
func tpmKeygen(e *env, tpm, prefix string) int {
	if _, err := os.Stat(prefix + ".pub"); err == nil {
		return e.fail(fmt.Errorf("%s.pub exists; plinth does not overwrite keys", prefix))
	}
	key, err := sign.CreateTPMKey(tpm)
	if err != nil {
		return e.fail(err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return e.fail(err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return e.fail(err)
	}
	if err := key.Write(prefix + ".tpmkey"); err != nil {
		return e.fail(err)
	}
	if err := atomicfile.Write(prefix+".pub", pem, 0o644); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "wrote %s.tpmkey (the key stays in TPM %s) and %s.pub (ecdsa-p256)\n", prefix, tpm, prefix)
	return ExitOK
}

// loadSigner opens a key file: a TPM-held key's, or a private key (asking
// for its passphrase).
func loadSigner(e *env, path string) (crypto.Signer, error) {
	if k, ok, err := sign.ReadTPMKey(path); err != nil {
		return nil, err
	} else if ok {
		return k.Signer()
	}
	pw, err := passphrase(e, false)
	if err != nil {
		return nil, err
	}
	return sign.LoadPrivateKey(path, pw)
}

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

func verifyCommand() *command {
	return &command{
		name:    "verify",
		args:    "BUILD-DIR",
		summary: "check a build's signatures and manifest offline",
		help: `Check, with a public key and nothing from the network, that the image and
manifest.json of a build directory are signed by that key, and that every
output the manifest lists has the digest it lists. Says which check failed.`,
		setup: func(fs *flag.FlagSet) run {
			pubPath := fs.String("key", "", "the public key (`FILE`)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				if *pubPath == "" {
					return usageError(e, "give the public key with --key")
				}
				dir := args[0]
				pub, err := sign.LoadPublicKey(*pubPath)
				if err != nil {
					return e.fail(err)
				}
				// The manifest first: nothing it says counts until its
				// signature holds.
				check := func(a string) error {
					data, err := os.ReadFile(filepath.Join(dir, a))
					if err != nil {
						return err
					}
					raw, err := os.ReadFile(bundlePath(dir, a))
					if err != nil {
						return err
					}
					b, err := sign.ParseBundle(raw)
					if err != nil {
						return err
					}
					return sign.Verify(pub, data, b)
				}
				if err := check("manifest.json"); err != nil {
					return e.fail(fmt.Errorf("manifest.json: %w", err))
				}
				arts, err := signedArtifacts(dir)
				if err != nil {
					return e.fail(err)
				}
				failed := 0
				for _, a := range arts {
					if err := check(a); err != nil {
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, a, err)
						failed++
						continue
					}
					fmt.Fprintf(e.stdout, "%s: signature verified\n", a)
				}
				var m builder.Manifest
				data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
				json.Unmarshal(data, &m)
				for _, st := range statementFiles {
					raw, err := os.ReadFile(bundlePath(dir, st))
					if os.IsNotExist(err) {
						continue
					}
					if err == nil {
						err = checkStatement(dir, st, raw, pub, m.Image.SHA256)
					}
					if err != nil {
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, st, err)
						failed++
						continue
					}
					fmt.Fprintf(e.stdout, "%s: signed statement about the image verified\n", st)
				}
				for _, o := range m.Outputs {
					got, err := builder.DescribeFile(dir, o.Path)
					switch {
					case err != nil:
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, o.Path, err)
						failed++
					case got.SHA256 != o.SHA256 || got.SHA512 != o.SHA512 || got.Size != o.Size:
						fmt.Fprintf(e.stderr, "%s: %s: sha256 %s, the manifest says %s\n", e.path, o.Path, got.SHA256, o.SHA256)
						failed++
					}
				}
				if failed > 0 {
					fmt.Fprintf(e.stderr, "%s: %d check(s) failed\n", e.path, failed)
					return ExitFail
				}
				fmt.Fprintf(e.stdout, "%d outputs match the signed manifest\n", len(m.Outputs))
				return ExitOK
			}
		},
	}
}

// multiFlag collects a repeatable flag's values.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// checkStatement verifies a statement's DSSE bundle, that it is the file
// the build wrote, and that it is about the image the manifest names.
func checkStatement(dir, name string, raw []byte, pub crypto.PublicKey, image string) error {
	b, err := sign.ParseBundle(raw)
	if err != nil {
		return err
	}
	payload, err := sign.VerifyStatement(pub, b)
	if err != nil {
		return err
	}
	file, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if string(file) != string(payload) {
		return fmt.Errorf("the file differs from the statement that was signed")
	}
	var st builder.Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return err
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != image {
		return fmt.Errorf("the statement is not about this image (sha256 %s)", image)
	}
	return nil
}

func diffCommand() *command {
	return &command{
		name:    "diff",
		args:    "OLD-BUILD-DIR NEW-BUILD-DIR",
		summary: "compare two builds: each PD's footprint, and the outputs that changed",
		help: `Compare two build directories (out/RECIPE/BOARD/CONFIG, e.g. of two releases):
each protection domain's code, data, stack, mapped memory, channels and
interrupts from their report.json, and which outputs' digests changed
according to their manifest.json.`,
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 2 {
					return usageError(e, "give the old and the new build directory")
				}
				var fps [2]builder.Footprint
				var ms [2]builder.Manifest
				for i, dir := range args {
					for _, f := range []struct {
						name string
						v    any
					}{{"report.json", &fps[i]}, {"manifest.json", &ms[i]}} {
						data, err := os.ReadFile(filepath.Join(dir, f.name))
						if err != nil {
							return e.fail(fmt.Errorf("%s: %w", dir, err))
						}
						if err := json.Unmarshal(data, f.v); err != nil {
							return e.fail(fmt.Errorf("%s: %s: %v", dir, f.name, err))
						}
					}
				}
				lines := fps[1].Diff(&fps[0])
				old := map[string]string{}
				for _, o := range ms[0].Outputs {
					old[o.Path] = o.SHA256
				}
				for _, o := range ms[1].Outputs {
					switch was, ok := old[o.Path]; {
					case !ok:
						lines = append(lines, fmt.Sprintf("+ output %s", o.Path))
					case was != o.SHA256:
						lines = append(lines, fmt.Sprintf("~ output %s: %.12s -> %.12s", o.Path, was, o.SHA256))
					}
					delete(old, o.Path)
				}
				for p := range old {
					lines = append(lines, fmt.Sprintf("- output %s", p))
				}
				if len(lines) == 0 {
					fmt.Fprintln(e.stdout, "the builds are the same")
					return ExitOK
				}
				for _, l := range lines {
					fmt.Fprintln(e.stdout, l)
				}
				return ExitOK
			}
		},
	}
}
