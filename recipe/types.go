package recipe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pointsav/plinth/internal/strictyaml"
	"github.com/pointsav/plinth/sdf"
	"go.yaml.in/yaml/v3"
)

// Recipe is one recipe file.
type Recipe struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Name        string             `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9._-]*$" patterndoc:"a recipe name (lower-case letters, digits, '.', '_' and '-')" doc:"The recipe's name; artifacts go to out/<name>/<board>/<config>/."`
	Description string             `yaml:"description" json:"description" required:"true" doc:"One line saying what the recipe builds."`
	Boards      []string           `yaml:"boards" json:"boards" required:"true" doc:"The boards the recipe supports (names from plinth boards)."`
	Configs     []string           `yaml:"configs" json:"configs" required:"true" doc:"The kernel configurations to build (debug, release, benchmark, smp-*); each must exist on every board listed."`
	Sources     map[string]*Source `yaml:"sources" json:"sources" required:"true" doc:"Named sources, each pinned: a git URL and full commit, an archive URL and sha256, or a local path."`
	SDK         SDK                `yaml:"sdk" json:"sdk" doc:"The Microkit SDK: built from pinned sources, a pinned release tarball, or an existing SDK directory. Needed to make an image (with system)."`
	Components  []Component        `yaml:"components" json:"components,omitempty" doc:"The protection domains to compile (C or Rust)."`
	System      System             `yaml:"system" json:"system" doc:"The Microkit system description; with it (and sdk), the build makes the image. A recipe without it runs only its steps."`
	Outputs     Outputs            `yaml:"outputs" json:"outputs,omitempty" doc:"Names and formats of what the build writes."`
	Expect      *Expect            `yaml:"expect" json:"expect,omitempty" doc:"What a run in the board's emulator must show."`
	Toolchain   map[string]string  `yaml:"toolchain" json:"toolchain,omitempty" doc:"The C cross-compiler prefix per architecture (aarch64, riscv64, x86_64), e.g. aarch64-linux-gnu-; default: the first found of the usual ones."`
	Steps       []Step             `yaml:"steps" json:"steps,omitempty" doc:"Further build steps: commands run in a hermetic work directory, cached by their inputs."`
	UBoot       *UBoot             `yaml:"uboot" json:"uboot,omitempty" doc:"Build U-Boot for the board from a pinned source (upstream git, or Debian's u-boot source package): the board file's defconfig and configuration, with what plinth's boot chain needs (FIT signatures, measured boot, boot counting); with --boot-key, the key is put in its control device tree. plinth run --boot uboot boots with it."`
	Update      *Update            `yaml:"update" json:"update,omitempty" doc:"Field updates: the version a build's disk starts with in slot A (plinth bundle create takes it as the bundle's version too)."`
	SDDF        *SDDF              `yaml:"sddf" json:"sddf,omitempty" doc:"sDDF device classes plinth composes onto the system: their drivers built from the pinned sDDF tree, wired to the clients named here."`
	CratesURL   string             `yaml:"crates_url" json:"crates_url,omitempty" doc:"Where crates pinned by a Cargo.lock are downloaded from: a URL prefix under which each is NAME/NAME-VERSION.crate (default https://static.crates.io/crates, crates.io's). A mirror map can rewrite the prefix to a directory of .crate files."`
	Policy      *sdf.Policy        `yaml:"policy" json:"policy,omitempty" doc:"A one-way information-flow policy the system must keep: zones of protection domains, highest first, and the telemetry regions that may carry data up."`

	// File is where the recipe was read from (for diagnostics), Dir the
	// directory local paths are relative to, Lock its lock file if any.
	File string `yaml:"-" json:"-"`
	Dir  string `yaml:"-" json:"-"`
	Lock *Lock  `yaml:"-" json:"-"`
}

// Doc describes a recipe file.
func (Recipe) Doc() string {
	return "A plinth recipe: which pinned sources, SDK, components and system description make a Microkit image for which boards."
}

// Source is a pinned source tree.
type Source struct {
	Meta       strictyaml.Meta `yaml:"-" json:"-"`
	Git        string          `yaml:"git" json:"git,omitempty" doc:"A git repository URL."`
	Commit     string          `yaml:"commit" json:"commit,omitempty" pattern:"^[0-9a-f]{40}$" patterndoc:"a full 40-digit lower-case hex commit id" doc:"The full commit id the git source is pinned to."`
	Ref        string          `yaml:"ref" json:"ref,omitempty" doc:"The tag or branch the commit was taken from (for people; the commit is what is used)."`
	Submodules bool            `yaml:"submodules" json:"submodules,omitempty" doc:"Also fetch the repository's submodules, at the commits it records."`
	Archive    string          `yaml:"archive" json:"archive,omitempty" doc:"An archive URL (tar, tar.gz, tar.bz2, tar.xz, tar.zst, zip)."`
	SHA256     string          `yaml:"sha256" json:"sha256,omitempty" pattern:"^[0-9a-f]{64}$" patterndoc:"a 64-digit lower-case hex SHA-256" doc:"The archive's SHA-256."`
	Strip      int             `yaml:"strip" json:"strip,omitempty" doc:"Leading path components to drop when extracting the archive."`
	Path       string          `yaml:"path" json:"path,omitempty" doc:"A local directory, relative to the recipe file; it is content-hashed."`
	License    string          `yaml:"license" json:"license,omitempty" doc:"The source's licence as an SPDX expression (e.g. BSD-2-Clause), for the build's SBOM; NOASSERTION there when absent."`
}

// Kind says which of git, archive or path the source is.
func (s *Source) Kind() string {
	switch {
	case s.Git != "":
		return "git"
	case s.Archive != "":
		return "archive"
	case s.Path != "":
		return "path"
	}
	return ""
}

// SDK says where the Microkit SDK comes from.
type SDK struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Version string          `yaml:"version" json:"version" required:"concrete" pattern:"^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.+-]+)?$" patterndoc:"a Microkit version like 2.0.1" doc:"The Microkit version; it selects the system-description dialect and the SDK layout."`
	Build   *SDKBuild       `yaml:"build" json:"build,omitempty" doc:"Build the SDK from pinned sources."`
	Release *SDKRelease     `yaml:"release" json:"release,omitempty" doc:"Use a pinned SDK release tarball."`
	Path    string          `yaml:"path" json:"path,omitempty" doc:"Use an SDK already on this machine (not reproducible elsewhere)."`
}

// SDKBuild builds the SDK from source: each board/configuration's runtime
// from seL4 and Microkit with the board file's kernel options.
type SDKBuild struct {
	Meta       strictyaml.Meta   `yaml:"-" json:"-"`
	Microkit   string            `yaml:"microkit" json:"microkit" required:"true" doc:"The source holding Microkit."`
	SeL4       string            `yaml:"sel4" json:"sel4" required:"true" doc:"The source holding seL4."`
	PythonPath []string          `yaml:"python_path" json:"python_path,omitempty" doc:"Sources put on PYTHONPATH for the kernel build (e.g. pyfdt)."`
	Tool       bool              `yaml:"tool" json:"tool,omitempty" doc:"Also build the Microkit host tool with cargo, offline."`
	ToolCrates map[string]string `yaml:"tool_crates" json:"tool_crates,omitempty" doc:"The crates the tool needs, each as SOURCE or SOURCE/DIR (a pinned source holding the crate at the version the tool's Cargo.lock names); cargo builds offline from them."`
	ToolLock   string            `yaml:"tool_lock" json:"tool_lock,omitempty" doc:"The Cargo.lock in the microkit source that pins the tool's crates (e.g. tool/microkit/Cargo.lock, or Cargo.lock from Microkit 2.1): each crates.io package is fetched as its .crate archive and checked against the lock's checksum, each git package at its locked commit, instead of listing them in tool_crates."`

	// ToolVendor and ToolGit are what ToolLock resolved to (set by the
	// build, not read from the file): crate archive sources, and git
	// crates as tool_crates entries.
	ToolVendor []string          `yaml:"-" json:"tool_vendor,omitempty"`
	ToolGit    map[string]string `yaml:"-" json:"tool_git,omitempty"`
}

// SDKRelease is a Microkit SDK release tarball.
type SDKRelease struct {
	Meta   strictyaml.Meta `yaml:"-" json:"-"`
	URL    string          `yaml:"url" json:"url" required:"true" doc:"The tarball's URL."`
	SHA256 string          `yaml:"sha256" json:"sha256" required:"true" pattern:"^[0-9a-f]{64}$" patterndoc:"a 64-digit lower-case hex SHA-256" doc:"Its SHA-256."`
}

// Lang is a component's language.
type Lang string

// Values lists the languages.
func (Lang) Values() []string { return []string{"c", "rust"} }

// Component is one protection domain program.
type Component struct {
	Meta      strictyaml.Meta   `yaml:"-" json:"-"`
	Name      string            `yaml:"name" json:"name" required:"true" pattern:"^[A-Za-z0-9_][A-Za-z0-9_.-]*$" patterndoc:"a component name (letters, digits, '_', '.' and '-')" doc:"The component's name."`
	Lang      Lang              `yaml:"lang" json:"lang" required:"true" doc:"c or rust."`
	Source    string            `yaml:"source" json:"source" required:"true" doc:"The source holding the component."`
	Dir       string            `yaml:"dir" json:"dir,omitempty" doc:"Its directory inside the source."`
	Srcs      []string          `yaml:"srcs" json:"srcs,omitempty" doc:"C files, relative to dir."`
	Include   []string          `yaml:"include" json:"include,omitempty" doc:"Include directories, relative to dir."`
	CFlags    []string          `yaml:"cflags" json:"cflags,omitempty" doc:"Extra C compiler flags."`
	LDFlags   []string          `yaml:"ldflags" json:"ldflags,omitempty" doc:"Extra linker flags."`
	Package   string            `yaml:"package" json:"package,omitempty" doc:"The cargo package to build (Rust)."`
	Features  []string          `yaml:"features" json:"features,omitempty" doc:"Cargo features (Rust)."`
	Target    string            `yaml:"target" json:"target,omitempty" doc:"The Rust target: a triple or a target-spec name such as {arch}-sel4-microkit-minimal ({arch} is the board's architecture); when absent, the board's bare-metal target (aarch64-unknown-none, riscv64gc-unknown-none-elf, x86_64-unknown-none), for which the PD is a static library linked against libmicrokit."`
	BuildStd  []string          `yaml:"build_std" json:"build_std,omitempty" doc:"Standard crates cargo builds for the target (-Z build-std, e.g. core, alloc; core when absent for a bare-metal target), from the toolchain's own source (Debian's rust-web-src)."`
	Crates    map[string]string `yaml:"crates" json:"crates,omitempty" doc:"The crates the component depends on, each as SOURCE or SOURCE/DIR (a pinned source holding it); a git dependency is keyed URL#crate. cargo builds offline from these alone."`
	CargoLock string            `yaml:"cargo_lock" json:"cargo_lock,omitempty" doc:"The Cargo.lock (relative to dir) that pins the component's crates: each crates.io package is fetched as its .crate archive (from crates_url, or a mirror) and checked against the lock's checksum, each git package as a git source at its locked commit; cargo then builds offline from them. Instead of listing crates by hand."`
	// Vendor and LockedGit are what CargoLock resolved to (set by the
	// build, not read from the file): the crate archive sources laid out
	// as a cargo vendor directory, and the git crates as crates entries.
	Vendor     []string          `yaml:"-" json:"vendor,omitempty"`
	LockedGit  map[string]string `yaml:"-" json:"locked_git,omitempty"`
	Output     string            `yaml:"output" json:"output,omitempty" doc:"The ELF file the system description names (default <name>.elf)."`
	Libc       string            `yaml:"libc" json:"libc,omitempty" pattern:"^picolibc$" patterndoc:"picolibc (the one C library plinth knows)" doc:"A C library to compile and link against: picolibc (Debian's picolibc-<triple> for the toolchain). Microkit sets up no thread pointer, so its functions that keep state in thread-local storage (rand, errno) fault; provide your own through recipe_srcs."`
	RecipeSrcs []string          `yaml:"recipe_srcs" json:"recipe_srcs,omitempty" doc:"C files in the recipe's own directory compiled with the component (glue the upstream tree lacks)."`
	SDDFUtil   string            `yaml:"sddf_util" json:"sddf_util,omitempty" doc:"Compile against sDDF's headers and link its util library: debug (output through the kernel's debug console) or serial (through the serial virtualiser). Needs the recipe's sddf section."`
}

// ELF is the file name the component produces.
func (c *Component) ELF() string {
	if c.Output != "" {
		return c.Output
	}
	return c.Name + ".elf"
}

// SDDF is the sDDF part of a recipe.
type SDDF struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Source  string          `yaml:"source" json:"source" required:"true" doc:"The source holding sDDF (pinned, like every source)."`
	Release string          `yaml:"release" json:"release" required:"true" doc:"The sDDF release the source is, for its config layouts (0.6.0 goes with Microkit 2.0.1, 0.7.0 with 2.3.0)."`
	Timer   *SDDFClass      `yaml:"timer" json:"timer,omitempty" doc:"The board's timer: a passive driver its clients call."`
	Blk     *SDDFBlk        `yaml:"blk" json:"blk,omitempty" doc:"The board's block device: its driver and sDDF's block virtualiser, each client seeing one MBR partition; and the disk image plinth makes for the emulator."`
	I2C     *SDDFClass      `yaml:"i2c" json:"i2c,omitempty" doc:"The board's I²C bus: its driver and sDDF's passive I²C virtualiser, which the clients call (sDDF 0.6.0's layout; clients below priority 2)."`
	Network *SDDFNet        `yaml:"network" json:"network,omitempty" doc:"The board's network device: its driver, sDDF's receive and transmit virtualisers and a copier per client (sDDF 0.6.0's layout)."`
	Serial  *SDDFSerial     `yaml:"serial" json:"serial,omitempty" doc:"The board's serial port: its driver, a transmit and (with rx) a receive virtualiser, shared by the clients."`
}

// SDDFNet is the network class of a system.
type SDDFNet struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Clients []SDDFNetClient `yaml:"clients" json:"clients" required:"true" doc:"The protection domains that send and receive, each with its own program file and a priority below the copiers' 98."`
}

// SDDFNetClient is one client of the network device.
type SDDFNetClient struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Name string          `yaml:"name" json:"name" required:"true" doc:"The protection domain."`
	MAC  string          `yaml:"mac" json:"mac,omitempty" pattern:"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$" patterndoc:"a MAC address like 02:00:00:00:00:01" doc:"Its MAC address (unicast); default: one derived from its name, locally administered, the same every build."`
	Lwip bool            `yaml:"lwip" json:"lwip,omitempty" doc:"It uses sDDF's lwIP glue: give it a pbuf pool (.lib_sddf_lwip_config)."`
}

// SDDFBlk is the block class of a system.
type SDDFBlk struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Clients []SDDFBlkClient `yaml:"clients" json:"clients" required:"true" doc:"The protection domains that use the disk, each through one partition; at most 64, each with its own program file."`
	Disk    *Disk           `yaml:"disk" json:"disk,omitempty" doc:"A disk image plinth makes (an MBR and its partitions, zero-filled) and attaches in the board's emulator; written as disk.img beside the image."`
}

// SDDFBlkClient is one client of the block device.
type SDDFBlkClient struct {
	Meta          strictyaml.Meta `yaml:"-" json:"-"`
	Name          string          `yaml:"name" json:"name" required:"true" doc:"The protection domain."`
	Partition     int             `yaml:"partition" json:"partition,omitempty" doc:"The MBR partition (0-3) the client sees as its disk (default 0)."`
	QueueCapacity int             `yaml:"queue_capacity" json:"queue_capacity,omitempty" doc:"Requests the client may have in flight (default 128; all clients together at most 1024)."`
	DataSize      Size            `yaml:"data_size" json:"data_size,omitempty" doc:"Its DMA data region, a multiple of 4 KiB (default 2MiB)."`
}

// Disk is a disk image with an MBR partition table.
type Disk struct {
	Meta       strictyaml.Meta `yaml:"-" json:"-"`
	Size       Size            `yaml:"size" json:"size" required:"true" doc:"The image's size, e.g. 16MiB (a multiple of 512 bytes)."`
	Partitions []DiskPartition `yaml:"partitions" json:"partitions" required:"true" doc:"Up to four primary partitions, placed one after another from 1 MiB, each starting on a 1 MiB boundary."`
}

// DiskPartition is one MBR partition.
type DiskPartition struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Size Size            `yaml:"size" json:"size" required:"true" doc:"Its size, e.g. 8MiB (a multiple of 4 KiB, sDDF's transfer size)."`
	Type int             `yaml:"type" json:"type,omitempty" doc:"The MBR partition type byte (default 0x83, Linux)."`
}

// Size is a number of bytes, written as a number or with a unit: 512,
// 4KiB, 16MiB, 1GiB.
type Size uint64

// UnmarshalStrict takes a number or a number with KiB, MiB or GiB.
func (s *Size) UnmarshalStrict(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a size like 4096 or 16MiB")
	}
	text := n.Value
	unit := uint64(1)
	for suffix, u := range map[string]uint64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(text, suffix) {
			text, unit = strings.TrimSuffix(text, suffix), u
		}
	}
	v, err := strconv.ParseUint(text, 0, 64)
	if err != nil || v == 0 || v > (1<<63)/unit {
		return fmt.Errorf("%q is not a size like 4096 or 16MiB", n.Value)
	}
	*s = Size(v * unit)
	return nil
}

// JSONSchema describes a Size.
func (Size) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "integer", "minimum": 1},
		map[string]any{"type": "string", "pattern": "^(0x[0-9a-fA-F]+|[0-9]+)(KiB|MiB|GiB)?$"},
	}}
}

// SDDFSerial is the serial class of a system.
type SDDFSerial struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Clients []string        `yaml:"clients" json:"clients" required:"true" doc:"The protection domains that print (and read) through the serial port; at most 64, each with its own program file."`
	Begin   *string         `yaml:"begin" json:"begin,omitempty" doc:"What the transmit virtualiser prints before any client (default \"Begin input\\n\", at most 127 bytes)."`
	Colour  *bool           `yaml:"colour" json:"colour,omitempty" doc:"Print each client's output in its own colour (default true)."`
	RX      *bool           `yaml:"rx" json:"rx,omitempty" doc:"Take input: a receive virtualiser, switched between clients with Ctrl-\\ and a client number (default true)."`
}

// SDDFClass is one device class of a system.
type SDDFClass struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Clients []string        `yaml:"clients" json:"clients" required:"true" doc:"The protection domains (of the system description) that use the device."`
}

// System names the system description.
type System struct {
	Meta   strictyaml.Meta `yaml:"-" json:"-"`
	Source string          `yaml:"source" json:"source,omitempty" doc:"The source holding the file; without it, path is relative to the recipe."`
	SDF    string          `yaml:"sdf" json:"sdf" required:"true" doc:"Path of the .system file."`
}

// Outputs names what the build writes.
type Outputs struct {
	Meta      strictyaml.Meta `yaml:"-" json:"-"`
	Image     string          `yaml:"image" json:"image,omitempty" doc:"Image file name (default loader.img)."`
	Report    string          `yaml:"report" json:"report,omitempty" doc:"Microkit report file name (default report.txt)."`
	ImageType string          `yaml:"image_type" json:"image_type,omitempty" doc:"binary, elf or uimage (default: the board's)."`
}

// Expect is what a run must show.
type Expect struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`
	Boot *BootExpect     `yaml:"boot" json:"boot,omitempty" doc:"What booting in the board's emulator must print."`
}

// BootExpect lists console output expected, in order, within a time.
type BootExpect struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Timeout Duration        `yaml:"timeout" json:"timeout" required:"true" doc:"How long the whole sequence may take, e.g. 30s."`
	Serial  []Pattern       `yaml:"serial" json:"serial" required:"true" doc:"Text expected on the serial console, in this order: a plain string matches literally; {regex: RE} matches a regular expression; {send: TEXT} types TEXT on the console once everything before it was seen."`
}

// Duration is a time written like 30s or 2m.
type Duration time.Duration

// UnmarshalStrict parses a Go duration string.
func (d *Duration) UnmarshalStrict(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return fmt.Errorf("must be a duration like 30s or 2m")
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive duration like 30s or 2m", n.Value)
	}
	*d = Duration(v)
	return nil
}

// JSONSchema describes a Duration.
func (Duration) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"}
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%q", time.Duration(d).String())), nil
}

// Pattern is expected console text: literal, or a regular expression.
type Pattern struct {
	Literal string         `json:"literal,omitempty"`
	Regex   string         `json:"regex,omitempty"`
	Send    string         `json:"send,omitempty"` // input to type, not output to see
	re      *regexp.Regexp // compiled Regex
}

// UnmarshalStrict takes a string, {regex: RE} or {send: TEXT}.
func (p *Pattern) UnmarshalStrict(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if n.Value == "" {
			return fmt.Errorf("an expected text must not be empty")
		}
		*p = Pattern{Literal: n.Value}
		return nil
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "regex" && n.Content[1].Tag == "!!str" {
		re, err := regexp.Compile(n.Content[1].Value)
		if err != nil {
			return fmt.Errorf("bad regular expression: %v", err)
		}
		*p = Pattern{Regex: n.Content[1].Value, re: re}
		return nil
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "send" && n.Content[1].Tag == "!!str" {
		if n.Content[1].Value == "" {
			return fmt.Errorf("send: the text to type must not be empty")
		}
		*p = Pattern{Send: n.Content[1].Value}
		return nil
	}
	return fmt.Errorf("must be a string (matched literally), {regex: RE} or {send: TEXT}")
}

// JSONSchema describes a Pattern.
func (Pattern) JSONSchema() map[string]any {
	return map[string]any{"oneOf": []any{
		map[string]any{"type": "string", "minLength": 1},
		map[string]any{"type": "object", "additionalProperties": false, "required": []string{"regex"},
			"properties": map[string]any{"regex": map[string]any{"type": "string"}}},
		map[string]any{"type": "object", "additionalProperties": false, "required": []string{"send"},
			"properties": map[string]any{"send": map[string]any{"type": "string", "minLength": 1}}},
	}}
}

// Find returns where the pattern first matches text, or -1, -1.
func (p Pattern) Find(text string) (start, end int) {
	if p.re != nil {
		if loc := p.re.FindStringIndex(text); loc != nil {
			return loc[0], loc[1]
		}
		return -1, -1
	}
	i := strings.Index(text, p.Literal)
	if i < 0 {
		return -1, -1
	}
	return i, i + len(p.Literal)
}

func (p Pattern) String() string {
	if p.Send != "" {
		return fmt.Sprintf("send %q", p.Send)
	}
	if p.re != nil {
		return "/" + p.Regex + "/"
	}
	return fmt.Sprintf("%q", p.Literal)
}

// Step is a command the build runs: in a private work directory holding
// copies of the sources it names (src/NAME) and the outputs of the steps it
// needs (in/STEP), producing the files it declares (in out/).
type Step struct {
	Meta    strictyaml.Meta   `yaml:"-" json:"-"`
	Name    string            `yaml:"name" json:"name" required:"true" pattern:"^[A-Za-z0-9_][A-Za-z0-9_.-]*$" patterndoc:"a step name (letters, digits, '_', '.' and '-')" doc:"The step's name."`
	Run     []string          `yaml:"run" json:"run" required:"true" doc:"The command and its arguments. {src:NAME}, {in:STEP} and {out} stand for the directories; {board}, {config} and {arch} for the build's; {prefix_map} for the compiler flag that keeps the work directory out of the output (-ffile-prefix-map)."`
	Sources []string          `yaml:"sources" json:"sources,omitempty" doc:"Sources copied into the work directory (src/NAME)."`
	Needs   []string          `yaml:"needs" json:"needs,omitempty" doc:"Steps whose outputs this one uses (in/STEP)."`
	Outputs []string          `yaml:"outputs" json:"outputs" required:"true" doc:"The files the step produces, relative to {out}; only they are kept."`
	Tools   []string          `yaml:"tools" json:"tools,omitempty" doc:"Further programs the command runs, whose identity (path, version, hash) goes into the cache key; the command itself always does."`
	Env     map[string]string `yaml:"env" json:"env,omitempty" doc:"Environment variables the command gets, besides the hermetic ones."`
}

// RegexPattern is an expected text given as a regular expression in code.
func RegexPattern(re string) Pattern {
	return Pattern{Regex: re, re: regexp.MustCompile(re)}
}

// UBoot is U-Boot built by the recipe.
type UBoot struct {
	Meta        strictyaml.Meta   `yaml:"-" json:"-"`
	Source      string            `yaml:"source" json:"source" required:"true" doc:"The source holding U-Boot's tree."`
	Dir         string            `yaml:"dir" json:"dir,omitempty" doc:"Its directory inside the source."`
	Config      []string          `yaml:"config" json:"config,omitempty" doc:"Further configuration lines (CONFIG_X=y, # CONFIG_Y is not set), after the board file's."`
	Blobs       map[string]string `yaml:"blobs" json:"blobs,omitempty" doc:"The binaries the board file's uboot.blobs names, each as SOURCE/PATH (a pinned source holding it)."`
	Firmware    string            `yaml:"firmware" json:"firmware,omitempty" doc:"The source holding the boot partition's firmware files the board file's uboot.firmware names (e.g. the Raspberry Pi's firmware repository's boot/)."`
	FirmwareDir string            `yaml:"firmware_dir" json:"firmware_dir,omitempty" doc:"Their directory inside that source."`
}

// Update is what field updates need of a recipe.
type Update struct {
	Meta    strictyaml.Meta `yaml:"-" json:"-"`
	Version uint64          `yaml:"version" json:"version" required:"true" doc:"The release's version: a whole number that rises with every release. Devices take only higher versions."`
	Confirm bool            `yaml:"confirm" json:"confirm,omitempty" doc:"Add plinth's confirming protection domain (plinth_confirm): once the system is up it marks the slot on trial good on the disk's state partition, a client of sDDF's block class (the recipe's sddf section gives the source and release; the board's block device is the disk U-Boot booted from). An image that never confirms is rolled back by U-Boot."`
}

// Confirming says whether the recipe adds plinth's confirming protection
// domain.
func (r *Recipe) Confirming() bool { return r.Update != nil && r.Update.Confirm }

// ImageName is the image's file name: the recipe's, else loader.img.
func (o Outputs) ImageName() string {
	if o.Image != "" {
		return o.Image
	}
	return "loader.img"
}
