package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/recipe"
)

// ManifestType names the manifest's format and version.
const ManifestType = "https://github.com/pointsav/plinth/manifest/v1"

// Manifest records what went into a build and what came out, so one image
// digest ties to its recipe, pins, tools and parts.
type Manifest struct {
	Type       string            `json:"_type"`
	Plinth     string            `json:"plinth"`
	Recipe     ManifestRecipe    `json:"recipe"`
	Board      string            `json:"board"`
	Microkit   string            `json:"microkit,omitempty"` // the SDK's Microkit version`
	Version    uint64            `json:"version,omitempty"`  // the release's version (the recipe's update.version)
	Config     string            `json:"config"`
	Sources    []ManifestSource  `json:"sources"`
	Tools      []builder.Tool    `json:"tools"`
	System     *ManifestFile     `json:"system,omitempty"`     // the system description the Microkit tool read
	Components []ManifestFile    `json:"components,omitempty"` // the protection domains' ELFs as built
	Outputs    []ManifestFile    `json:"outputs"`              // every file the build produced
	Image      *ManifestFile     `json:"image,omitempty"`
	Report     *ManifestFile     `json:"report,omitempty"` // report.json, the PDs' footprint
	Extra      map[string]string `json:"extra,omitempty"`
	// Reproduced records a second build of the same inputs, on purpose in
	// another environment, that gave the same bytes (--verify-repro).
	Reproduced *Reproduction `json:"reproduced,omitempty"`
}

// Reproduction is what a second build of the same inputs showed.
type Reproduction struct {
	FirstManifest  string   `json:"first_manifest_sha256"`  // manifest.json of the first build, before this record
	SecondManifest string   `json:"second_manifest_sha256"` // manifest.json of the second
	SecondImage    string   `json:"second_image_sha256"`
	Varied         []string `json:"varied"` // what the second build changed on purpose
}

// ManifestRecipe identifies the recipe.
type ManifestRecipe struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // of recipe.yaml as read
}

// ManifestSource is one pinned source and what its pin resolved to.
type ManifestSource struct {
	Name    string         `json:"name"`
	Git     string         `json:"git,omitempty"`
	Ref     string         `json:"ref,omitempty"`
	Commit  string         `json:"commit,omitempty"`
	URL     string         `json:"url,omitempty"`
	SHA256  string         `json:"sha256,omitempty"`
	Path    string         `json:"path,omitempty"`
	License string         `json:"license,omitempty"`
	Digest  builder.Digest `json:"digest"` // the commit, the archive's sha256 or the tree's hash
	Epoch   int64          `json:"epoch,omitempty"`
}

// ManifestFile is one file by its path under the build directory.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
	Size   int64  `json:"size"`
}

// DescribeFile digests a file under dir.
func DescribeFile(dir, rel string) (ManifestFile, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return ManifestFile{}, err
	}
	defer f.Close()
	h256, h512 := sha256.New(), sha512.New()
	n, err := io.Copy(io.MultiWriter(h256, h512), f)
	if err != nil {
		return ManifestFile{}, err
	}
	return ManifestFile{Path: rel, SHA256: hex.EncodeToString(h256.Sum(nil)), SHA512: hex.EncodeToString(h512.Sum(nil)), Size: n}, nil
}

// Canonical is v as canonical JSON (RFC 8785 for the values a manifest
// holds: object keys sorted, no insignificant space, no HTML escaping),
// the form that is digested and signed.
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteManifest describes a finished build in dir/manifest.json.
func WriteManifest(dir string, r *recipe.Recipe, b *boards.Board, config, version string, fetched map[string]builder.Fetched, tools []builder.Tool, res *builder.Result) error {
	m := Manifest{Type: ManifestType, Plinth: version, Board: b.Name, Config: config, Tools: tools}
	if m.Tools == nil {
		m.Tools = []builder.Tool{}
	}
	m.Recipe.Name = r.Name
	m.Microkit = r.SDK.Version
	if r.Update != nil {
		m.Version = r.Update.Version
	}
	// A shipped recipe is read from plinth's own files, then written out
	// beside its files (r.Dir) for the build.
	recipeText, err := os.ReadFile(r.File)
	if err != nil {
		recipeText, err = os.ReadFile(filepath.Join(r.Dir, filepath.Base(r.File)))
	}
	if data := recipeText; err == nil {
		sum := sha256.Sum256(data)
		m.Recipe.SHA256 = hex.EncodeToString(sum[:])
	}
	for name, f := range fetched {
		src := ManifestSource{Name: name, Digest: f.Digest, Epoch: f.Epoch}
		if s, ok := r.Sources[name]; ok && s != nil {
			src.Git, src.Ref, src.Commit, src.URL, src.SHA256, src.Path, src.License = s.Git, s.Ref, s.Commit, s.Archive, s.SHA256, s.Path, s.License
		} else if name == "sdk-release" && r.SDK.Release != nil {
			src.URL, src.SHA256 = r.SDK.Release.URL, r.SDK.Release.SHA256
		}
		m.Sources = append(m.Sources, src)
	}
	sort.Slice(m.Sources, func(i, j int) bool { return m.Sources[i].Name < m.Sources[j].Name })
	image := r.Outputs.ImageName()
	for step, outs := range res.Outputs {
		for _, o := range outs {
			rel := step + "/" + filepath.ToSlash(o.Path)
			f, err := DescribeFile(dir, rel)
			if err != nil {
				return err
			}
			m.Outputs = append(m.Outputs, f)
			switch {
			case step == "image" && o.Path == image:
				m.Image = &f
			case step == "image" && o.Path == "system.system":
				m.System = &f
			case (len(step) > 3 && step[:3] == "pd-") || (len(step) > 5 && step[:5] == "sddf-" && step != "sddf-util"):
				m.Components = append(m.Components, f)
			}
		}
	}
	sort.Slice(m.Outputs, func(i, j int) bool { return m.Outputs[i].Path < m.Outputs[j].Path })
	sort.Slice(m.Components, func(i, j int) bool { return m.Components[i].Path < m.Components[j].Path })
	if err := writeFootprint(dir, r, b, config, fetched, res); err != nil {
		return err
	}
	if f, err := DescribeFile(dir, "report.json"); err == nil {
		m.Report = &f
	}
	data, err := Canonical(m)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "manifest.json"), data, 0o644); err != nil {
		return err
	}
	return WriteAttestations(dir, &m)
}

// writeFootprint writes report.json: each PD's footprint in the system as
// built (the composed one, for sDDF systems).
func writeFootprint(dir string, r *recipe.Recipe, b *boards.Board, config string, fetched map[string]builder.Fetched, res *builder.Result) error {
	sysFile := ""
	for _, o := range res.Outputs["image"] {
		if o.Path == "system.system" {
			sysFile = filepath.Join(dir, "image", "system.system")
		}
	}
	if sysFile == "" && r.System.SDF != "" {
		sysFile = filepath.Join(r.Dir, filepath.FromSlash(r.System.SDF))
		if r.System.Source != "" {
			sysFile = filepath.Join(fetched[r.System.Source].Dir, filepath.FromSlash(r.System.SDF))
		}
	}
	if sysFile == "" {
		return nil
	}
	fp, err := FootprintOf(b, config, r.SDK.Version, sysFile, footprintPrograms(dir, res))
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	data, err := json.MarshalIndent(fp, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644)
}

// ReadManifest reads a build directory's manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return &m, nil
}
