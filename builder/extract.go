package builder

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ErrUnsafeArchive marks an archive that would write outside its tree, link
// out of it, hold a special file, unpack past the size limit, or is cut
// short or empty.
var ErrUnsafeArchive = errors.New("unsafe archive")

// MaxUnpacked is the most an archive may unpack to, in bytes: past it the
// archive is refused as a decompression bomb. Generous by default (SDK
// tarballs are under 1 GiB); the command line sets it from
// PLINTH_MAX_UNPACKED.
var MaxUnpacked int64 = 32 << 30

// Extract unpacks an archive (tar, tar.gz, tar.xz, tar.zst or zip, told
// apart by their first bytes) into dir, dropping strip leading path
// components. Every write goes through an os.Root of dir, so nothing can
// land outside it; on top of that it refuses, naming the entry: absolute
// paths and "..", symbolic links that resolve (through the links already
// unpacked) outside the tree, hard links to anything but a regular file
// already unpacked, special files, more than MaxUnpacked bytes, a tar cut
// short, and an archive with no files. Permissions are normalised (0644,
// or 0755 for executables; directories 0755) whatever the umask; files keep
// the times the archive gives them.
func Extract(archive, dir string, strip int) error {
	_, err := ExtractNewest(archive, dir, strip)
	return err
}

// ExtractNewest is Extract, also returning the newest time (in seconds) an
// entry of the archive carries: the archive's own date, the same wherever
// and whenever it is unpacked.
func ExtractNewest(archive, dir string, strip int) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	x := &extractor{root: root, strip: strip, budget: MaxUnpacked, files: map[string]bool{}}
	if err := x.archive(archive); err != nil {
		return 0, err
	}
	if x.entries == 0 {
		return 0, fmt.Errorf("%w: %s holds no files", ErrUnsafeArchive, filepath.Base(archive))
	}
	// A link made early may resolve differently once later entries exist:
	// check every link again in the finished tree.
	for _, l := range x.links {
		if _, ok := x.resolve(l, 0); !ok {
			return 0, fmt.Errorf("%w: symbolic link %q resolves outside the tree", ErrUnsafeArchive, l)
		}
	}
	return x.newest, nil
}

type extractor struct {
	root    *os.Root
	strip   int
	budget  int64           // bytes still allowed
	files   map[string]bool // regular files unpacked, by resolved path
	links   []string
	entries int
	newest  int64
}

func (x *extractor) archive(archive string) error {
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
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return x.zip(f, info.Size())
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return err
		}
		defer zr.Close()
		return x.tar(zr)
	case bytes.HasPrefix(head, []byte("BZh")):
		return x.tar(bzip2.NewReader(bufio.NewReader(f)))
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		return x.tar(zr)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		// Go has no xz decoder in its standard library; Debian's xz-utils does it.
		cmd := exec.Command("xz", "-dc")
		cmd.Stdin = f
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("unpack .xz: %w (plinth doctor: apt-get install xz-utils)", err)
		}
		terr := x.tar(out)
		if terr != nil {
			cmd.Process.Kill()
		}
		io.Copy(io.Discard, out)
		if werr := cmd.Wait(); terr == nil && werr != nil {
			terr = fmt.Errorf("xz: %w", werr)
		}
		return terr
	}
	return x.tar(f)
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

// resolve follows rel through the tree as the kernel would, symbolic links
// included, and returns where it really is; ok is false when it leaves the
// tree (or loops). Components that do not exist yet are taken as they are.
func (x *extractor) resolve(rel string, depth int) (string, bool) {
	if depth > 40 {
		return "", false
	}
	var done []string
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		switch part {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", false
			}
			done = done[:len(done)-1]
			continue
		}
		here := path.Join(append(done, part)...)
		info, err := x.root.Lstat(here)
		if err != nil || info.Mode()&os.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		target, err := x.root.Readlink(here)
		if err != nil || path.IsAbs(target) {
			return "", false
		}
		// Not path.Join: cleaning "up/.." lexically would hide that up is
		// itself a link.
		rest := strings.Join(append(append(append([]string{}, done...), target), parts[i+1:]...), "/")
		return x.resolve(rest, depth+1)
	}
	return path.Join(done...), true
}

// parentInside checks that the directory an entry goes into is inside the
// tree, links followed.
func (x *extractor) parentInside(name, rel string) error {
	if _, ok := x.resolve(path.Dir(rel), 0); !ok {
		return fmt.Errorf("%w: %q goes through a symbolic link that leaves the tree", ErrUnsafeArchive, name)
	}
	return nil
}

// mkdir makes rel and its parents, each 0755 whatever the umask.
func (x *extractor) mkdir(rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	if info, err := x.root.Stat(rel); err == nil && info.IsDir() {
		return nil
	}
	if err := x.mkdir(path.Dir(rel)); err != nil {
		return err
	}
	if err := x.root.Mkdir(rel, 0o755); err != nil && !os.IsExist(err) {
		return err
	}
	return x.root.Chmod(rel, 0o755)
}

func (x *extractor) symlink(name, rel, target string) error {
	if err := x.parentInside(name, rel); err != nil {
		return err
	}
	parent, _ := x.resolve(path.Dir(rel), 0)
	if path.IsAbs(target) {
		return fmt.Errorf("%w: symbolic link %q points outside the tree (%q)", ErrUnsafeArchive, name, target)
	}
	if _, ok := x.resolve(parent+"/"+target, 0); !ok {
		return fmt.Errorf("%w: symbolic link %q points outside the tree (%q)", ErrUnsafeArchive, name, target)
	}
	if err := x.mkdir(path.Dir(rel)); err != nil {
		return err
	}
	x.links = append(x.links, rel)
	x.entries++
	return x.root.Symlink(target, rel)
}

func (x *extractor) hardlink(name, rel, linkname string) error {
	target, err := entryPath(linkname, x.strip)
	if err != nil || target == "" {
		return fmt.Errorf("%w: hard link %q to %q", ErrUnsafeArchive, name, linkname)
	}
	real, ok := x.resolve(target, 0)
	if !ok || !x.files[real] {
		return fmt.Errorf("%w: hard link %q to %q, which is not a regular file unpacked before it", ErrUnsafeArchive, name, linkname)
	}
	if err := x.parentInside(name, rel); err != nil {
		return err
	}
	if err := x.mkdir(path.Dir(rel)); err != nil {
		return err
	}
	x.entries++
	return x.root.Link(real, rel)
}

// file writes an entry with normalised permissions: 0755 when any execute
// bit is set, else 0644.
func (x *extractor) file(name, rel string, r io.Reader, mode os.FileMode, mtime time.Time) error {
	if err := x.parentInside(name, rel); err != nil {
		return err
	}
	if err := x.mkdir(path.Dir(rel)); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := x.root.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrUnsafeArchive, name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, x.budget+1))
	x.budget -= n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if x.budget < 0 {
		return fmt.Errorf("%w: it unpacks to more than %d bytes (at %q); raise PLINTH_MAX_UNPACKED if it is genuine", ErrUnsafeArchive, MaxUnpacked, name)
	}
	if err := x.root.Chmod(rel, perm); err != nil {
		return err
	}
	real, _ := x.resolve(rel, 0)
	x.files[real] = true
	x.entries++
	x.newest = max(x.newest, mtime.Unix())
	return x.root.Chtimes(rel, mtime, mtime)
}

// tailReader remembers the last bytes read, to tell a tar that ends with
// its end-of-archive blocks from one cut at an entry boundary (which
// archive/tar reports as a normal end).
type tailReader struct {
	r    io.Reader
	tail []byte
}

func (t *tailReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.tail = append(t.tail, p[:n]...)
	if len(t.tail) > 1024 {
		t.tail = t.tail[len(t.tail)-1024:]
	}
	return n, err
}

func (x *extractor) tar(r io.Reader) error {
	tail := &tailReader{r: r}
	tr := tar.NewReader(tail)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(tail.tail) < 1024 || bytes.Count(tail.tail, []byte{0}) != 1024 {
				return fmt.Errorf("%w: the tar is cut short (no end-of-archive blocks after its last entry)", ErrUnsafeArchive)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		rel, err := entryPath(h.Name, x.strip)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := x.parentInside(h.Name, rel); err != nil {
				return err
			}
			err = x.mkdir(rel)
		case tar.TypeReg, tar.TypeRegA:
			err = x.file(h.Name, rel, tr, h.FileInfo().Mode(), h.ModTime)
		case tar.TypeSymlink:
			err = x.symlink(h.Name, rel, h.Linkname)
		case tar.TypeLink:
			err = x.hardlink(h.Name, rel, h.Linkname)
		case tar.TypeXGlobalHeader:
			// pax metadata for the whole archive (git archive writes one)
		default:
			err = fmt.Errorf("%w: %q is a device, FIFO or other special file (type %q)", ErrUnsafeArchive, h.Name, h.Typeflag)
		}
		if err != nil {
			return err
		}
	}
}

func (x *extractor) zip(f io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	for _, zf := range zr.File {
		rel, err := entryPath(zf.Name, x.strip)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := x.parentInside(zf.Name, rel); err != nil {
				return err
			}
			err = x.mkdir(rel)
		case mode&os.ModeSymlink != 0:
			rc, oerr := zf.Open()
			if oerr != nil {
				return oerr
			}
			target, _ := io.ReadAll(io.LimitReader(rc, 4096))
			rc.Close()
			err = x.symlink(zf.Name, rel, string(target))
		case mode.IsRegular():
			rc, oerr := zf.Open()
			if oerr != nil {
				return oerr
			}
			err = x.file(zf.Name, rel, rc, mode, zf.Modified)
			rc.Close()
		default:
			err = fmt.Errorf("%w: %q is a special file", ErrUnsafeArchive, zf.Name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
