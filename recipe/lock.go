package recipe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pointsav/plinth/internal/safename"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/internal/diag"
)

// Lock pins what a recipe names by tag, branch or bare URL: the file
// RECIPE.lock beside the recipe, written by plinth lock and read by builds.
type Lock struct {
	Recipe  string         `json:"recipe"`
	Sources map[string]Pin `json:"sources"`
}

// Pin is one source's pin.
type Pin struct {
	Git     string `json:"git,omitempty"`
	Ref     string `json:"ref,omitempty"`
	Commit  string `json:"commit,omitempty"`
	Archive string `json:"archive,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Date    string `json:"date"` // when it was locked
}

// LockPath is where a recipe file's lock lives.
func LockPath(recipeFile string) string { return recipeFile + ".lock" }

// ReadLock reads a recipe's lock; a missing lock is (nil, nil).
func ReadLock(recipeFile string) (*Lock, error) {
	b, err := os.ReadFile(LockPath(recipeFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", LockPath(recipeFile), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: text after the lock's JSON object", LockPath(recipeFile))
	}
	// Pins name files in the store: each must be what it claims to be.
	var bad []string
	for _, name := range slices.Sorted(maps.Keys(l.Sources)) {
		p := l.Sources[name]
		if err := safename.Name(name); err != nil {
			bad = append(bad, fmt.Sprintf("sources.%s: %v", name, err))
		}
		if p.Commit != "" {
			if err := safename.Hex(p.Commit, 40); err != nil {
				bad = append(bad, fmt.Sprintf("sources.%s.commit: %v", name, err))
			}
		}
		if p.SHA256 != "" {
			if err := safename.Hex(p.SHA256, 64); err != nil {
				bad = append(bad, fmt.Sprintf("sources.%s.sha256: %v", name, err))
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: %s", LockPath(recipeFile), strings.Join(bad, "; "))
	}
	return &l, nil
}

// WriteLock writes the lock through a temporary file.
func WriteLock(recipeFile string, l *Lock) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(LockPath(recipeFile), append(b, '\n'), 0o644)
}

// PinOf is the commit or sha256 a source is built from: the recipe's own
// pin, else the lock's. It is an error for the two to disagree.
func (r *Recipe) PinOf(name string) (string, error) {
	s := r.Sources[name]
	if s == nil {
		return "", fmt.Errorf("no source %q", name)
	}
	var own, locked string
	var lp Pin
	if r.Lock != nil {
		lp = r.Lock.Sources[name]
	}
	switch s.Kind() {
	case "git":
		own, locked = s.Commit, lp.Commit
	case "archive":
		own, locked = s.SHA256, lp.SHA256
	default:
		return "", nil
	}
	switch {
	case own != "" && locked != "" && own != locked:
		return "", fmt.Errorf("source %s: the recipe pins %s but %s says %s; run plinth lock", name, own, LockPath(r.File), locked)
	case own != "":
		return own, nil
	case locked != "":
		return locked, nil
	}
	return "", fmt.Errorf("source %s is not pinned; run plinth lock", name)
}

// checkLock reports a lock that does not belong to the recipe: another
// recipe's, pins of sources the recipe lacks, a pin of the wrong kind, or a
// source whose URL changed since it was locked.
func checkLock(r *Recipe, diags *diag.List) {
	if r.Lock == nil {
		return
	}
	at := diag.Pos{File: LockPath(r.File), Line: 1, Col: 1}
	if r.Lock.Recipe != "" && r.Lock.Recipe != r.Name {
		diags.Errorf(at, "the lock is recipe %q's, not %q's: run plinth lock", r.Lock.Recipe, r.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Lock.Sources)) {
		p := r.Lock.Sources[name]
		s := r.Sources[name]
		switch {
		case s == nil:
			diags.Warnf(at, "sources.%s: the lock pins a source the recipe does not have (run plinth lock to drop it)", name)
		case s.Kind() == "git" && (p.SHA256 != "" || p.Archive != ""), s.Kind() == "archive" && (p.Commit != "" || p.Git != ""), s.Kind() == "path" && (p.Commit != "" || p.SHA256 != ""):
			diags.Errorf(at, "sources.%s: the lock pins it as another kind of source than the recipe's %s: run plinth lock", name, s.Kind())
		case s.Kind() == "git" && p.Git != "" && p.Git != s.Git, s.Kind() == "archive" && p.Archive != "" && p.Archive != s.Archive:
			diags.Errorf(at, "sources.%s: the lock pins another URL (%s) than the recipe's: run plinth lock", name, p.Git+p.Archive)
		}
	}
}
