package attest

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// The formats of a build's statements about itself.
const (
	// SPDX 2.3: one self-contained JSON schema (checkable offline), an ISO
	// standard (ISO/IEC 5962), "FIRMWARE" and "SOURCE" package purposes for
	// the image and its pinned sources, SHA-256/512 checksums, and cosign
	// and in-toto know it as an attestation predicate.
	SPDXPredicateType       = "https://spdx.dev/Document"
	SLSAProvenancePredicate = "https://slsa.dev/provenance/v1"
	InTotoStatementType     = "https://in-toto.io/Statement/v1"
	// BuildType names how plinth builds: the meaning of the build
	// definition's parameters.
	BuildType = "https://github.com/pointsav/plinth/buildtypes/recipe/v1"
)

// Statement is an in-toto v1 statement about a build's image.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is an artifact a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// created is the build's reproducible time: the newest of its sources'
// own times (commit times, archive entries), not the clock.
func created(m *Manifest) string {
	var newest int64
	for _, s := range m.Sources {
		newest = max(newest, s.Epoch)
	}
	return time.Unix(newest, 0).UTC().Format("2006-01-02T15:04:05Z")
}

// spdxID makes an SPDX identifier from a name (letters, digits, . and -).
func spdxID(kind, name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return "SPDXRef-" + kind + "-" + b.String()
}

// location is where a source comes from, pinned, as SPDX and SLSA write
// it: git+URL@commit, the archive's URL, or nothing for local trees.
func location(s ManifestSource) string {
	switch {
	case s.Git != "":
		return "git+" + s.Git + "@" + strings.TrimPrefix(string(s.Digest), "git-")
	case s.URL != "":
		return s.URL
	}
	return ""
}

// SBOM is the build as an SPDX 2.3 document: the image (firmware) built
// from every pinned source and containing every component, with the other
// outputs as files.
func SBOM(m *Manifest) map[string]any {
	image := spdxID("Package", "image-"+m.Board+"-"+m.Config)
	checksums := func(f ManifestFile) []map[string]string {
		return []map[string]string{{"algorithm": "SHA256", "checksumValue": f.SHA256}, {"algorithm": "SHA512", "checksumValue": f.SHA512}}
	}
	var packages []map[string]any
	var rels []map[string]string
	rels = append(rels, map[string]string{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": image})
	img := map[string]any{
		"SPDXID": image, "name": m.Recipe.Name + " " + filepath.Base(m.Image.Path), "versionInfo": m.Image.SHA256[:12],
		"primaryPackagePurpose": "FIRMWARE", "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
		"packageFileName": m.Image.Path, "checksums": checksums(*m.Image),
		"licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
		"supplier": "NOASSERTION", "comment": fmt.Sprintf("Built by plinth for board %s, configuration %s", m.Board, m.Config),
	}
	packages = append(packages, img)
	for _, s := range m.Sources {
		id := spdxID("Source", s.Name)
		loc := location(s)
		if loc == "" {
			loc = "NOASSERTION"
		}
		lic := s.License
		if lic == "" {
			lic = "NOASSERTION"
		}
		p := map[string]any{
			"SPDXID": id, "name": s.Name, "primaryPackagePurpose": "SOURCE", "downloadLocation": loc, "filesAnalyzed": false,
			"licenseConcluded": "NOASSERTION", "licenseDeclared": lic, "copyrightText": "NOASSERTION",
		}
		switch {
		case s.Git != "":
			p["versionInfo"] = strings.TrimPrefix(string(s.Digest), "git-")
			if s.Ref != "" {
				p["sourceInfo"] = "ref " + s.Ref
			}
		case s.SHA256 != "":
			p["versionInfo"] = s.SHA256[:12]
			p["checksums"] = []map[string]string{{"algorithm": "SHA256", "checksumValue": s.SHA256}}
		default:
			p["versionInfo"] = string(s.Digest)
			p["sourceInfo"] = "a local directory, content hash " + string(s.Digest)
		}
		packages = append(packages, p)
		rels = append(rels, map[string]string{"spdxElementId": image, "relationshipType": "GENERATED_FROM", "relatedSpdxElement": id})
	}
	// Outputs as packages (SPDX files would need SHA-1 checksums): the
	// protection domains the image contains, and the rest of the build.
	for _, f := range m.Outputs {
		if f.Path == m.Image.Path {
			continue
		}
		purpose, rel := "FILE", "OTHER"
		for _, c := range m.Components {
			if c.Path == f.Path {
				purpose, rel = "APPLICATION", "CONTAINS"
			}
		}
		id := spdxID("Output", f.Path)
		packages = append(packages, map[string]any{
			"SPDXID": id, "name": f.Path, "versionInfo": f.SHA256[:12], "primaryPackagePurpose": purpose, "packageFileName": f.Path,
			"downloadLocation": "NOASSERTION", "filesAnalyzed": false, "checksums": checksums(f),
			"licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION",
		})
		if rel == "CONTAINS" {
			rels = append(rels, map[string]string{"spdxElementId": image, "relationshipType": "CONTAINS", "relatedSpdxElement": id})
		} else {
			rels = append(rels, map[string]string{"spdxElementId": id, "relationshipType": "OTHER", "relatedSpdxElement": image, "comment": "built with the image"})
		}
	}
	return map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name":              fmt.Sprintf("%s-%s-%s", m.Recipe.Name, m.Board, m.Config),
		"documentNamespace": fmt.Sprintf("https://github.com/pointsav/plinth/spdx/%s/%s/%s/%s", m.Recipe.Name, m.Board, m.Config, m.Image.SHA256),
		"creationInfo":      map[string]any{"created": created(m), "creators": []string{"Tool: plinth-" + m.Plinth}},
		"packages":          packages, "relationships": rels,
	}
}

// Provenance is the build as a SLSA v1 provenance predicate: the recipe
// and its parameters, every pinned source as a resolved dependency, and
// the builder.
func Provenance(m *Manifest) map[string]any {
	var deps []map[string]any
	for _, s := range m.Sources {
		d := map[string]any{"name": s.Name}
		if loc := location(s); loc != "" {
			d["uri"] = loc
		}
		switch {
		case s.Git != "":
			d["digest"] = map[string]string{"gitCommit": strings.TrimPrefix(string(s.Digest), "git-")}
		case s.SHA256 != "":
			d["digest"] = map[string]string{"sha256": s.SHA256}
		default:
			d["digest"] = map[string]string{"sha256": string(s.Digest)}
		}
		deps = append(deps, d)
	}
	var tools []map[string]any
	for _, t := range m.Tools {
		// No file:// location: where a tool lies differs between hosts; its
		// digest and version are what it is.
		tools = append(tools, map[string]any{"name": t.Name, "digest": map[string]string{"sha256": string(t.Digest)}, "annotations": map[string]string{"version": t.Version}})
	}
	var byproducts []map[string]any
	for _, f := range m.Outputs {
		byproducts = append(byproducts, map[string]any{"name": f.Path, "digest": map[string]string{"sha256": f.SHA256, "sha512": f.SHA512}})
	}
	if rp := m.Reproduced; rp != nil {
		// Both builds, by the manifest each wrote (every output's digest is
		// in it) and the image each made.
		for _, b := range []struct{ name, manifest, image string }{{"build-1", rp.FirstManifest, m.Image.SHA256}, {"build-2", rp.SecondManifest, rp.SecondImage}} {
			byproducts = append(byproducts, map[string]any{"name": "reproduction/" + b.name + "/manifest.json", "digest": map[string]string{"sha256": b.manifest}, "annotations": map[string]string{"image_sha256": b.image, "varied": strings.Join(rp.Varied, ", ")}})
		}
	}
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": BuildType,
			"externalParameters": map[string]any{
				"recipe": map[string]string{"name": m.Recipe.Name, "sha256": m.Recipe.SHA256},
				"board":  m.Board, "config": m.Config,
			},
			"resolvedDependencies": append(deps, tools...),
		},
		"runDetails": map[string]any{
			"builder":    map[string]any{"id": "https://github.com/pointsav/plinth", "version": map[string]string{"plinth": m.Plinth}},
			"byproducts": byproducts,
		},
	}
}

// StatementFor wraps a predicate in an in-toto statement about the image.
func StatementFor(m *Manifest, predicateType string, predicate any) ([]byte, error) {
	raw, err := Canonical(predicate)
	if err != nil {
		return nil, err
	}
	st := Statement{Type: InTotoStatementType, PredicateType: predicateType, Predicate: raw,
		Subject: []Subject{{Name: m.Image.Path, Digest: map[string]string{"sha256": m.Image.SHA256, "sha512": m.Image.SHA512}}}}
	return Canonical(st)
}

// Attestations are the files a build derives from its manifest alone: the
// SBOM (SPDX 2.3) and the SLSA provenance, each as an in-toto statement
// about the image (sbom.intoto.json, provenance.intoto.json), and the bare
// SPDX document (sbom.spdx.json). Being a function of the manifest, they
// can be derived again from a signed manifest and compared byte for byte.
func Attestations(m *Manifest) (map[string][]byte, error) {
	if m.Image == nil {
		return nil, nil
	}
	sbom := SBOM(m)
	doc, err := Canonical(sbom)
	if err != nil {
		return nil, err
	}
	sbomSt, err := StatementFor(m, SPDXPredicateType, sbom)
	if err != nil {
		return nil, err
	}
	prov, err := StatementFor(m, SLSAProvenancePredicate, Provenance(m))
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"sbom.spdx.json": doc, "sbom.intoto.json": sbomSt, "provenance.intoto.json": prov}, nil
}

// WriteAttestations writes the Attestations of a manifest into dir.
func WriteAttestations(dir string, m *Manifest) error {
	files, err := Attestations(m)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := atomicfile.Write(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
