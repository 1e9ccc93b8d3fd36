package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/recipe"
)

// tinyProgram builds a bare-metal AArch64 program that prints to the
// PL011 UART of QEMU's virt machine, then echoes each character it
// receives as <c>, as a raw binary loaded at 0x70000000 like a Microkit
// image.
func tinyProgram(t *testing.T, text string) string {
	t.Helper()
	gcc, err := exec.LookPath("aarch64-linux-gnu-gcc")
	if err != nil {
		t.Skip("no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu)")
	}
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Skip("no qemu-system-aarch64 (apt-get install qemu-system-arm)")
	}
	dir := t.TempDir()
	src := `void _start(void) {
	volatile unsigned int *uart = (unsigned int *)0x09000000;
	const char *s = "` + text + `";
	for (int round = 0; round < 2; round++)
		for (const char *p = s; *p; p++) *uart = *p;
	for (;;) {
		while (uart[0x18 / 4] & (1 << 4)) {} /* RXFE: nothing received */
		char c = uart[0];
		uart[0] = '<'; uart[0] = c; uart[0] = '>';
	}
}
`
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte(src), 0o644)
	for _, argv := range [][]string{
		{gcc, "-nostdlib", "-ffreestanding", "-O2", "-mgeneral-regs-only", "-static", "-no-pie", "-Wl,-Ttext=0x70000000", "-Wl,-e,_start", "-Wl,--build-id=none", "-o", "prog.elf", "prog.c"},
		{"aarch64-linux-gnu-objcopy", "-O", "binary", "prog.elf", "prog.bin"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	return filepath.Join(dir, "prog.bin")
}

func qemuBoard(t *testing.T) *boards.Board {
	var d diag.List
	b, _ := boards.Select(&d, []string{"qemu_virt_aarch64"}, boards.Embedded()).Get("qemu_virt_aarch64")
	return b
}

func patterns(t *testing.T, yamlList string) []recipe.Pattern {
	var d diag.List
	r := recipe.Parse("r.yaml", []byte("name: x\ndescription: x\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\nsources: {}\nexpect:\n  boot:\n    timeout: 10s\n    serial: "+yamlList+"\n"), &d)
	if d.HasErrors() {
		t.Fatal(d.Items())
	}
	return r.Expect.Boot.Serial
}

// Real QEMU, real serial: the expectations are met in order and QEMU is
// stopped; an expectation that never comes fails at the timeout with the
// console; QEMU is gone either way.
func TestBootInQEMU(t *testing.T) {
	img := tinyProgram(t, "plinth boot test: alpha beta\\n")
	b := qemuBoard(t)
	var console strings.Builder
	res, err := Boot(context.Background(), b.Emulator.Command, b.Emulator.Args, img, "", patterns(t, `["alpha", {regex: "b.ta"}, "alpha"]`), 20*time.Second, &console)
	if err != nil || !res.Passed || res.Matched != 3 || !strings.Contains(console.String(), "plinth boot test") {
		t.Fatalf("%v %+v\n%s", err, res, console.String())
	}
	if res.Elapsed > 15*time.Second {
		t.Errorf("took %v", res.Elapsed)
	}
	res, err = Boot(context.Background(), b.Emulator.Command, b.Emulator.Args, img, "", patterns(t, `["alpha", "gamma"]`), 2*time.Second, nil)
	if err != nil || res.Passed || res.Matched != 1 || res.Missing != `"gamma"` || !strings.Contains(res.Tail(5), "alpha beta") {
		t.Fatalf("%v %+v", err, res)
	}
	// Typing on the console once what comes before was seen. QEMU is
	// started through a shell that writes its process id, so the test can
	// see it is gone afterwards (by id, never by name).
	pidFile := filepath.Join(t.TempDir(), "qemu.pid")
	args := append([]string{"-c", `echo $$ > "$0"; exec "$@"`, pidFile, b.Emulator.Command}, b.Emulator.Args...)
	res, err = Boot(context.Background(), "sh", args, img, "", patterns(t, `["beta", {send: "xy"}, "<x><y>"]`), 20*time.Second, nil)
	if err != nil || !res.Passed || res.Matched != 3 {
		t.Fatalf("send: %v %+v", err, res)
	}
	if strings.Contains(res.Console, "<") && strings.Index(res.Console, "<x>") < strings.Index(res.Console, "beta") {
		t.Errorf("echo before the text it waited for:\n%s", res.Console)
	}
	b2, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b2)))
	if err != nil {
		t.Fatalf("QEMU's pid: %q", b2)
	}
	// Boot has waited for it: it is gone, not even a zombie.
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("QEMU (pid %d) is still there: %v", pid, err)
	}
}

func TestToolDiagnosticsPointIntoTheSystem(t *testing.T) {
	out := "+ sdk/bin/microkit system.system ...\nError: invalid attribute 'colour' on element 'protection_domain': system.system:3:5\nError: \"unable to find program image: 'hello.elf'\"\n"
	got := toolDiagnostics(out, "/src/example/hello/hello.system")
	want := "/src/example/hello/hello.system:3:5: error: invalid attribute 'colour' on element 'protection_domain'\n/src/example/hello/hello.system: error: unable to find program image: 'hello.elf'"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// An emulator that exits at once ends the run at once, with its status and
// console, whether its exit or the end of its console is seen first; one
// that closes its console and lingers still ends at the timeout.
func TestBootEndsWhenTheEmulatorExits(t *testing.T) {
	expect := []recipe.Pattern{{Literal: "hello, world"}}
	for _, script := range []string{
		"echo boom; exit 3",
		"exec >&- 2>&-; sleep 0.3; exit 3",
		"echo boom; exec >&- 2>&-; exit 3",
	} {
		for i := 0; i < 5; i++ {
			start := time.Now()
			res, err := Boot(context.Background(), "sh", []string{"-c", script}, "", "", expect, 20*time.Second, nil)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%q: the boot did not end when the emulator exited", script)
			}
			if res.Passed || !res.Exited || res.ExitErr == nil || !strings.Contains(res.ExitErr.Error(), "exit status 3") {
				t.Errorf("%q: %+v", script, res)
			}
		}
	}
	// Closes its console but does not exit: the timeout ends it.
	start := time.Now()
	res, _ := Boot(context.Background(), "sh", []string{"-c", "exec >&- 2>&-; sleep 30"}, "", "", expect, 500*time.Millisecond, nil)
	if res.Passed || time.Since(start) > 10*time.Second {
		t.Errorf("a silent emulator: %+v after %s", res, time.Since(start))
	}
	// Ctrl-C ends it too.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := Boot(ctx, "sh", []string{"-c", "exec >&- 2>&-; sleep 30"}, "", "", expect, 20*time.Second, nil); err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("cancelled: %v after %s", err, time.Since(start))
	}
}
