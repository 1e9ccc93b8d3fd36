package diode

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A reading of the Diode's wire format (recipes/os-family/README.md)
// written apart from the Rust crates the systems link, to check them
// against: both must accept and reject the same bytes, and read the same
// values.

func readFrame(b []byte, want byte) (seq uint32, payload []byte, err string) {
	if len(b) < 14 {
		return 0, nil, "Short"
	}
	if b[0] != 0x44 || b[1] != 0x31 {
		return 0, nil, "Magic"
	}
	if b[2] != 1 {
		return 0, nil, fmt.Sprintf("Version(%d)", b[2])
	}
	if b[3] != 1 && b[3] != 2 {
		return 0, nil, fmt.Sprintf("Kind(%d)", b[3])
	}
	n := int(binary.LittleEndian.Uint16(b[8:]))
	if n > 512 {
		return 0, nil, fmt.Sprintf("Length(%d)", n)
	}
	if len(b) < 10+n+4 {
		return 0, nil, "Short"
	}
	if len(b) > 10+n+4 {
		return 0, nil, "Trailing"
	}
	if crc32.ChecksumIEEE(b[:10+n]) != binary.LittleEndian.Uint32(b[10+n:]) {
		return 0, nil, "Checksum"
	}
	if b[3] != want {
		return 0, nil, "WrongKind"
	}
	return binary.LittleEndian.Uint32(b[4:]), b[10 : 10+n], ""
}

func refCommand(b []byte) string {
	seq, p, err := readFrame(b, 1)
	switch {
	case err != "":
		return "error " + err
	case len(p) == 0:
		return "error Payload"
	case p[0] == 1 && len(p) >= 2 && len(p) <= 257:
		return fmt.Sprintf("seq %d store %s", seq, hex.EncodeToString(p[1:]))
	case p[0] == 2 && len(p) == 1:
		return fmt.Sprintf("seq %d status", seq)
	}
	return "error Payload"
}

func refTelemetry(b []byte) string {
	seq, p, err := readFrame(b, 2)
	switch {
	case err != "":
		return "error " + err
	case len(p) == 0:
		return "error Payload"
	case (p[0] == 1 || p[0] == 2) && len(p) == 37:
		what := map[byte]string{1: "ledger", 2: "stored"}[p[0]]
		return fmt.Sprintf("seq %d %s %d %s", seq, what, binary.LittleEndian.Uint32(p[1:]), hex.EncodeToString(p[5:]))
	case p[0] == 3 && len(p) >= 3 && len(p) <= 3+64:
		return fmt.Sprintf("seq %d error-report %d %s", seq, binary.LittleEndian.Uint16(p[1:]), hex.EncodeToString(p[3:]))
	}
	return "error Payload"
}

// frame makes a valid frame, for the seeds.
func frame(kind byte, seq uint32, payload []byte) []byte {
	b := []byte{0x44, 0x31, 1, kind, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], seq)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// checker is the Rust decoders in a host program, fed over a pipe.
type checker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startChecker builds diode-check for this machine with cargo, offline
// (the crates have no dependencies beyond each other), from a copy of the
// crates, and starts it.
func startChecker(t testing.TB) *checker {
	t.Helper()
	build := familyCargo(t, "diode-check", "build", "--offline", "--release", "--quiet")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building diode-check: %v\n%s", err, out)
	}
	target := filepath.Join(filepath.Dir(filepath.Dir(build.Dir)), "target")
	c := &checker{cmd: exec.Command(filepath.Join(target, "release", "diode-check"))}
	c.in, _ = c.cmd.StdinPipe()
	stdout, _ := c.cmd.StdoutPipe()
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewReader(stdout)
	t.Cleanup(func() { c.in.Close(); c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

func (c *checker) check(input []byte) (string, error) {
	if _, err := c.in.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(input)))); err != nil {
		return "", err
	}
	if _, err := c.in.Write(input); err != nil {
		return "", err
	}
	line, err := c.out.ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func seeds() [][]byte {
	hash := make([]byte, 32)
	for i := range hash {
		hash[i] = byte(i)
	}
	return [][]byte{
		frame(1, 1, append([]byte{1}, "first record"...)),
		frame(1, 2, []byte{2}),
		frame(2, 3, append([]byte{1, 3, 0, 0, 0}, hash...)),
		frame(2, 4, append([]byte{2, 2, 0, 0, 0}, hash...)),
		frame(2, 5, append([]byte{3, 7, 0}, "disk full"...)),
		frame(1, 6, []byte{3}),
		frame(2, 7, []byte{1, 1}),
		{0x44, 0x31, 2, 1},
		nil,
	}
}

// FuzzWire runs the systems' Rust decoders and the Go reading side by
// side on the same bytes: a crash (a panic aborts the program), a value
// that does not encode back to the same bytes, or any disagreement fails.
func FuzzWire(f *testing.F) {
	for _, s := range seeds() {
		f.Add(false, s)
		f.Add(true, s)
	}
	c := startChecker(f)
	f.Fuzz(func(t *testing.T, seal bool, input []byte) {
		if seal && len(input) >= 14 && len(input)-14 <= 512 {
			// Make the length and CRC right, so mutations reach the
			// payload's decoding instead of stopping at the checksum.
			input = frame(input[3], binary.LittleEndian.Uint32(input[4:]), input[10:len(input)-4])
			input[0], input[1], input[2] = 0x44, 0x31, 1
			binary.LittleEndian.PutUint32(input[len(input)-4:], crc32.ChecksumIEEE(input[:len(input)-4]))
		}
		got, err := c.check(input)
		if err != nil {
			t.Fatalf("diode-check died on %x: %v", input, err)
		}
		if want := refCommand(input) + " | " + refTelemetry(input); got != want {
			t.Fatalf("on %x:\n rust: %s\n   go: %s", input, got, want)
		}
	})
}

// The seeds, and their answers spelled out.
func TestWireSeeds(t *testing.T) {
	c := startChecker(t)
	want := []string{
		"seq 1 store 6669727374207265636f7264 | error WrongKind",
		"seq 2 status | error WrongKind",
		"error WrongKind | seq 3 ledger 3 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"error WrongKind | seq 4 stored 2 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"error WrongKind | seq 5 error-report 7 6469736b2066756c6c",
		"error Payload | error WrongKind",
		"error WrongKind | error Payload",
		"error Short | error Short",
		"error Short | error Short",
	}
	for i, s := range seeds() {
		got, err := c.check(s)
		if err != nil || got != want[i] {
			t.Errorf("seed %d: got %q (%v), want %q", i, got, err, want[i])
		}
	}
}
