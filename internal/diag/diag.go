// Package diag collects problems found in input files and prints them the
// way compilers do, FILE:LINE:COL: error: MESSAGE, so editors can jump to
// them. Every checker in plinth reports into a List and keeps going, so a
// user sees all problems of a file in one run.
package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"unicode/utf8"
)

// Pos is a place in a file. Line and Col count from 1; zero means unknown.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity says whether a problem stops the work (Error) or not (Warning).
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// MarshalJSON writes the severity as its word.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Diagnostic is one problem at one place.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Message)
}

// List accumulates diagnostics. The zero value is ready to use.
type List struct {
	items []Diagnostic
}

// Errorf records an error at pos.
func (l *List) Errorf(pos Pos, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, ClipArgs(args)...)})
}

// Warnf records a warning at pos.
func (l *List) Warnf(pos Pos, format string, args ...any) {
	l.items = append(l.items, Diagnostic{Pos: pos, Severity: Warning, Message: fmt.Sprintf(format, ClipArgs(args)...)})
}

// MaxQuoted is how much of a long value a message quotes.
const MaxQuoted = 80

// Clip shortens s to its first MaxQuoted bytes (on a character boundary)
// and says how long it was, so that a 50 MB attribute value does not make
// a 50 MB message.
func Clip(s string) string {
	if len(s) <= MaxQuoted {
		return s
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", s[:cut], len(s))
}

// ClipArgs clips the string arguments of a message that are far longer
// than anything a reader could take in (values from the input, quoted).
func ClipArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok && len(s) > 2*MaxQuoted+40 {
			c := make([]any, len(args))
			copy(c, args)
			for j := i; j < len(c); j++ {
				if s, ok := c[j].(string); ok && len(s) > 2*MaxQuoted+40 {
					c[j] = Clip(s)
				}
			}
			return c
		}
	}
	return args
}

// HasErrorAt reports whether an error was already reported at pos (so a
// follow-on complaint about the same value can be left out).
func (l *List) HasErrorAt(pos Pos) bool {
	for _, d := range l.items {
		if d.Severity == Error && d.Pos == pos {
			return true
		}
	}
	return false
}

// Add appends diagnostics from another list.
func (l *List) Add(other *List) {
	if other != nil {
		l.items = append(l.items, other.items...)
	}
}

// Len is the number of diagnostics, errors and warnings.
func (l *List) Len() int { return len(l.items) }

// ErrorCount is the number of errors.
func (l *List) ErrorCount() int {
	n := 0
	for _, d := range l.Items() {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// HasErrors reports whether any error (not warning) was recorded.
func (l *List) HasErrors() bool { return l.ErrorCount() > 0 }

// Items returns the diagnostics sorted by file, line and column, with exact
// repeats removed (a base board file read for several boards reports once).
func (l *List) Items() []Diagnostic {
	out := make([]Diagnostic, len(l.items))
	copy(out, l.items)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	uniq := out[:0]
	seen := map[Diagnostic]bool{}
	for _, d := range out {
		if !seen[d] {
			seen[d] = true
			uniq = append(uniq, d)
		}
	}
	return uniq
}

// Write prints every diagnostic, one a line.
func (l *List) Write(w io.Writer) error {
	for _, d := range l.Items() {
		if _, err := fmt.Fprintln(w, d); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints the diagnostics as a JSON array.
func (l *List) WriteJSON(w io.Writer) error {
	items := l.Items()
	if items == nil {
		items = []Diagnostic{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(items)
}

// Err returns nil when the list holds no errors, or an error summarising them.
func (l *List) Err() error {
	n := l.ErrorCount()
	if n == 0 {
		return nil
	}
	return &Errors{List: l}
}

// Errors is the error form of a List that holds errors. errors.As on it
// gives the caller back every diagnostic.
type Errors struct{ List *List }

func (e *Errors) Error() string {
	items := e.List.Items()
	for _, d := range items {
		if d.Severity == Error {
			if n := e.List.ErrorCount(); n > 1 {
				return fmt.Sprintf("%s (and %d more errors)", d, n-1)
			}
			return d.String()
		}
	}
	return "no errors"
}

// Closest returns the candidate nearest to word by edit distance, when it
// is near enough to be a likely typo; it serves "did you mean" hints.
func Closest(word string, candidates []string) (string, bool) {
	best, bestD := "", len(word)/3+2
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best, best != ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
