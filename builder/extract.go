package builder

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ErrUnsafeArchive marks an archive entry that would land outside the tree
// or is not a plain file, directory or link.
var ErrUnsafeArchive = errors.New("unsafe archive entry")

// Extract unpacks an archive (tar, tar.gz, tar.xz, tar.zst or zip, told
// apart by their first bytes) into dir, dropping strip leading path
// components. It refuses absolute paths, "..", links that point outside the
// tree and device files, before writing anything of such an entry. Files
// keep the times the archive gives them.
func Extract(archive, dir string, strip int) error {
	_, err := ExtractNewest(archive, dir, strip)
	return err
}

// ExtractNewest is Extract, also returning the newest time (in seconds) an
// entry of the archive carries: the archive's own date, the same wherever
// and whenever it is unpacked.
func ExtractNewest(archive, dir string, strip int) (int64, error) {
	var newest int64
	err := extract(archive, dir, strip, func(t int64) { newest = max(newest, t) })
	return newest, err
}

func extract(archive, dir string, strip int, seen func(int64)) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return extractZip(f, info.Size(), dir, strip, seen)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return err
		}
		defer zr.Close()
		return extractTar(zr, dir, strip, seen)
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		return extractTar(zr, dir, strip, seen)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		// Go has no xz decoder in its standard library; Debian's xz-utils does it.
		cmd := exec.Command("xz", "-dc")
		cmd.Stdin = f
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("unpack .xz: %w (plinth doctor: apt-get install xz-utils)", err)
		}
		terr := extractTar(out, dir, strip, seen)
		io.Copy(io.Discard, out)
		if werr := cmd.Wait(); terr == nil && werr != nil {
			terr = fmt.Errorf("xz: %w", werr)
		}
		return terr
	}
	return extractTar(f, dir, strip, seen)
}

// entryPath cleans an entry's name, strips components and refuses names
// that leave the tree. It returns "" for entries stripped away entirely.
func entryPath(name string, strip int) (string, error) {
	if strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafeArchive, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q climbs out with ..", ErrUnsafeArchive, name)
		}
	}
	clean := path.Clean(name)
	parts := strings.Split(clean, "/")
	if clean == "." || len(parts) <= strip {
		return "", nil
	}
	return path.Join(parts[strip:]...), nil
}

// insideTarget reports whether a link at rel with target stays in the tree.
func insideTarget(rel, target string) bool {
	if path.IsAbs(target) {
		return false
	}
	joined := path.Clean(path.Join(path.Dir(rel), target))
	return joined != ".." && !strings.HasPrefix(joined, "../")
}

func extractTar(r io.Reader, dir string, strip int, seen func(int64)) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		rel, err := entryPath(h.Name, strip)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := writeFile(dst, tr, h.FileInfo().Mode()); err != nil {
				return err
			}
			seen(h.ModTime.Unix())
			os.Chtimes(dst, h.ModTime, h.ModTime)
		case tar.TypeSymlink:
			if !insideTarget(rel, h.Linkname) {
				return fmt.Errorf("%w: symlink %q points outside the tree (%q)", ErrUnsafeArchive, h.Name, h.Linkname)
			}
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeLink:
			target, err := entryPath(h.Linkname, strip)
			if err != nil || target == "" {
				return fmt.Errorf("%w: hard link %q to %q", ErrUnsafeArchive, h.Name, h.Linkname)
			}
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(target)), dst); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
			// pax metadata for the whole archive (git archive writes one)
		default:
			return fmt.Errorf("%w: %q is a device, FIFO or other special file (type %q)", ErrUnsafeArchive, h.Name, h.Typeflag)
		}
	}
}

func extractZip(f io.ReaderAt, size int64, dir string, strip int, seen func(int64)) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	for _, zf := range zr.File {
		rel, err := entryPath(zf.Name, strip)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			target, _ := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			if !insideTarget(rel, string(target)) {
				return fmt.Errorf("%w: symlink %q points outside the tree (%q)", ErrUnsafeArchive, zf.Name, target)
			}
			os.MkdirAll(filepath.Dir(dst), 0o755)
			if err := os.Symlink(string(target), dst); err != nil {
				return err
			}
		case mode.IsRegular():
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			err = writeFile(dst, rc, mode)
			rc.Close()
			if err != nil {
				return err
			}
			seen(zf.Modified.Unix())
			os.Chtimes(dst, zf.Modified, zf.Modified)
		default:
			return fmt.Errorf("%w: %q is a special file", ErrUnsafeArchive, zf.Name)
		}
	}
	return nil
}

// writeFile writes an entry with normalised permissions: 0755 when any
// execute bit is set, else 0644.
func writeFile(dst string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
