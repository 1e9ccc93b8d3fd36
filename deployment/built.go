package deployment

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/diode"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/internal/diag"
)

// Built is one system as built: where its build went, and its manifest.
type Built struct {
	System   *System
	Recipe   string
	Config   string
	Dir      string
	Manifest *attest.Manifest
}

// CheckAbsent scans every protection domain's ELF of every system in a
// zone an absent rule names, and reports what the rule forbids at the
// rule's line, naming the system, the PD and the symbol or section.
// It returns how many ELFs it read.
func CheckAbsent(d *Deployment, built []Built, diags *diag.List) (int, error) {
	scanned := 0
	for _, b := range built {
		var rules []diode.Rule
		var which []int
		for i, a := range d.Absent {
			if a != nil && slices.Contains(a.Zones, b.System.Zone) {
				rules = append(rules, diode.Rule{Crates: a.Crates, Symbols: a.Symbols, Sections: a.Sections})
				which = append(which, i)
			}
		}
		if len(rules) == 0 {
			continue
		}
		for _, c := range b.Manifest.Components {
			found, err := diode.Scan(filepath.Join(b.Dir, filepath.FromSlash(c.Path)), rules)
			if err != nil {
				return scanned, err
			}
			scanned++
			for _, f := range found {
				i := which[f.Rule]
				a := d.Absent[i]
				why := ""
				if a.Why != "" {
					why = ": " + a.Why
				}
				diags.Errorf(a.Meta.Pos, "absent[%d]: system %s (zone %s): PD %s holds %s, which this rule forbids in zone %s%s",
					i, b.System.Name, b.System.Zone, pdName(c.Path), f.What, b.System.Zone, why)
			}
		}
	}
	return scanned, nil
}

// pdName is a component's name as its path gives it (pd-NAME/NAME.elf).
func pdName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// Manifest is what a deployment's build says: each system's build and its
// protection domains' digests, so that the same role's binaries can be
// compared across systems and deployments.
type Manifest struct {
	Type       string           `json:"_type"`
	Deployment string           `json:"deployment"`
	Systems    []ManifestSystem `json:"systems"`
	// Scanned is how many PD ELFs the absent rules were checked against.
	Scanned int `json:"absent_code_checked_elfs"`
}

// ManifestSystem is one system in a deployment's manifest.
type ManifestSystem struct {
	Name   string                `json:"name"`
	Zone   string                `json:"zone"`
	Recipe string                `json:"recipe"`
	Board  string                `json:"board"`
	Config string                `json:"config"`
	Build  string                `json:"build"` // the build directory, relative to the manifest
	Image  *attest.ManifestFile  `json:"image,omitempty"`
	PDs    []attest.ManifestFile `json:"pds"`
}

// WriteManifest writes deployment.json in dir.
func WriteManifest(dir string, d *Deployment, built []Built, scanned int) (*Manifest, error) {
	m := &Manifest{Type: "https://github.com/pointsav/plinth/deployment/v1", Deployment: d.Name, Scanned: scanned}
	for _, b := range built {
		rel, err := filepath.Rel(dir, b.Dir)
		if err != nil {
			return nil, err
		}
		ms := ManifestSystem{Name: b.System.Name, Zone: b.System.Zone, Recipe: b.Recipe, Board: b.System.Board, Config: b.Config, Build: filepath.ToSlash(rel), Image: b.Manifest.Image}
		ms.PDs = append(ms.PDs, b.Manifest.Components...)
		m.Systems = append(m.Systems, ms)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, "deployment.json"), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("writing the deployment's manifest: %w", err)
	}
	return m, nil
}
