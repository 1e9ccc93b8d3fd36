// Package testrepo makes real git repositories and archives for tests.
package testrepo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Run runs a command in dir and fails the test if it fails; git gets a
// fixed author and date, so commits are the same in every run.
func Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Git makes a repository holding files, tagged v1, and returns its path
// and the commit.
func Git(t testing.TB, files map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	Run(t, dir, "git", "init", "-q", "-b", "main")
	for name, body := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	Run(t, dir, "git", "add", ".")
	Run(t, dir, "git", "commit", "-q", "-m", "one")
	Run(t, dir, "git", "tag", "v1")
	return dir, Run(t, dir, "git", "rev-parse", "HEAD")
}

// TarGz makes a gzipped tar of entries (name -> body; a body starting with
// "->" makes a symlink to the rest).
func TarGz(t testing.TB, entries map[string]string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range entries {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
		if strings.HasPrefix(body, "->") {
			h = &tar.Header{Name: name, Linkname: body[2:], Typeflag: tar.TypeSymlink, ModTime: h.ModTime}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// Paths lists every path under dir (dir included), to see afterwards what
// appeared where.
func Paths(dir string) map[string]bool {
	seen := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			seen[p] = true
		}
		return nil
	})
	return seen
}
