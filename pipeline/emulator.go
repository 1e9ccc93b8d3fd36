package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pointsav/plinth/recipe"
)

// Emulator is one running emulator whose serial console is kept, so that
// several can run at once and be driven by one script: wait for a text on
// one, type on another, restart a third.
type Emulator struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	out    bytes.Buffer
	grew   chan struct{} // closed and replaced whenever out grows or the emulator ends
	exited bool
	err    error
}

// StartEmulator starts command with args ({image} filled in) in its own
// process group, dying with plinth; its console also goes to console.
func StartEmulator(command string, args []string, image string, console io.Writer) (*Emulator, error) {
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.ReplaceAll(a, "{image}", image)
	}
	e := &Emulator{cmd: exec.Command(command, argv...), grew: make(chan struct{})}
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := e.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	e.stdin = stdin
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	e.cmd.Stdout, e.cmd.Stderr = pw, pw
	if err := e.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", command, err)
	}
	pw.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			e.mu.Lock()
			if n > 0 {
				e.out.Write(buf[:n])
				if console != nil {
					console.Write(buf[:n])
				}
			}
			if err != nil {
				e.exited = true
			}
			close(e.grew)
			e.grew = make(chan struct{})
			e.mu.Unlock()
			if err != nil {
				pr.Close()
				e.err = e.cmd.Wait()
				return
			}
		}
	}()
	return e, nil
}

// Console is everything the console printed so far.
func (e *Emulator) Console() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.String()
}

// Send types text on the console.
func (e *Emulator) Send(text string) error {
	_, err := io.WriteString(e.stdin, text)
	return err
}

// WaitFor waits until p appears in the console after offset from, and
// returns where it ends; ctx bounds the wait.
func (e *Emulator) WaitFor(ctx context.Context, p recipe.Pattern, from int) (int, error) {
	for {
		e.mu.Lock()
		text, grew, exited := e.out.String(), e.grew, e.exited
		e.mu.Unlock()
		if from > len(text) {
			from = len(text)
		}
		if _, end := p.Find(text[from:]); end >= 0 {
			return from + end, nil
		}
		if exited {
			return from, fmt.Errorf("the emulator exited before %s appeared", p.String())
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return from, fmt.Errorf("%s did not appear: %w", p.String(), ctx.Err())
		}
	}
}

// Stop kills the emulator (its process group) and waits for it.
func (e *Emulator) Stop() {
	syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
	e.cmd.Process.Kill()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		e.mu.Lock()
		done := e.exited
		e.mu.Unlock()
		if done {
			return
		}
	}
}
