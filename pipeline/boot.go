package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/recipe"
)

// BootResult is what a boot in the emulator showed.
type BootResult struct {
	Passed  bool
	Matched int    // expectations seen, in order
	Missing string // the first one not seen
	Console string // everything the console printed
	Elapsed time.Duration
	// Exited says the emulator ended by itself, with ExitErr its status
	// (nil for 0), before the expectations were met.
	Exited  bool
	ExitErr error
}

// builder.Tail is the end of the console, for a failure message.
func (b BootResult) Tail(lines int) string { return builder.Tail(b.Console, lines) }

// Boot starts the emulator (command and args, with {image} and {kernel}
// filled in), streams its serial console to console, and passes when every
// expectation appears, in order, within timeout; an expectation that
// sends text types it on the console when all before it were seen. The
// emulator is always
// stopped, by its process id (and its process group's), however the boot
// ends.
func Boot(ctx context.Context, command string, args []string, image, kernel string, expect []recipe.Pattern, timeout time.Duration, console io.Writer) (BootResult, error) {
	return BootUnless(ctx, command, args, image, kernel, expect, nil, timeout, console)
}

// BootUnless is Boot that also fails as soon as the console shows fail
// (a boot loader's refusal, after which it would only start over).
func BootUnless(ctx context.Context, command string, args []string, image, kernel string, expect []recipe.Pattern, fail *regexp.Regexp, timeout time.Duration, console io.Writer) (BootResult, error) {
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = strings.NewReplacer("{image}", image, "{kernel}", kernel).Replace(a)
	}
	cmd := exec.Command(command, argv...)
	// Its own process group, so stopping it stops what it started; and it
	// dies with plinth, even when plinth is killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The console's input: written only by expectations that send.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return BootResult{}, err
	}
	defer stdin.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return BootResult{}, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return BootResult{}, fmt.Errorf("start %s: %w (plinth doctor names its package)", command, err)
	}
	pw.Close()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Process.Kill()
	}
	exited := make(chan error, 1)
	chunks := make(chan []byte, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				chunks <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				close(chunks)
				return
			}
		}
	}()
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var out bytes.Buffer
	res := BootResult{}
	from := 0 // where the next expectation is looked for
	check := func() bool {
		for res.Matched < len(expect) {
			if text := expect[res.Matched].Send; text != "" {
				// A failed write shows as the expectations after it missing.
				io.WriteString(stdin, text)
				res.Matched++
				continue
			}
			_, end := expect[res.Matched].Find(out.String()[from:])
			if end < 0 {
				return false
			}
			from += end
			res.Matched++
		}
		return true
	}
	finish := func(passed bool) (BootResult, error) {
		stop()
		if exited != nil {
			// Reaped before Boot returns: the emulator is gone, not a zombie.
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
			}
		}
		// Closing the read end ends the reader even when something the
		// emulator started still holds the write end.
		pr.Close()
		if chunks != nil {
			for b := range chunks {
				out.Write(b)
			}
		}
		res.Passed = passed
		res.Console = out.String()
		res.Elapsed = time.Since(start)
		if !passed && res.Matched < len(expect) {
			res.Missing = expect[res.Matched].String()
		}
		return res, nil
	}
	for {
		select {
		case b, ok := <-chunks:
			if !ok {
				chunks = nil
				if res.Exited {
					return finish(len(expect) > 0 && check())
				}
				continue
			}
			out.Write(b)
			if console != nil {
				console.Write(b)
			}
			if len(expect) > 0 && check() {
				return finish(true)
			}
			if fail != nil && fail.Match(out.Bytes()) {
				return finish(false)
			}
		case err := <-exited:
			// The emulator ended by itself: judge what it printed once the
			// console is drained (the deadline and Ctrl-C still hold while
			// it drains).
			exited = nil
			res.Exited, res.ExitErr = true, err
			if chunks == nil {
				return finish(len(expect) > 0 && check())
			}
		case <-deadline.C:
			return finish(len(expect) == 0)
		case <-ctx.Done():
			res, _ := finish(false)
			return res, ctx.Err()
		}
	}
}
