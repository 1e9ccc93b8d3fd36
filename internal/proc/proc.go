// Package proc binds the processes plinth starts to plinth's life: each
// runs in a process group of its own, cancelling its context kills the
// whole group, and it dies with plinth even when plinth is killed with
// SIGKILL (the kernel's parent-death signal).
package proc

import (
	"os/exec"
	"syscall"
	"time"
)

// Bind sets up cmd (made with exec.CommandContext) so that cancelling its
// context kills its whole process group, a child that keeps the output
// open cannot make Wait hang, and plinth's death kills it.
func Bind(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
}

// Supervised is argv run by a shell that leads the process group and, when
// plinth dies (its parent-death signal, SIGTERM), kills the whole group:
// the parent-death signal reaches only a direct child, not the compilers
// and linkers a build tool starts under it. The command runs with umask
// 022 and no input.
func Supervised(argv []string) (string, []string) {
	return "/bin/sh", append([]string{"-c", `umask 022; trap 'kill -KILL 0' TERM; "$@" </dev/null & wait $!`, "sh"}, argv...)
}

// BindSupervised is Bind for a command made from Supervised: plinth's death
// sends its shell SIGTERM, which it turns into SIGKILL for the group.
func BindSupervised(cmd *exec.Cmd) {
	Bind(cmd)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
