package publish

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/update"
)

// Media types of a build's files.
const (
	ImageType        = "application/vnd.pointsav.plinth.image.v1"
	ManifestType     = "application/vnd.pointsav.plinth.manifest.v1+json"
	FITType          = "application/vnd.pointsav.plinth.fit.v1"
	BootScriptType   = "application/vnd.pointsav.plinth.boot-script.v1"
	DeviceTreeType   = "application/vnd.pointsav.plinth.fdt.v1"
	DiskType         = "application/vnd.pointsav.plinth.disk.v1+zstd"
	MeasurementsType = "application/vnd.pointsav.plinth.measurements.v1+json"
	CELType          = "application/vnd.pointsav.plinth.cel.v1+json"
	BundleFileType   = "application/vnd.pointsav.plinth.bundle.v1.tar"
)

// Annotation keys.
const (
	AnnotationBoard    = "dev.pointsav.plinth.board"
	AnnotationMicrokit = "dev.pointsav.plinth.microkit"
	AnnotationVersion  = "dev.pointsav.plinth.version"
	AnnotationImage    = "dev.pointsav.plinth.image.sha256"
	AnnotationSigns    = "dev.pointsav.plinth.signs"
	AnnotationKind     = "dev.pointsav.plinth.bundle.kind"
	AnnotationBase     = "dev.pointsav.plinth.bundle.base.sha256" // a delta's base slot
	AnnotationFloor    = "dev.pointsav.plinth.bundle.floor"
	// AnnotationMinInstalled is the lowest installed version a bundle takes.
	AnnotationMinInstalled = "dev.pointsav.plinth.bundle.min-installed"
)

// FromBuild is a build directory's release: the image, the boot artifacts
// (the disk compressed), manifest.json and the predicted measurements as
// layers; the SBOM, the provenance and each signature as referrers; and
// the bundles given, each a referrer too.
func FromBuild(dir string, bundles []string) (Release, error) {
	m, err := attest.ReadManifest(dir)
	if err != nil {
		return Release{}, err
	}
	if m.Image == nil {
		return Release{}, fmt.Errorf("%s: the build has no image", dir)
	}
	r := Release{ArtifactType: BuildArtifactType, Annotations: map[string]string{
		"org.opencontainers.image.title": m.Recipe.Name, AnnotationBoard: m.Board, AnnotationMicrokit: m.Microkit,
		AnnotationVersion: strconv.FormatUint(m.Version, 10), AnnotationImage: m.Image.SHA256,
	}}
	for _, s := range m.Sources {
		r.Created = maxTime(r.Created, time.Unix(s.Epoch, 0))
	}
	add := func(rel, mediaType string, required bool) error {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if os.IsNotExist(err) && !required {
			return nil
		}
		if err != nil {
			return err
		}
		r.Files = append(r.Files, File{Name: rel, MediaType: mediaType, Data: data})
		return nil
	}
	for _, f := range []struct {
		rel, mediaType string
		required       bool
	}{
		{m.Image.Path, ImageType, true}, {"manifest.json", ManifestType, true},
		{"boot-uboot/image.fit", FITType, false}, {"boot-uboot/boot.scr", BootScriptType, false}, {"boot-uboot/signature.dtb", DeviceTreeType, false},
		{"measurements.json", MeasurementsType, false}, {"eventlog.cel.json", CELType, false},
	} {
		if err := add(f.rel, f.mediaType, f.required); err != nil {
			return Release{}, err
		}
	}
	if disk, err := os.ReadFile(filepath.Join(dir, "boot-uboot", "disk.img")); err == nil {
		// Mostly free space: zstd makes it small.
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		r.Files = append(r.Files, File{Name: "boot-uboot/disk.img.zst", MediaType: DiskType, Data: enc.EncodeAll(disk, nil)})
		enc.Close()
	}
	for _, a := range []struct{ rel, artifactType string }{{"sbom.spdx.json", SPDXType}, {"provenance.intoto.json", InTotoType}, {"sbom.intoto.json", InTotoType}} {
		if data, err := os.ReadFile(filepath.Join(dir, a.rel)); err == nil {
			r.Referrers = append(r.Referrers, Referrer{ArtifactType: a.artifactType, Files: []File{{Name: a.rel, MediaType: a.artifactType, Data: data}}})
		}
	}
	sigs, _ := filepath.Glob(filepath.Join(dir, "signatures", "*.sigstore.json"))
	for _, s := range sigs {
		data, err := os.ReadFile(s)
		if err != nil {
			return Release{}, err
		}
		name := "signatures/" + filepath.Base(s)
		r.Referrers = append(r.Referrers, Referrer{ArtifactType: SigstoreBundleType, Files: []File{{Name: name, MediaType: SigstoreBundleType, Data: data}},
			Annotations: map[string]string{AnnotationSigns: strings.TrimSuffix(filepath.Base(s), ".sigstore.json")}})
	}
	for _, b := range bundles {
		br, err := FromBundle(b)
		if err != nil {
			return Release{}, err
		}
		r.Referrers = append(r.Referrers, Referrer{ArtifactType: br.ArtifactType, Files: br.Files, Annotations: br.Annotations})
	}
	return r, nil
}

// FromBundle is an update bundle's release: the bundle as its layer, its
// manifest's version, boards, kind and image digest as annotations, and
// the manifest's Sigstore bundle as a referrer.
func FromBundle(path string) (Release, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Release{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Release{}, err
	}
	defer f.Close()
	br, err := update.Open(f, nil)
	if err != nil {
		return Release{}, fmt.Errorf("%s: %w", path, err)
	}
	m := br.Manifest
	issued, _ := time.Parse(time.RFC3339, m.Issued)
	sig, err := br.Signature.Marshal()
	if err != nil {
		return Release{}, err
	}
	annotations := map[string]string{AnnotationVersion: strconv.FormatUint(m.Version, 10), AnnotationBoard: strings.Join(m.Boards, ","),
		AnnotationMicrokit: m.Microkit, AnnotationImage: m.Image.SHA256, AnnotationKind: m.Payloads[0].Kind,
		AnnotationFloor: strconv.FormatUint(m.Floor, 10), AnnotationMinInstalled: strconv.FormatUint(m.MinInstalled, 10)}
	if m.Delta != nil {
		annotations[AnnotationBase] = m.Delta.Base.SHA256
	}
	return Release{
		ArtifactType: BundleArtifactType, Created: issued, Annotations: annotations,
		Files: []File{{Name: filepath.Base(path), MediaType: BundleFileType, Data: data}},
		Referrers: []Referrer{{ArtifactType: SigstoreBundleType, Annotations: map[string]string{AnnotationSigns: update.ManifestEntry},
			Files: []File{{Name: update.ManifestEntry, MediaType: "application/json", Data: br.Raw}, {Name: update.SignatureEntry, MediaType: SigstoreBundleType, Data: sig}}}},
	}, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
