package sddf

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/pointsav/plinth/internal/atomicfile"
)

// SetSections returns a copy of an ELF file with the contents of the named
// sections replaced; every other byte is kept. Each new content must be
// exactly as long as its section: a config struct of another size means
// the ELF was compiled against other sDDF headers than the ones the
// config was encoded for, which objcopy would silently accept by resizing
// the section. All problems are reported at once.
func SetSections(data []byte, sections map[string][]byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an ELF file: %w", err)
	}
	out := bytes.Clone(data)
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(sections)) {
		content := sections[name]
		s := f.Section(name)
		switch {
		case s == nil:
			errs = append(errs, fmt.Errorf("section %s: no such section", name))
		case s.Type == elf.SHT_NOBITS:
			errs = append(errs, fmt.Errorf("section %s: has no contents in the file (SHT_NOBITS); declare the config initialised so the compiler places it in the file", name))
		case uint64(len(content)) != s.Size:
			errs = append(errs, fmt.Errorf("section %s: is %d bytes, the config is %d bytes (was the program compiled against the same sDDF headers?)", name, s.Size, len(content)))
		case s.Offset+s.Size > uint64(len(data)):
			errs = append(errs, fmt.Errorf("section %s: extends past the end of the file", name))
		default:
			copy(out[s.Offset:], content)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// SetSectionsFile is SetSections from the file in to the file out, which is
// written whole or not at all (out may be in).
func SetSectionsFile(in, out string, sections map[string][]byte) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	patched, err := SetSections(data, sections)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	info, err := os.Stat(in)
	if err != nil {
		return err
	}
	return atomicfile.Write(out, patched, info.Mode().Perm())
}
