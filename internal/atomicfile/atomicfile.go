// Package atomicfile writes files so that a reader sees the old file or the
// new one, never half of one: through a temporary file in the same
// directory, renamed into place. An interrupted write loses nothing.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path with mode perm (an existing file keeps its mode).
func Write(path string, data []byte, perm os.FileMode) error {
	if info, err := os.Stat(path); err == nil {
		perm = info.Mode().Perm()
	}
	return WriteFunc(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteFunc writes path with what write puts in the temporary file, and
// renames it into place only when write succeeds.
func WriteFunc(path string, perm os.FileMode, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
