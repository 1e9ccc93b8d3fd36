package cli

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/internal/safename"

	"github.com/pointsav/plinth/sign"
)

func verifyCommand() *command {
	return &command{
		name:    "verify",
		args:    "BUILD-DIR",
		summary: "check a build's signatures and manifest offline",
		help: `Check, with a public key and nothing from the network, that a build directory
is what was signed: the manifest's signature first, then the image's, the SBOM
and provenance statements' (each must be exactly the statement the signed
manifest gives, about this image), the predicted measurements' where plinth
measure wrote them; then every file the manifest lists (outputs, report.json)
and the SPDX document against it. An item the build produced without its
signature is a failure, unless --only names the items to check. Says which
check failed, and exits 1 if any did.`,
		setup: func(fs *flag.FlagSet) run {
			pubPath := fs.String("key", "", "the public key (`FILE`)")
			only := fs.String("only", "", "check the signatures of these items only (`LIST`, comma-separated: "+strings.Join(signableItems, ", ")+"); the files the manifest lists are always checked")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				if *pubPath == "" {
					return usageError(e, "give the public key with --key")
				}
				subset := map[string]bool{}
				if *only != "" {
					for _, n := range strings.Split(*only, ",") {
						n = strings.TrimSpace(n)
						if !slices.Contains(signableItems, n) {
							return usageError(e, fmt.Sprintf("--only: no item %q (the items: %s)", n, strings.Join(signableItems, ", ")))
						}
						subset[n] = true
					}
				}
				pub, err := sign.LoadPublicKey(*pubPath)
				if err != nil {
					return e.fail(err)
				}
				return verifyBuild(e, args[0], pub, subset)
			}
		},
	}
}

// verifyBuild checks a build directory; subset, when not empty, names the
// signed items to check.
func verifyBuild(e *env, dir string, pub crypto.PublicKey, subset map[string]bool) int {
	check := func(a string) error {
		data, err := os.ReadFile(filepath.Join(dir, a))
		if err != nil {
			return err
		}
		b, err := readBundle(dir, a)
		if err != nil {
			return err
		}
		return sign.Verify(pub, data, b)
	}
	// The manifest first: nothing it says counts until its signature holds.
	if err := check("manifest.json"); err != nil {
		return e.fail(fmt.Errorf("manifest.json: %w", err))
	}
	var m attest.Manifest
	data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil {
		return e.fail(fmt.Errorf("manifest.json: %w", err))
	}
	if m.Image == nil {
		return e.fail(fmt.Errorf("manifest.json names no image: nothing to verify"))
	}
	// What the signed manifest says the statements and the SPDX document
	// must be, byte for byte.
	want, err := attest.Attestations(&m)
	if err != nil {
		return e.fail(err)
	}
	failed := 0
	fail := func(name string, err error) {
		fmt.Fprintf(e.stderr, "%s: %s: %v\n", e.path, name, err)
		failed++
	}
	items := producedItems(dir, &m)
	// The signed index says what the signer signed: an item it lists must
	// be here, even one removed with its signature.
	if raw, err := os.ReadFile(filepath.Join(dir, indexPath)); err == nil {
		var idx struct {
			Items []indexEntry `json:"items"`
		}
		if err := check(indexPath); err != nil {
			fail(indexPath, err)
		} else if err := json.Unmarshal(raw, &idx); err != nil {
			fail(indexPath, err)
		} else {
			for _, en := range idx.Items {
				if safename.RelPath(en.Path) != nil || !slices.Contains(signableItems, en.Name) {
					fail(indexPath, fmt.Errorf("lists %q (%q), which is not an item of a build", en.Name, en.Path))
					continue
				}
				if !slices.ContainsFunc(items, func(it signed) bool { return it.Name == en.Name }) {
					items = append(items, signed{Name: en.Name, Path: en.Path})
				}
			}
		}
	} else if len(subset) == 0 {
		fail(indexPath, fmt.Errorf("missing: without the signed list of what was signed, a removed item would go unseen (sign the build again, or check a subset with --only)"))
	}
	for _, it := range items {
		if it.Name == "manifest" || len(subset) > 0 && !subset[it.Name] {
			continue
		}
		var err error
		if _, serr := os.Stat(filepath.Join(dir, it.Path)); serr != nil {
			err = fmt.Errorf("missing (%v)", serr)
		} else if it.Statement {
			err = checkStatement(dir, it.Path, pub, m.Image.SHA256, want[it.Path])
		} else {
			err = check(it.Path)
		}
		if err != nil {
			fail(it.Path, err)
			continue
		}
		what := "signature verified"
		if it.Statement {
			what = "signed statement about the image verified"
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", it.Path, what)
	}
	if _, err := os.Stat(filepath.Join(dir, "measurements.json")); err == nil && (len(subset) == 0 || subset["measurements"]) {
		if err := checkMeasurements(dir, &m); err != nil {
			fail("measurements.json", err)
		}
	}
	if len(subset) == 0 || subset["sbom"] {
		// The bare SPDX document is the SBOM statement's predicate.
		if got, err := os.ReadFile(filepath.Join(dir, "sbom.spdx.json")); err != nil {
			fail("sbom.spdx.json", err)
		} else if !bytes.Equal(got, want["sbom.spdx.json"]) {
			fail("sbom.spdx.json", fmt.Errorf("differs from the SBOM the signed manifest gives"))
		}
	}
	listed := append([]attest.ManifestFile(nil), m.Outputs...)
	if m.Report != nil {
		listed = append(listed, *m.Report)
	}
	for _, o := range listed {
		got, err := attest.DescribeFile(dir, o.Path)
		switch {
		case err != nil:
			fail(o.Path, err)
		case got.SHA256 != o.SHA256 || got.SHA512 != o.SHA512 || got.Size != o.Size:
			fail(o.Path, fmt.Errorf("sha256 %s, the manifest says %s", got.SHA256, o.SHA256))
		}
	}
	// Files the manifest does not list are not verified: say so, since a
	// directory shipped whole would ship them too.
	known := map[string]bool{"manifest.json": true, "sbom.spdx.json": true, "sbom.intoto.json": true, "provenance.intoto.json": true, "measurements.json": true, "eventlog.cel.json": true}
	for _, o := range listed {
		known[o.Path] = true
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case err != nil:
			return nil
		case d.IsDir() && (rel == "logs" || rel == "signatures"):
			return filepath.SkipDir
		case !d.IsDir() && !known[rel]:
			fmt.Fprintf(e.stderr, "%s: warning: %s is not in the manifest: nothing vouches for it\n", e.path, rel)
		}
		return nil
	})
	if failed > 0 {
		fmt.Fprintf(e.stderr, "%s: %d check(s) failed\n", e.path, failed)
		return ExitFail
	}
	fmt.Fprintf(e.stdout, "%d files match the signed manifest\n", len(listed))
	return ExitOK
}

// checkMeasurements checks that the predicted measurements are of this
// build's image, board and configuration, and name the event log beside
// them (both are signed; this ties them to the signed manifest).
func checkMeasurements(dir string, m *attest.Manifest) error {
	raw, err := os.ReadFile(filepath.Join(dir, "measurements.json"))
	if err != nil {
		return err
	}
	var ms struct {
		Board    string              `json:"board"`
		Config   string              `json:"config"`
		Image    attest.ManifestFile `json:"image"`
		EventLog string              `json:"eventlog_sha256"`
	}
	if err := json.Unmarshal(raw, &ms); err != nil {
		return err
	}
	if ms.Image.SHA256 != m.Image.SHA256 || ms.Board != m.Board || ms.Config != m.Config {
		return fmt.Errorf("the measurements are not of this image (they are of sha256 %s on %s/%s; the image is %s on %s/%s)", ms.Image.SHA256, ms.Board, ms.Config, m.Image.SHA256, m.Board, m.Config)
	}
	log, err := attest.DescribeFile(dir, "eventlog.cel.json")
	if err != nil {
		return fmt.Errorf("its event log: %w", err)
	}
	if log.SHA256 != ms.EventLog {
		return fmt.Errorf("eventlog.cel.json is not the event log these measurements name (sha256 %s, they name %s)", log.SHA256, ms.EventLog)
	}
	return nil
}

// readBundle reads the signature bundle of an item of the build.
func readBundle(dir, item string) (*sign.Bundle, error) {
	raw, err := os.ReadFile(bundlePath(dir, item))
	if os.IsNotExist(err) {
		return nil, errNotSigned
	}
	if err != nil {
		return nil, err
	}
	return sign.ParseBundle(raw)
}

var errNotSigned = errors.New("not signed (no bundle in signatures/): sign the build again, or name the items to check with --only")

// checkStatement verifies a statement's DSSE bundle, that it is the file
// the build wrote, and that it is the statement the signed manifest gives
// (about this image, of this recipe, sources and outputs).
func checkStatement(dir, name string, pub crypto.PublicKey, image string, want []byte) error {
	b, err := readBundle(dir, name)
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
	var st attest.Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return err
	}
	if len(st.Subject) != 1 || st.Subject[0].Digest["sha256"] != image {
		return fmt.Errorf("the statement is not about this image (sha256 %s)", image)
	}
	if !bytes.Equal(payload, want) {
		return fmt.Errorf("the statement is not the one the signed manifest gives (another build's, or another kind of statement)")
	}
	return nil
}
