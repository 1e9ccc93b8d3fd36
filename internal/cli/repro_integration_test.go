package cli

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The real hello is the same bytes whoever builds it where: two builds with
// plinth built two ways (as make does, and plain go build), in directories
// of different lengths, with PATH in another order, another umask, time
// zone and locale, give identical outputs, manifest, SBOM and provenance
// included; and --verify-repro says so. Runs where PLINTH_MIRRORS names
// mirrors of the upstream sources.
func TestHelloIsTheSameBytesAnywhere(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no mirrors of the upstream repositories to build hello from")
	}
	bins := t.TempDir()
	for name, args := range map[string][]string{
		"make":  {"build", "-trimpath", "-buildvcs=true", "-o", filepath.Join(bins, "make"), "../../cmd/plinth"},
		"plain": {"build", "-o", filepath.Join(bins, "plain"), "../../cmd/plinth"},
	} {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go build (%s): %v\n%s", name, err, out)
		}
	}
	empty := t.TempDir()
	builds := []struct {
		bin, dir string
		env      []string
		umask    string
	}{
		{"make", t.TempDir(), []string{"PATH=" + os.Getenv("PATH"), "TZ=UTC", "LC_ALL=C"}, "022"},
		{"plain", filepath.Join(t.TempDir(), "a-much-longer-directory-name", "deeper"), []string{"PATH=" + empty + ":" + os.Getenv("PATH"), "TZ=Asia/Tokyo", "LC_ALL=C.UTF-8"}, "077"},
	}
	var outs []string
	for _, b := range builds {
		os.MkdirAll(b.dir, 0o755)
		out := filepath.Join(b.dir, "out")
		cmd := exec.Command("sh", "-c", `umask `+b.umask+` && exec "$@"`, "sh", filepath.Join(bins, b.bin), "build", "microkit-hello", "--board", "qemu_virt_aarch64",
			"--mirror", mirrors, "--offline", "--cache-dir", filepath.Join(b.dir, "cache"), "-o", out)
		cmd.Dir = b.dir
		cmd.Env = append(b.env, "HOME="+os.Getenv("HOME"))
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s build: %v\n%s", b.bin, err, o)
		}
		outs = append(outs, filepath.Join(out, "microkit-hello", "qemu_virt_aarch64", "debug"))
	}
	compared := 0
	filepath.WalkDir(outs[0], func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.Name() == "logs" {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(outs[0], p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(outs[1], rel))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the two builds", rel)
		}
		compared++
		return nil
	})
	if compared < 9 {
		t.Errorf("only %d files compared", compared)
	}
	// --verify-repro, on the cached first build.
	stdout, stderr, code := plinth(t, "build", "microkit-hello", "--board", "qemu_virt_aarch64", "--mirror", mirrors, "--offline",
		"--cache-dir", filepath.Join(builds[0].dir, "cache"), "-o", filepath.Join(builds[0].dir, "out"), "--verify-repro")
	if code != 0 || !strings.Contains(stdout, "reproducible: qemu_virt_aarch64/debug") {
		t.Fatalf("--verify-repro: exit %d\n%s%s", code, stdout, stderr)
	}
	prov, _ := os.ReadFile(filepath.Join(outs[0], "provenance.intoto.json"))
	if !bytes.Contains(prov, []byte("reproduction/build-2/manifest.json")) {
		t.Error("the provenance does not record the second build")
	}
}
