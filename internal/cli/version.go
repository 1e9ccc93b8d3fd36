package cli

import (
	"flag"
	"fmt"
	"regexp"
	"runtime/debug"
)

// versionInfo is what plinth knows of its own build.
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

func buildVersion() versionInfo {
	v := versionInfo{Module: "github.com/pointsav/plinth", Version: "(unknown)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module, v.Version, v.Go = bi.Main.Path, bi.Main.Version, bi.GoVersion
	if v.Module == "" {
		v.Module = "github.com/pointsav/plinth"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// pseudoVersion matches what the go command stamps from a VCS checkout
// (v0.0.0-20261126212007-9b76d925e65f, with +dirty for local changes).
var pseudoVersion = regexp.MustCompile(`-(0\.)?\d{14}-[0-9a-f]{12}|\+dirty`)

// releaseVersion is the module version as it belongs in keys and manifests:
// a release's tag, or "(devel)" for anything built from a checkout, whose
// stamp depends on how it was built (make or go build, -buildvcs). The
// builder's code digest tells two checkouts apart.
func releaseVersion(v string) string {
	if v == "" || pseudoVersion.MatchString(v) {
		return "(devel)"
	}
	return v
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print plinth's version and source revision",
		setup: func(fs *flag.FlagSet) run {
			asJSON := fs.Bool("json", false, "print the version as JSON")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q", args[0]))
				}
				v := buildVersion()
				if *asJSON {
					return writeJSON(e, v)
				}
				line := fmt.Sprintf("plinth %s (%s", v.Version, v.Module)
				if v.Revision != "" {
					line += ", revision " + v.Revision
					if v.Modified {
						line += " with local changes"
					}
				} else {
					line += ", no VCS revision recorded"
				}
				if v.Time != "" {
					line += ", " + v.Time
				}
				fmt.Fprintf(e.stdout, "%s) %s\n", line, v.Go)
				return ExitOK
			}
		},
	}
}
