package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// docsCommand writes the command reference, docs/cli/: a page per verb
// with its help, generated from the same tree the command line runs.
func docsCommand() *command {
	return &command{
		name:    "__docs",
		hidden:  true,
		summary: "write the command reference (docs/cli/)",
		setup: func(fs *flag.FlagSet) run {
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give the directory")
				}
				pages := referencePages()
				if err := os.MkdirAll(args[0], 0o755); err != nil {
					return e.fail(err)
				}
				for name, text := range pages {
					if err := atomicfile.Write(filepath.Join(args[0], name), []byte(text), 0o644); err != nil {
						return e.fail(err)
					}
				}
				return ExitOK
			}
		},
	}
}

// referencePages are the pages of the command reference, by file name: an
// index and one page per visible verb, each holding the verb's help.
func referencePages() map[string]string {
	pages := map[string]string{}
	var index strings.Builder
	index.WriteString("# plinth command reference\n\nGenerated from plinth's command tree (`make generate`); a test keeps it in step.\n\n")
	var walk func(path []string, c *command)
	walk = func(path []string, c *command) {
		if c.hidden {
			return
		}
		name := strings.Join(path, "_") + ".md"
		var help bytes.Buffer
		var fs *flag.FlagSet
		if c.setup != nil {
			fs = flag.NewFlagSet("", flag.ContinueOnError)
			c.setup(fs)
		}
		writeHelp(&help, strings.Join(path, " "), c, fs)
		pages[name] = fmt.Sprintf("# %s\n\n%s\n\n```\n%s```\n", strings.Join(path, " "), c.summary, help.String())
		fmt.Fprintf(&index, "- [`%s`](%s): %s\n", strings.Join(path, " "), name, c.summary)
		for _, s := range c.sub {
			walk(append(append([]string{}, path...), s.name), s)
		}
	}
	walk([]string{"plinth"}, commands())
	pages["README.md"] = index.String()
	return pages
}
