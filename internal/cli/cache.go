package cli

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// cacheCommand lists, counts and trims the build cache.
func cacheCommand() *command {
	return &command{
		name:    "cache",
		summary: "list, measure and trim the build cache",
		sub: []*command{
			{
				name:    "ls",
				summary: "list cached steps, most recently used first",
				setup: func(fs *flag.FlagSet) run {
					var ef engineFlags
					ef.add(fs, false)
					return func(e *env, args []string) int {
						cache, _, err := ef.open(e)
						if err != nil {
							return e.fail(err)
						}
						entries, err := cache.Entries()
						if err != nil {
							return e.fail(err)
						}
						tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
						fmt.Fprintln(tw, "KEY\tSTEP\tRECIPE\tBOARD\tCONFIG\tOUTPUTS\tSIZE\tTOOK\tAGE\tLAST USED")
						for _, en := range entries {
							age := "-"
							if made, err := time.Parse(time.RFC3339, en.Record.Created); err == nil {
								age = humanAge(time.Since(made))
							}
							fmt.Fprintf(tw, "%.12s\t%s\t%s\t%s\t%s\t%d\t%s\t%.1fs\t%s\t%s\n", en.Record.Key, en.Record.Step, dash(en.Record.Recipe), dash(en.Record.Board), dash(en.Record.Config),
								len(en.Record.Outputs), humanBytes(en.Size), en.Record.Duration, age, en.Used.UTC().Format(time.RFC3339))
						}
						tw.Flush()
						return ExitOK
					}
				},
			},
			{
				name:    "stats",
				summary: "how much the cache holds",
				setup: func(fs *flag.FlagSet) run {
					var ef engineFlags
					ef.add(fs, false)
					asJSON := fs.Bool("json", false, "print as JSON")
					return func(e *env, args []string) int {
						cache, _, err := ef.open(e)
						if err != nil {
							return e.fail(err)
						}
						s, err := cache.Stats()
						if err != nil {
							return e.fail(err)
						}
						if *asJSON {
							return writeJSON(e, s)
						}
						fmt.Fprintf(e.stdout, "%s: %d cached steps, %d blobs, %s; source store: %d repositories, %d archives, %d source trees, %s\n",
							cache.Dir, s.Actions, s.Blobs, humanBytes(s.Bytes), s.Repositories, s.Archives, s.Trees, humanBytes(s.StoreBytes))
						return ExitOK
					}
				},
			},
			{
				name:    "gc",
				summary: "drop the least recently used steps until the cache fits",
				setup: func(fs *flag.FlagSet) run {
					var ef engineFlags
					ef.add(fs, false)
					maxSize := fs.String("max-size", "10G", "the most the cache may hold (`SIZE`: bytes, or with K, M, G)")
					return func(e *env, args []string) int {
						limit, err := parseSize(*maxSize)
						if err != nil {
							return usageError(e, err.Error())
						}
						cache, _, err := ef.open(e)
						if err != nil {
							return e.fail(err)
						}
						n, freed, err := cache.GC(limit)
						if err != nil {
							return e.fail(err)
						}
						fmt.Fprintf(e.stdout, "removed %d cached steps, freed %s\n", n, humanBytes(freed))
						return ExitOK
					}
				},
			},
		},
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--max-size %q: give bytes, or a number with K, M or G", s)
	}
	return n * mult, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// humanAge is a duration as people say an age: 40s, 12m, 3h, 5d.
func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
