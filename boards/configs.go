package boards

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ConfigNames lists the board's configurations: those without SMP first,
// then the smp-* ones, each group sorted.
func (b *Board) ConfigNames() []string {
	var plain, smp []string
	for name, c := range b.Configs {
		switch {
		case !c.SMP:
			plain = append(plain, name)
		case b.SMPCores > 0:
			smp = append(smp, name)
		}
	}
	sort.Strings(plain)
	sort.Strings(smp)
	return append(plain, smp...)
}

// HasConfig reports whether the board builds the named configuration.
func (b *Board) HasConfig(name string) bool {
	for _, n := range b.ConfigNames() {
		if n == name {
			return true
		}
	}
	return false
}

// KernelOptions returns every kernel option Microkit sets when it builds
// seL4 for this board and configuration, in build_sdk.py's order of
// precedence: defaults, then the configuration's options (and, for SMP
// configurations, KernelMaxNumNodes), then the board's own options.
func (b *Board) KernelOptions(config string) (map[string]Value, error) {
	c, ok := b.Configs[config]
	if !ok || !b.HasConfig(config) {
		return nil, fmt.Errorf("board %s has no configuration %q (it has: %v)", b.Name, config, b.ConfigNames())
	}
	out := map[string]Value{}
	for k, v := range b.Kernel.Defaults {
		out[k] = v
	}
	out["KernelPlatform"] = StringValue(b.Kernel.Platform)
	if b.Kernel.ARMPlatform != "" {
		out["KernelARMPlatform"] = StringValue(b.Kernel.ARMPlatform)
	}
	for k, v := range c.KernelOptions {
		out[k] = v
	}
	if c.SMP {
		out["KernelMaxNumNodes"] = StringValue(strconv.Itoa(b.SMPCores))
	}
	for k, v := range b.Kernel.Options {
		out[k] = v
	}
	return out, nil
}

// KernelOptionsFor is KernelOptions as a given Microkit release sets them:
// older releases set fewer options, or others (the board files' before
// rules change the defaults and the configuration's options; a board's own
// options still win). An empty version is the newest.
func (b *Board) KernelOptionsFor(config, version string) (map[string]Value, error) {
	out, err := b.KernelOptions(config)
	if err != nil || version == "" {
		return out, err
	}
	apply := func(changes map[string]*OptionChange) {
		for _, v := range slices.Sorted(maps.Keys(changes)) {
			if compareReleases(version, v) >= 0 {
				continue
			}
			for _, k := range changes[v].Unset {
				delete(out, k)
			}
			for k, val := range changes[v].Set {
				out[k] = val
			}
		}
	}
	apply(b.Kernel.Before)
	apply(b.Configs[config].Before)
	for k, v := range b.Kernel.Options {
		out[k] = v
	}
	return out, nil
}

// compareReleases orders Microkit versions (x.y.z, "dev" newest).
func compareReleases(a, b string) int {
	if a == b {
		return 0
	}
	if a == "dev" {
		return 1
	}
	if b == "dev" {
		return -1
	}
	pa, pb := strings.Split(strings.SplitN(a, "-", 2)[0], "."), strings.Split(strings.SplitN(b, "-", 2)[0], ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	if strings.Contains(a, "-") != strings.Contains(b, "-") {
		if strings.Contains(a, "-") {
			return -1
		}
		return 1
	}
	return len(pa) - len(pb)
}

func (b *Board) configInfos() []ConfigInfo {
	var out []ConfigInfo
	for _, name := range b.ConfigNames() {
		c := b.Configs[name]
		opts, _ := b.KernelOptions(name)
		out = append(out, ConfigInfo{Name: name, Description: c.Description, SMP: c.SMP, Debug: c.Debug, KernelOptions: opts})
	}
	return out
}

// ImageTypesFrom is the first Microkit release whose tool writes more than
// a raw binary (--image-type: binary, elf, uimage); 2.0.1's writes only
// the raw binary, whatever the board.
const ImageTypesFrom = "2.1.0"

// ImageFor is the image type the Microkit tool of a release writes by
// default for the board, and those it can write.
func (b *Board) ImageFor(version string) (ImageType, []ImageType) {
	if version != "" && compareReleases(version, ImageTypesFrom) < 0 {
		return "binary", []ImageType{"binary"}
	}
	return b.Image.Default, b.Image.Allowed
}

// BootFor is how the board boots an image of a Microkit release: the
// board file's boot facts, or those it gives for releases before a later
// one.
func (b *Board) BootFor(version string) Boot {
	if version == "" {
		return b.Boot
	}
	for _, v := range slices.SortedFunc(maps.Keys(b.Boot.Before), compareReleases) {
		if compareReleases(version, v) < 0 && b.Boot.Before[v] != nil {
			old := *b.Boot.Before[v]
			old.Meta = b.Boot.Before[v].Meta
			return old
		}
	}
	return b.Boot
}
