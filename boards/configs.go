package boards

import (
	"fmt"
	"sort"
	"strconv"
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

func (b *Board) configInfos() []ConfigInfo {
	var out []ConfigInfo
	for _, name := range b.ConfigNames() {
		c := b.Configs[name]
		opts, _ := b.KernelOptions(name)
		out = append(out, ConfigInfo{Name: name, Description: c.Description, SMP: c.SMP, Debug: c.Debug, KernelOptions: opts})
	}
	return out
}
