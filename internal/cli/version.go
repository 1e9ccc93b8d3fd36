package cli

import (
	"flag"
	"fmt"
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
