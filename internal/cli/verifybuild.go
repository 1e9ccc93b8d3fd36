package cli

import (
	"crypto"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/sign"
)

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
				var m builder.Manifest
				data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
				json.Unmarshal(data, &m)
				items, err := signedItems(dir)
				if err != nil {
					return e.fail(err)
				}
				failed := 0
				for _, it := range items {
					raw, err := os.ReadFile(bundlePath(dir, it.Path))
					if os.IsNotExist(err) && it.Name != "image" {
						// Written after signing (or by an older plinth).
						fmt.Fprintf(e.stdout, "%s: not signed\n", it.Path)
						continue
					}
					switch {
					case err != nil:
					case it.Statement:
						err = checkStatement(dir, it.Path, raw, pub, m.Image.SHA256)
					default:
						err = check(it.Path)
					}
					if err != nil {
						fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, it.Path, err)
						failed++
						continue
					}
					what := "signature verified"
					if it.Statement {
						what = "signed statement about the image verified"
					}
					fmt.Fprintf(e.stdout, "%s: %s\n", it.Path, what)
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
