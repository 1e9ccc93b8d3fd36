package sddf

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Writing one component's two config sections: plinth in-process against
// one objcopy --update-section run per component, as sDDF's makefiles do.
// Run: go test ./sddf -run '^$' -bench Sections
func BenchmarkSections(b *testing.B) {
	elfPath := buildProgram(b)
	dir := b.TempDir()
	timer := []byte("sDDF\x06\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08")
	os.WriteFile(filepath.Join(dir, "timer.data"), timer, 0o644)
	b.Run("plinth", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := SetSectionsFile(elfPath, filepath.Join(dir, "ours.elf"), map[string][]byte{".timer_client_config": timer}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("objcopy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cmd := exec.Command("aarch64-linux-gnu-objcopy", "--update-section", ".timer_client_config="+filepath.Join(dir, "timer.data"), elfPath, filepath.Join(dir, "theirs.elf"))
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v\n%s", err, out)
			}
		}
	})
}
