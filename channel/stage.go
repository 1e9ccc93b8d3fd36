package channel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// A staged set is a directory: each role's file as it stands (signatures
// so far included), the root before a rotation, and stage.json naming the
// changed roles. It travels to where offline keys are (plinth release
// sign), then back to be pushed.
const (
	stageFile    = "stage.json"
	prevRootFile = "previous.root.json"
)

type stage struct {
	Changed []string `json:"changed"`
}

func stagedName(role string) string { return role + ".json" }

// Stage writes the set to dir (made if need be; each file replaced whole).
func (s *Set) Stage(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, v any) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(filepath.Join(dir, name), append(data, '\n'), 0o644)
	}
	for _, w := range []struct {
		name string
		v    any
	}{{stagedName(metadata.ROOT), s.Root}, {stagedName(metadata.TARGETS), s.Targets}, {stagedName(metadata.SNAPSHOT), s.Snapshot}, {stagedName(metadata.TIMESTAMP), s.Timestamp}} {
		if err := write(w.name, w.v); err != nil {
			return err
		}
	}
	if s.PrevRoot != nil {
		if err := write(prevRootFile, s.PrevRoot); err != nil {
			return err
		}
	} else if err := os.Remove(filepath.Join(dir, prevRootFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	var st stage
	for _, r := range Roles {
		if s.Changed[r] {
			st.Changed = append(st.Changed, r)
		}
	}
	return write(stageFile, st) // last: a directory without it is not a stage
}

// LoadStage reads a set Stage wrote.
func LoadStage(dir string) (*Set, error) {
	data, err := os.ReadFile(filepath.Join(dir, stageFile))
	if err != nil {
		return nil, fmt.Errorf("%s: not a staged channel set: %w", dir, err)
	}
	var st stage
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stageFile), err)
	}
	s := &Set{Changed: map[string]bool{}, Expiry: withDefaults(nil)}
	for _, r := range st.Changed {
		if !slices.Contains(Roles, r) {
			return nil, fmt.Errorf("%s: unknown role %q", filepath.Join(dir, stageFile), r)
		}
		s.Changed[r] = true
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	if data, err = read(stagedName(metadata.ROOT)); err == nil {
		s.Root, err = metadata.Root().FromBytes(data)
	}
	if err == nil {
		if data, err = read(stagedName(metadata.TARGETS)); err == nil {
			s.Targets, err = metadata.Targets().FromBytes(data)
		}
	}
	if err == nil {
		if data, err = read(stagedName(metadata.SNAPSHOT)); err == nil {
			s.Snapshot, err = metadata.Snapshot().FromBytes(data)
		}
	}
	if err == nil {
		if data, err = read(stagedName(metadata.TIMESTAMP)); err == nil {
			s.Timestamp, err = metadata.Timestamp().FromBytes(data)
		}
	}
	if err == nil {
		if data, err = read(prevRootFile); err == nil {
			s.PrevRoot, err = metadata.Root().FromBytes(data)
		} else if os.IsNotExist(err) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}
