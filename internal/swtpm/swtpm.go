// Package swtpm starts software TPMs for tests.
package swtpm

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// Start runs a software TPM (swtpm) on two free ports on 127.0.0.1 for
// the test, stopped when it ends, and returns its name for a key file
// (swtpm:HOST:PORT). The test is skipped where swtpm is not installed.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("no swtpm (apt-get install swtpm)")
	}
	for try := 0; try < 10; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1)); err != nil {
			continue
		} else {
			l2.Close()
		}
		cmd := exec.Command(bin, "socket", "--tpm2", "--tpmstate", "dir="+t.TempDir(),
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--flags", "not-need-init,startup-clear")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return fmt.Sprintf("swtpm:127.0.0.1:%d", port)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("swtpm did not start")
	}
	t.Fatal("no free port pair")
	return ""
}
