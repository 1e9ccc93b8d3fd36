// Package deployment reads deployment files: the systems of the OS family
// that run together (each a recipe built for a board, in a zone), the
// links between them and which way they carry commands or telemetry, and
// the code that must be absent from lower zones' binaries. It checks the
// Diode across systems: commands go down the zones, telemetry comes up.
package deployment

import (
	"github.com/pointsav/plinth/internal/strictyaml"
	"github.com/pointsav/plinth/recipe"
)

// Deployment is one deployment file.
type Deployment struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Name        string    `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9-]{0,39}$" patterndoc:"a name of lower-case letters, digits and '-'" doc:"The deployment's name; its artifacts go to out/deployments/<name>/."`
	Description string    `yaml:"description" json:"description" required:"true" doc:"One line saying what runs together."`
	Zones       []string  `yaml:"zones" json:"zones" required:"true" doc:"The zones, highest first: commands flow down this list and telemetry up it."`
	Systems     []*System `yaml:"systems" json:"systems" required:"true" doc:"The systems: each a recipe built for a board, placed in a zone."`
	Links       []*Link   `yaml:"links" json:"links,omitempty" doc:"The network links between systems and what each carries, which way."`
	Absent      []*Absent `yaml:"absent" json:"absent,omitempty" doc:"Code that must be absent from every protection domain of the zones named: plinth build fails naming the PD, the symbol and this rule."`
	Expect      *Expect   `yaml:"expect" json:"expect,omitempty" doc:"What plinth run of the deployment must show: steps across the systems, in order."`

	// File is where the deployment was read from.
	File string `yaml:"-" json:"-"`
}

// Doc describes a deployment file.
func (Deployment) Doc() string {
	return "A plinth deployment: systems of the OS family built and booted together, their links and the Diode's rules."
}

// System is one system of a deployment: an instance of a recipe.
type System struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Name   string `yaml:"name" json:"name" required:"true" pattern:"^[a-z0-9][a-z0-9-]{0,39}$" patterndoc:"a name of lower-case letters, digits and '-'" doc:"The instance's name, unique in the deployment."`
	Recipe string `yaml:"recipe" json:"recipe" required:"true" doc:"The recipe: a shipped one's name, or a directory relative to this file."`
	Board  string `yaml:"board" json:"board" required:"true" doc:"The board it runs on (a name from plinth boards)."`
	Config string `yaml:"config" json:"config,omitempty" doc:"The kernel configuration (default: the recipe's first)."`
	Zone   string `yaml:"zone" json:"zone" required:"true" doc:"Its zone, one of zones."`
	// Address is the instance's IPv4 address on the deployment's network.
	Address string `yaml:"address" json:"address,omitempty" pattern:"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$" patterndoc:"an IPv4 address" doc:"The instance's IPv4 address on the deployment's network."`
	// LedgerBlocks sizes a vault's ledger.
	LedgerBlocks uint32 `yaml:"ledger_blocks" json:"ledger_blocks,omitempty" doc:"For a vault: the blocks of its disk its ledger may use."`
}

// Carries is what a link carries.
type Carries string

// Values lists what a link may carry.
func (Carries) Values() []string { return []string{"commands", "telemetry"} }

// Link is a one-way network link between two systems.
type Link struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	From    string  `yaml:"from" json:"from" required:"true" doc:"The system that sends."`
	To      string  `yaml:"to" json:"to" required:"true" doc:"The system that receives."`
	Carries Carries `yaml:"carries" json:"carries" required:"true" doc:"commands (only down the zones) or telemetry (only up)."`
}

// Absent is code that must not be in any PD of the zones it names.
type Absent struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Zones    []string `yaml:"zones" json:"zones" required:"true" doc:"The zones whose protection domains must not hold the code."`
	Crates   []string `yaml:"crates" json:"crates,omitempty" doc:"Rust crates (as their symbols name them, e.g. diode_upper) none of whose symbols may be linked."`
	Symbols  []string `yaml:"symbols" json:"symbols,omitempty" doc:"Symbols (C names, or Rust paths such as diode_upper::encode_command) that may not be linked."`
	Sections []string `yaml:"sections" json:"sections,omitempty" doc:"ELF sections that may not be present (a crate's marker, e.g. .diode.upper)."`
	Why      string   `yaml:"why" json:"why,omitempty" doc:"Why, for the error message."`
}

// Expect is a run's script: steps across the systems, in order, within
// the timeout.
type Expect struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	Timeout recipe.Duration `yaml:"timeout" json:"timeout" required:"true" doc:"How long the whole script may take, e.g. 90s."`
	Steps   []*Step         `yaml:"steps" json:"steps" required:"true" doc:"Each step waits for a text on a system's console, types on it, or restarts it (its disk kept)."`
}

// Step is one step of a run's script: exactly one of text, send, reboot.
type Step struct {
	Meta strictyaml.Meta `yaml:"-" json:"-"`

	System string `yaml:"system" json:"system" required:"true" doc:"The system whose console the step is about."`
	Text   string `yaml:"text" json:"text,omitempty" doc:"A text to wait for on its console, among what it printed since the last text typed on it (or since it started)."`
	Send   string `yaml:"send" json:"send,omitempty" doc:"Text to type on its console (\\r for Enter)."`
	Reboot bool   `yaml:"reboot" json:"reboot,omitempty" doc:"Restart the system's emulator; its disk is kept."`
}
