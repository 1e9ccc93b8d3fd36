package builder

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkNoopRebuild100 is plinth's own overhead: a 100-step graph (ten
// chains of ten) whose every step is cached.
func BenchmarkNoopRebuild100(b *testing.B) {
	dir := b.TempDir()
	cache, err := OpenCache(filepath.Join(dir, "cache"), nil)
	if err != nil {
		b.Fatal(err)
	}
	var steps []*Step
	for c := 0; c < 10; c++ {
		var prev *Step
		for i := 0; i < 10; i++ {
			name := fmt.Sprintf("s%d_%d", c, i)
			s := &Step{Name: name, Key: map[string]any{"n": name, "flags": []string{"-O2", "-g"}}, Outputs: []string{"o"}, Run: func(ctx context.Context, sc *StepContext) error {
				return os.WriteFile(filepath.Join(sc.Out, "o"), []byte(name), 0o644)
			}}
			if prev != nil {
				s.Deps = []*Step{prev}
			}
			steps = append(steps, s)
			prev = s
		}
	}
	r := &Runner{Cache: cache, Jobs: 2, Out: filepath.Join(dir, "out"), Logs: filepath.Join(dir, "logs")}
	if _, err := r.Run(context.Background(), steps); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.Run(context.Background(), steps)
		if err != nil || res.Hits != 100 {
			b.Fatalf("%v, %d hits", err, res.Hits)
		}
	}
}

// hashFile is a 1 GiB file (PLINTH_HASH_FILE to use another size or place).
func hashFile(b *testing.B) string {
	if f := os.Getenv("PLINTH_HASH_FILE"); f != "" {
		return f
	}
	f := filepath.Join(b.TempDir(), "1g")
	fh, err := os.Create(f)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	for i := 0; i < 1024; i++ {
		fh.Write(chunk)
	}
	fh.Close()
	return f
}

// BenchmarkHashFile is plinth's file hashing; BenchmarkOpenSSLDgst hashes
// the same file with openssl dgst -sha256 in the same run, for the ratio.
func BenchmarkHashFile(b *testing.B) {
	f := hashFile(b)
	info, _ := os.Stat(f)
	b.SetBytes(info.Size())
	for b.Loop() {
		if _, _, err := HashFile(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenSSLDgst(b *testing.B) {
	if _, err := exec.LookPath("openssl"); err != nil {
		b.Skip("no openssl")
	}
	f := hashFile(b)
	info, _ := os.Stat(f)
	want, _, _ := HashFile(f)
	b.SetBytes(info.Size())
	for b.Loop() {
		out, err := exec.Command("openssl", "dgst", "-sha256", f).Output()
		if err != nil || !strings.Contains(string(out), string(want)) {
			b.Fatalf("%v %s", err, out)
		}
	}
}
