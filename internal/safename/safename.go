// Package safename is the one place that decides whether a name taken from
// input (a recipe, a lock file, a cache record, a system description) may
// become part of a path. Every such name is checked here before it is
// joined to a directory, so nothing is read or written outside the trees
// plinth means.
package safename

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/pointsav/plinth/internal/diag"
)

// Name checks a single file or directory name: not empty, not "." or "..",
// no "/" or "\", no control characters, at most 255 bytes.
func Name(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("an empty name")
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a name (it names a directory relative to another)", s)
	case strings.ContainsAny(s, `/\`):
		return fmt.Errorf("%q holds a path separator: give a plain name", diag.Clip(s))
	case len(s) > 255:
		return fmt.Errorf("a name of %d bytes: at most 255", len(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q holds a control character", diag.Clip(s))
		}
	}
	return nil
}

// RelPath checks a relative, slash-separated path that must stay inside the
// tree it is joined to: no leading "/", no "..", no empty or "." elements,
// each element a Name.
func RelPath(s string) error {
	if s == "" {
		return fmt.Errorf("an empty path")
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("%q is absolute: give a path inside the tree", diag.Clip(s))
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			return fmt.Errorf("%q climbs out of its tree with ..", diag.Clip(s))
		}
		if err := Name(part); err != nil {
			return fmt.Errorf("%q: %v", diag.Clip(s), err)
		}
	}
	return nil
}

// Hex checks a lower-case hexadecimal digest of n digits (a SHA-256 is 64,
// a git commit 40).
func Hex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("%q is not %d hex digits", diag.Clip(s), n)
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%q is not %d lower-case hex digits", diag.Clip(s), n)
		}
	}
	return nil
}
