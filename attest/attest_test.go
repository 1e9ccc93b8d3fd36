package attest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita "github.com/in-toto/attestation/go/v1"
	"github.com/pointsav/plinth/builder"
	"google.golang.org/protobuf/encoding/protojson"
)

func attestManifest() *Manifest {
	img := ManifestFile{Path: "image/loader.img", SHA256: strings.Repeat("a", 64), SHA512: strings.Repeat("b", 128), Size: 10}
	elf := ManifestFile{Path: "pd-hello/hello.elf", SHA256: strings.Repeat("c", 64), SHA512: strings.Repeat("d", 128), Size: 5}
	return &Manifest{
		Type: ManifestType, Plinth: "test", Board: "qemu_virt_aarch64", Config: "debug",
		Recipe: ManifestRecipe{Name: "hello", SHA256: strings.Repeat("e", 64)},
		Sources: []ManifestSource{
			{Name: "microkit", Git: "https://github.com/seL4/microkit", Ref: "2.0.1", Digest: "git-3f71a5e4effed7551a02fda77151223822060c46", License: "BSD-2-Clause", Epoch: 1742517154},
			{Name: "sdk-release", URL: "https://example.org/sdk.tar.gz", SHA256: strings.Repeat("f", 64), Digest: builder.Digest(strings.Repeat("f", 64))},
			{Name: "here", Path: ".", Digest: builder.Digest(strings.Repeat("9", 64))},
		},
		Tools: []builder.Tool{{Name: "aarch64-linux-gnu-gcc", Path: "/usr/bin/aarch64-linux-gnu-gcc", Version: "12.2.0", Digest: builder.Digest(strings.Repeat("1", 64))}},
		Image: &img, Components: []ManifestFile{elf}, Outputs: []ManifestFile{img, elf},
	}
}

// The SBOM names every pinned source (with its pin and licence) and every
// output, dates itself by its sources (so two builds give the same bytes),
// and is valid SPDX 2.3 where the schema is at hand (PLINTH_SPDX_SCHEMA).
func TestSBOM(t *testing.T) {
	m := attestManifest()
	doc, err := Canonical(SBOM(m))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Canonical(SBOM(attestManifest()))
	if string(doc) != string(again) {
		t.Error("two SBOMs of one build differ")
	}
	for _, want := range []string{
		`"downloadLocation":"git+https://github.com/seL4/microkit@3f71a5e4effed7551a02fda77151223822060c46"`,
		`"licenseDeclared":"BSD-2-Clause"`,
		`"downloadLocation":"https://example.org/sdk.tar.gz"`,
		`"primaryPackagePurpose":"FIRMWARE"`,
		`"relatedSpdxElement":"SPDXRef-Output-pd-hello-hello.elf","relationshipType":"CONTAINS","spdxElementId":"SPDXRef-Package-image-qemu-virt-aarch64-debug"`,
		`"created":"2025-03-21T00:32:34Z"`,
		`"name":"here"`,
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("SBOM lacks %s:\n%s", want, doc)
		}
	}
	schema := os.Getenv("PLINTH_SPDX_SCHEMA")
	if schema == "" {
		t.Log("PLINTH_SPDX_SCHEMA not set: the SPDX 2.3 JSON schema is not checked")
		return
	}
	path := filepath.Join(t.TempDir(), "sbom.json")
	os.WriteFile(path, doc, 0o644)
	out, err := exec.Command("python3", "-c", "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))", schema, path).CombinedOutput()
	if err != nil {
		t.Errorf("not valid SPDX 2.3: %v\n%s", err, out)
	}
}

// The provenance is a valid in-toto statement with a valid SLSA v1
// predicate (checked by the in-toto attestation library's own validation),
// about the image, with every pinned source a resolved dependency.
func TestProvenance(t *testing.T) {
	m := attestManifest()
	data, err := StatementFor(m, SLSAProvenancePredicate, Provenance(m))
	if err != nil {
		t.Fatal(err)
	}
	var st ita.Statement
	if err := protojson.Unmarshal(data, &st); err != nil {
		t.Fatalf("not an in-toto statement: %v\n%s", err, data)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	raw, _ := st.GetPredicate().MarshalJSON()
	var prov slsa.Provenance
	if err := protojson.Unmarshal(raw, &prov); err != nil {
		t.Fatalf("not SLSA v1 provenance: %v", err)
	}
	if err := prov.Validate(); err != nil {
		t.Fatal(err)
	}
	if st.GetSubject()[0].GetDigest()["sha256"] != m.Image.SHA256 {
		t.Errorf("subject %v", st.GetSubject())
	}
	uris := map[string]bool{}
	for _, d := range prov.GetBuildDefinition().GetResolvedDependencies() {
		uris[d.GetName()] = true
	}
	for _, s := range m.Sources {
		if !uris[s.Name] {
			t.Errorf("source %s is not a resolved dependency", s.Name)
		}
	}
	var params map[string]any
	b, _ := json.Marshal(prov.GetBuildDefinition().GetExternalParameters())
	json.Unmarshal(b, &params)
	if params["board"] != "qemu_virt_aarch64" || prov.GetBuildDefinition().GetBuildType() != BuildType {
		t.Errorf("build definition %v", params)
	}
}

// A footprint diff names each PD that came, went or changed, with the
// sizes before and after.
func TestFootprintDiff(t *testing.T) {
	old := &Footprint{PDs: []PDFootprint{{Name: "client", Code: 1000, Data: 200, Stack: 4096}, {Name: "gone", Code: 1}}}
	new := &Footprint{PDs: []PDFootprint{{Name: "client", Code: 1200, Data: 200, Stack: 8192, Channels: []uint64{0}}, {Name: "driver", Code: 50, Data: 5, Stack: 4096, Mapped: 4096}}}
	got := strings.Join(new.Diff(old), "\n")
	want := "~ client: code 1000 -> 1200 (+200); stack 4096 -> 8192 (+4096); channels 0 -> 1 (+1)\n+ driver: code 50, data 5, stack 4096, mapped 4096\n- gone"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if d := new.Diff(new); len(d) != 0 {
		t.Errorf("a footprint differs from itself: %v", d)
	}
}
