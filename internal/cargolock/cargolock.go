// Package cargolock reads a Cargo.lock as a list of pins: each crates.io
// package by the sha256 of its .crate archive (the lock's checksum), each
// git package by the commit the lock records. Local (path) packages need no
// pin and are left out. A lock that pins something plinth cannot check (a
// registry other than crates.io, a git package without a commit, a crates.io
// package without a checksum) is refused, every such package named at its
// line.
package cargolock

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/safename"
)

// CratesIO is how a lock names crates.io (whichever protocol fetched it).
const CratesIO = "registry+https://github.com/rust-lang/crates.io-index"

// Package is one pinned package of a lock.
type Package struct {
	Name    string
	Version string
	// Checksum is the sha256 of the .crate archive (crates.io packages).
	Checksum string
	// Git and Commit are the repository and commit of a git package.
	Git    string
	Commit string
	Pos    diag.Pos
}

// Registry says whether the package comes from crates.io.
func (p Package) Registry() bool { return p.Checksum != "" }

// Dir is the package's directory name in a cargo vendor directory.
func (p Package) Dir() string { return p.Name + "-" + p.Version }

type lockFile struct {
	Version  int `toml:"version"`
	Packages []struct {
		Name     string `toml:"name"`
		Version  string `toml:"version"`
		Source   string `toml:"source"`
		Checksum string `toml:"checksum"`
	} `toml:"package"`
	Metadata map[string]string `toml:"metadata"`
}

var (
	crateName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	version   = regexp.MustCompile(`^[0-9A-Za-z.+-]+$`)
)

// Parse reads a lock's text; file names it in diagnostics.
func Parse(file string, data []byte) ([]Package, error) {
	var lf lockFile
	var d diag.List
	if err := toml.Unmarshal(data, &lf); err != nil {
		pos := diag.Pos{File: file, Line: 1, Col: 1}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			pos.Line, pos.Col = de.Position()
		}
		d.Errorf(pos, "%s is not a Cargo.lock cargo wrote: %v", file, err)
		return nil, d.Err()
	}
	if len(lf.Metadata) > 0 && lf.Version < 3 {
		d.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, "a lock of the first format (checksums under [metadata]): regenerate it with a newer cargo (cargo update --workspace keeps the versions)")
		return nil, d.Err()
	}
	lines := packageLines(data)
	var out []Package
	for i, raw := range lf.Packages {
		pos := diag.Pos{File: file, Line: 1, Col: 1}
		if i < len(lines) {
			pos.Line = lines[i]
		}
		p := Package{Name: raw.Name, Version: raw.Version, Pos: pos}
		if !crateName.MatchString(raw.Name) || !version.MatchString(raw.Version) || safename.Name(p.Dir()) != nil {
			d.Errorf(pos, "package %q version %q: not a crate name and version", diag.Clip(raw.Name), diag.Clip(raw.Version))
			continue
		}
		switch {
		case raw.Source == "":
			continue // a package of the workspace or a path dependency: its source is the component's
		case raw.Source == CratesIO:
			if safename.Hex(raw.Checksum, 64) != nil {
				d.Errorf(pos, "%s %s from crates.io has no checksum: without one its archive cannot be checked; let cargo write the lock (cargo generate-lockfile)", raw.Name, raw.Version)
				continue
			}
			p.Checksum = raw.Checksum
		case strings.HasPrefix(raw.Source, "git+"):
			u, err := url.Parse(strings.TrimPrefix(raw.Source, "git+"))
			if err != nil || safename.Hex(u.Fragment, 40) != nil {
				d.Errorf(pos, "%s %s: the git source %q records no full commit", raw.Name, raw.Version, diag.Clip(raw.Source))
				continue
			}
			p.Commit = u.Fragment
			u.Fragment, u.RawQuery = "", ""
			p.Git = u.String()
		default:
			d.Errorf(pos, "%s %s comes from %q: plinth pins crates.io packages and git packages only", raw.Name, raw.Version, diag.Clip(raw.Source))
			continue
		}
		out = append(out, p)
	}
	if err := d.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// packageLines are the lines of the [[package]] headers, in order.
func packageLines(data []byte) []int {
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "[[package]]" {
			lines = append(lines, n)
		}
	}
	return lines
}

// CrateURL is where a crates.io package's archive is downloaded from, under
// a registry's download prefix (https://static.crates.io/crates for
// crates.io; a mirror directory laid out as NAME/NAME-VERSION.crate works
// with the same prefix rewritten).
func CrateURL(prefix string, p Package) string {
	return fmt.Sprintf("%s/%s/%s.crate", strings.TrimSuffix(prefix, "/"), p.Name, p.Dir())
}
