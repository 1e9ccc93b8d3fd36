package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/internal/proc"
)

// UBootRun boots a build's boot artifacts as the board would: QEMU with
// U-Boot as its firmware, the build's disk image (a copy: the guest may
// write it) attached, and a software TPM that U-Boot's measured boot
// extends. U-Boot's control device tree is QEMU's own, with the key the
// FIT was signed with and event-log memory for the TPM.
type UBootRun struct {
	Board *boards.Board
	UBoot string // U-Boot's binary for the emulated board
	Build string // the build's directory
	Disk  string // the disk image to boot; empty: the build's
	// Signature is a device tree with the /signature node to verify with
	// (the build's signature.dtb), nil for none.
	Signature []byte
	Work      string // a private directory for the run's files
}

// UBootSession is a prepared run: the emulator's command line, and the
// software TPM it talks to (stopped by Close).
type UBootSession struct {
	Command string
	Args    []string
	// TPM is the software TPM's control socket, for reading PCRs after
	// the boot (measure.ReadPCRsFromSwtpm); empty where the emulated
	// board has no TPM.
	TPM   string
	swtpm *exec.Cmd
}

// Close stops the software TPM.
func (s *UBootSession) Close() {
	if s.swtpm != nil && s.swtpm.Process != nil {
		syscall.Kill(-s.swtpm.Process.Pid, syscall.SIGKILL)
		s.swtpm.Process.Kill()
		s.swtpm.Wait()
	}
}

// Prepare starts the software TPM, reads QEMU's device tree for the
// machine, writes the control device tree and the disk's copy, and returns
// the emulator's command line.
func (u UBootRun) Prepare(ctx context.Context) (*UBootSession, error) {
	e := u.Board.Emulator
	if e == nil || e.UBoot == nil {
		return nil, fmt.Errorf("board %s: its board file does not say how QEMU boots it through U-Boot (emulator.uboot)", u.Board.Name)
	}
	if _, err := os.Stat(u.UBoot); err != nil {
		return nil, fmt.Errorf("U-Boot for %s: %w (give --uboot FILE, or PLINTH_UBOOT_QEMU_ARM64; scripts/uboot/build.sh builds one from Debian's source)", u.Board.Name, err)
	}
	ctrl := filepath.Join(u.Work, "tpm-ctrl.sock")
	s := &UBootSession{Command: e.Command}
	if slices.ContainsFunc(e.UBoot.Args, func(a string) bool { return strings.Contains(a, "{tpm}") }) {
		s.TPM = ctrl
		state := filepath.Join(u.Work, "tpm")
		if err := os.MkdirAll(state, 0o700); err != nil {
			return nil, err
		}
		s.swtpm = exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state, "--ctrl", "type=unixio,path="+ctrl, "--flags", "startup-clear")
		s.swtpm.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := s.swtpm.Start(); err != nil {
			return nil, fmt.Errorf("swtpm: %w (apt-get install swtpm)", err)
		}
		for i := 0; i < 200; i++ {
			if _, err := os.Stat(ctrl); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	disk := filepath.Join(u.Work, DiskFile)
	from := u.Disk
	if from == "" {
		from = filepath.Join(u.Build, "boot-uboot", DiskFile)
	}
	if err := builder.CopyFile(from, disk, 0o644); err != nil {
		s.Close()
		return nil, fmt.Errorf("the disk to boot (the build's, with --boot uboot; or --disk): %w", err)
	}
	// The flash bank U-Boot keeps its environment in: the build's
	// environment image at its start (the recipe built U-Boot), else blank.
	flash := filepath.Join(u.Work, "env-flash.img")
	if e.UBoot.EnvFlash != 0 {
		bank := bytes.Repeat([]byte{0xff}, int(e.UBoot.EnvFlash))
		if env, err := os.ReadFile(filepath.Join(u.Build, "u-boot", UBootEnvImage)); err == nil {
			if len(env) > len(bank) {
				s.Close()
				return nil, fmt.Errorf("the environment image (%d bytes) is larger than the flash bank (%d)", len(env), len(bank))
			}
			copy(bank, env)
		}
		if err := os.WriteFile(flash, bank, 0o644); err != nil {
			s.Close()
			return nil, err
		}
	}
	dtb := filepath.Join(u.Work, "control.dtb")
	fill := func(args []string, withDTB bool) []string {
		var out []string
		for i := 0; i < len(args); i++ {
			if args[i] == "-dtb" && !withDTB {
				i++
				continue
			}
			out = append(out, strings.NewReplacer("{uboot}", u.UBoot, "{dtb}", dtb, "{disk}", disk, "{tpm}", ctrl, "{env}", flash).Replace(args[i]))
		}
		return out
	}
	// QEMU's device tree for this machine and these devices, as U-Boot
	// would get it.
	qemuDTB := filepath.Join(u.Work, "qemu.dtb")
	dump := exec.CommandContext(ctx, e.Command, append([]string{"-machine", e.UBoot.Machine + ",dumpdtb=" + qemuDTB}, fill(e.UBoot.Args, false)...)...)
	proc.Bind(dump)
	if out, err := dump.CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s dumpdtb: %v\n%s", e.Command, err, out)
	}
	base, err := os.ReadFile(qemuDTB)
	if err != nil {
		s.Close()
		return nil, err
	}
	if e.UBoot.TPMNode != "" {
		if base, err = image.WithEventLog(base, e.UBoot.TPMNode, e.UBoot.EventLog, 0x10000); err != nil {
			s.Close()
			return nil, err
		}
	}
	if u.Signature != nil {
		if base, err = image.MergeSignature(base, u.Signature); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := os.WriteFile(dtb, base, 0o644); err != nil {
		s.Close()
		return nil, err
	}
	s.Args = append([]string{"-machine", e.UBoot.Machine}, fill(e.UBoot.Args, true)...)
	return s, nil
}
