package sddf

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Driver is one sDDF driver as its config.json describes it: the
// device-tree compatible strings it drives and the resources it needs.
type Driver struct {
	Class      string // serial, timer, network, blk, i2c, gpu
	Dir        string // under drivers/, e.g. serial/arm
	Compatible []string
	Regions    []DriverRegion
	IRQs       []DriverIRQ
}

// DriverRegion is a memory region a driver maps: a device register window
// (DTIndex names the node's reg entry) or memory it allocates.
type DriverRegion struct {
	Name    string `json:"name"`
	Perms   string `json:"perms"`
	Size    uint64 `json:"size"`
	DTIndex *int   `json:"dt_index"`
	Cached  bool   `json:"cached"`
}

// DriverIRQ is an interrupt a driver takes, by its index in the node's
// interrupts.
type DriverIRQ struct {
	DTIndex int `json:"dt_index"`
}

type driverConfig struct {
	Compatible []string `json:"compatible"`
	Resources  struct {
		Regions []DriverRegion `json:"regions"`
		IRQs    []DriverIRQ    `json:"irqs"`
	} `json:"resources"`
}

// LoadDrivers reads every drivers/CLASS/…/config.json of an sDDF tree, so
// drivers are matched against the pinned revision's own list.
func LoadDrivers(tree fs.FS) ([]Driver, error) {
	var out []Driver
	var problems []string
	err := fs.WalkDir(tree, "drivers", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "config.json" {
			return nil
		}
		data, err := fs.ReadFile(tree, p)
		if err != nil {
			return err
		}
		var c driverConfig
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		dir := strings.TrimPrefix(path.Dir(p), "drivers/")
		class, _, _ := strings.Cut(dir, "/")
		if len(c.Compatible) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no compatible strings", p))
			return nil
		}
		out = append(out, Driver{Class: class, Dir: dir, Compatible: c.Compatible, Regions: c.Resources.Regions, IRQs: c.Resources.IRQs})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading sDDF's drivers: %w", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sDDF's driver configs: %s", strings.Join(problems, "; "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the sDDF tree has no drivers/*/…/config.json")
	}
	return out, nil
}

// MatchDriver picks the class's driver for a device-tree node: the first of
// the node's compatible strings (most specific first) that a driver lists.
// Two drivers listing it is an error, as is none.
func MatchDriver(drivers []Driver, class string, compatible []string) (*Driver, error) {
	var ofClass []Driver
	for _, d := range drivers {
		if d.Class == class {
			ofClass = append(ofClass, d)
		}
	}
	for _, c := range compatible {
		var hits []*Driver
		for i := range ofClass {
			if slices.Contains(ofClass[i].Compatible, c) {
				hits = append(hits, &ofClass[i])
			}
		}
		switch len(hits) {
		case 0:
			continue
		case 1:
			return hits[0], nil
		default:
			return nil, fmt.Errorf("%q is listed by two %s drivers, %s and %s", c, class, hits[0].Dir, hits[1].Dir)
		}
	}
	var known []string
	for _, d := range ofClass {
		known = append(known, fmt.Sprintf("%s (%s)", d.Dir, strings.Join(d.Compatible, ", ")))
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("this sDDF has no %s drivers", class)
	}
	quoted := make([]string, len(compatible))
	for i, c := range compatible {
		quoted[i] = strconv.Quote(c)
	}
	return nil, fmt.Errorf("no %s driver in this sDDF drives %s; its %s drivers: %s", class, strings.Join(quoted, " or "), class, strings.Join(known, "; "))
}
