package pipeline

import (
	"fmt"
	"strings"

	"github.com/pointsav/plinth/builder"
)

// crossPrefixes are the C toolchains tried for each architecture, in order:
// the bare-metal ones Microkit documents, then Debian's Linux ones, which
// build freestanding code just as well.
var crossPrefixes = map[string][]string{
	"aarch64": {"aarch64-none-elf-", "aarch64-linux-gnu-"},
	"riscv64": {"riscv64-unknown-elf-", "riscv64-linux-gnu-"},
	"x86_64":  {"x86_64-linux-gnu-", "x86_64-elf-"},
}

// debianCross names the Debian package of each architecture's cross
// compiler, for the one-line error.
var debianCross = map[string]string{
	"aarch64": "gcc-aarch64-linux-gnu",
	"riscv64": "gcc-riscv64-linux-gnu",
	"x86_64":  "gcc (on an x86-64 host)",
}

// Toolchain is the C toolchain for one architecture.
type Toolchain struct {
	Arch   string
	Prefix string // e.g. aarch64-linux-gnu-
	CC, LD builder.Tool
}

// linuxPrefix says whether a toolchain prefix is a Linux cross compiler's
// (aarch64-linux-gnu- and the like), which builds position-independent
// code by default where Microkit's bare-metal parts expect none.
func linuxPrefix(prefix string) bool { return strings.HasSuffix(prefix, "-linux-gnu-") }

// FindToolchain finds the cross compiler for arch: the prefix given, or the
// first of the usual ones on the PATH.
func FindToolchain(tools *builder.Tools, arch, prefix string) (Toolchain, error) {
	candidates := crossPrefixes[arch]
	if prefix != "" {
		candidates = []string{prefix}
	}
	for _, p := range candidates {
		cc, err := tools.Identify(p + "gcc")
		if err != nil {
			continue
		}
		ld, err := tools.Identify(p + "ld")
		if err != nil {
			continue
		}
		return Toolchain{Arch: arch, Prefix: p, CC: cc, LD: ld}, nil
	}
	var names []string
	for _, p := range candidates {
		names = append(names, p+"gcc")
	}
	return Toolchain{}, fmt.Errorf("no C compiler for %s: none of %s is on PATH (Debian: apt-get install %s), or name one with toolchain.%s in the recipe",
		arch, strings.Join(names, ", "), debianCross[arch], arch)
}

// archCFlags are the flags Microkit's examples compile protection domains
// with, per architecture.
var archCFlags = map[string][]string{
	"aarch64": {"-mstrict-align"},
	"riscv64": {"-march=rv64imafdc_zicsr_zifencei", "-mabi=lp64d"},
	"x86_64":  {"-march=x86-64", "-mtune=generic"},
}
