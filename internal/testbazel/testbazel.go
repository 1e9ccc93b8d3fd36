// Package testbazel starts a real bazel-remote on 127.0.0.1 for tests of
// plinth's shared cache: PLINTH_BAZEL_REMOTE names the binary (.ci/run
// builds it), else one on PATH; without either the test is skipped.
package testbazel

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Server is a running bazel-remote: HTTP is http://127.0.0.1:PORT, GRPC is
// 127.0.0.1:PORT, Dir is where it stores what it is sent.
type Server struct {
	HTTP, GRPC, Dir string
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs bazel-remote (blobs stored uncompressed, plinth's action
// records taken over HTTP), with extra flags, until the test ends; it is
// followed by its process id.
func Start(tb testing.TB, extra ...string) Server {
	tb.Helper()
	bin := os.Getenv("PLINTH_BAZEL_REMOTE")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("bazel-remote"); err != nil {
			tb.Skip("no bazel-remote (set PLINTH_BAZEL_REMOTE; .ci/run builds one)")
		}
	}
	httpAddr, grpcAddr := freeAddr(tb), freeAddr(tb)
	s := Server{HTTP: "http://" + httpAddr, GRPC: grpcAddr, Dir: tb.TempDir()}
	args := append([]string{"--dir", s.Dir, "--max_size", "1", "--storage_mode", "uncompressed", "--disable_http_ac_validation",
		"--http_address", httpAddr, "--grpc_address", grpcAddr}, extra...)
	cmd := exec.Command(bin, args...)
	log, err := os.Create(filepath.Join(tb.TempDir(), "bazel-remote.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); log.Close() })
	for range 200 {
		if up(httpAddr) && up(grpcAddr) {
			return s
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := os.ReadFile(log.Name())
	tb.Fatalf("bazel-remote did not start:\n%s", b)
	return s
}

func up(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// GRPCURL is the server's gRPC address as plinth's --remote-cache takes it.
func (s Server) GRPCURL() string { return fmt.Sprintf("grpc://%s", s.GRPC) }
