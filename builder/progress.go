package builder

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Reporter turns events into output: a live view on a terminal, plain
// timestamped lines elsewhere, or JSON lines for machines.
type Reporter struct {
	w         io.Writer
	mode      string // "live", "lines" or "json"
	mu        sync.Mutex
	total     int
	done      int
	hits      int
	running   map[string]time.Time
	downloads map[string][2]int64 // url -> bytes so far, size
	lines     int                 // lines of the live view on screen
	stop      chan struct{}
	quiet     []string // lines held back until something is not cached
	ran       bool
}

// NewReporter picks the mode: json when asked, live when w is a terminal.
func NewReporter(w io.Writer, asJSON bool) *Reporter {
	r := &Reporter{w: w, mode: "lines", running: map[string]time.Time{}, downloads: map[string][2]int64{}}
	switch {
	case asJSON:
		r.mode = "json"
	case isTerminal(w):
		r.mode = "live"
		r.stop = make(chan struct{})
		go r.tick()
	}
	return r
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Event takes one event.
func (r *Reporter) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case "plan":
		r.total = e.Total
	case "start":
		r.running[e.Step] = e.Time
		r.ran = true
	case "hit":
		r.done++
		r.hits++
	case "done", "fail":
		delete(r.running, e.Step)
		r.done++
	case "fetch":
		r.ran = true
	case "download":
		if e.Size > 0 && e.Bytes >= e.Size {
			delete(r.downloads, e.Message)
		} else {
			r.downloads[e.Message] = [2]int64{e.Bytes, e.Size}
		}
		if r.mode != "json" {
			r.draw()
			return // lines mode shows the download when it starts, not each MiB
		}
	}
	switch r.mode {
	case "json":
		b, _ := json.Marshal(e)
		fmt.Fprintf(r.w, "%s\n", b)
	case "lines":
		if line := r.line(e); line != "" {
			stamp := e.Time.UTC().Format("15:04:05")
			text := stamp + " " + line
			// Quiet when everything is cached: hits are only shown once
			// something actually runs.
			if e.Kind == "hit" && !r.ran {
				r.quiet = append(r.quiet, text)
				return
			}
			if r.ran && len(r.quiet) > 0 {
				for _, q := range r.quiet {
					fmt.Fprintln(r.w, q)
				}
				r.quiet = nil
			}
			fmt.Fprintln(r.w, text)
		}
	case "live":
		if e.Kind == "fail" || e.Kind == "finish" || e.Kind == "fetch" || e.Kind == "remote" {
			r.clear()
			if line := r.line(e); line != "" {
				fmt.Fprintln(r.w, line)
			}
		} else if e.Kind == "done" {
			r.clear()
			fmt.Fprintln(r.w, r.line(e))
		}
		r.draw()
	}
}

func (r *Reporter) line(e Event) string {
	switch e.Kind {
	case "start":
		return "run   " + e.Step
	case "hit":
		return "cached " + e.Step
	case "done":
		return fmt.Sprintf("done  %s (%.1fs)", e.Step, e.Seconds)
	case "fail":
		return fmt.Sprintf("FAIL  %s (%.1fs)", e.Step, e.Seconds)
	case "fetch":
		if e.Message != "" {
			return "fetch " + e.Message
		}
	case "remote":
		return e.Message
	case "finish":
		if e.Hits == e.Total && e.Total == e.Done {
			return fmt.Sprintf("all %d steps cached (%.2fs)", e.Total, e.Seconds)
		}
		return fmt.Sprintf("%d/%d steps, %d from the cache, %.1fs", e.Done, e.Total, e.Hits, e.Seconds)
	}
	return ""
}

// Close stops the live view.
func (r *Reporter) Close() {
	if r.stop != nil {
		close(r.stop)
		r.mu.Lock()
		r.clear()
		r.mu.Unlock()
	}
}

func (r *Reporter) tick() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.draw()
			r.mu.Unlock()
		}
	}
}

// clear erases the live view (cursor up, erase line).
func (r *Reporter) clear() {
	for ; r.lines > 0; r.lines-- {
		fmt.Fprint(r.w, "\x1b[1A\x1b[2K")
	}
}

func (r *Reporter) draw() {
	if r.mode != "live" {
		return
	}
	r.clear()
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d] %d cached", r.done, r.total, r.hits)
	if r.total > 0 {
		width := 30
		filled := width * r.done / r.total
		fmt.Fprintf(&b, " [%s%s]", strings.Repeat("=", filled), strings.Repeat(" ", width-filled))
	}
	b.WriteString("\n")
	urls := make([]string, 0, len(r.downloads))
	for u := range r.downloads {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		d := r.downloads[u]
		if d[1] > 0 {
			filled := int(20 * d[0] / d[1])
			fmt.Fprintf(&b, "  download %s [%s%s] %d%%\n", u, strings.Repeat("=", filled), strings.Repeat(" ", 20-filled), 100*d[0]/d[1])
		} else {
			fmt.Fprintf(&b, "  download %s %.1f MiB\n", u, float64(d[0])/(1<<20))
		}
	}
	names := make([]string, 0, len(r.running))
	for n := range r.running {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-40s %5.1fs\n", n, now.Sub(r.running[n]).Seconds())
	}
	out := b.String()
	r.lines = strings.Count(out, "\n")
	fmt.Fprint(r.w, out)
}
