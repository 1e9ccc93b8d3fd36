package measure

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/sys/unix"
)

var bankAlg = map[string]tpm2.TPMIAlgHash{"sha1": tpm2.TPMAlgSHA1, "sha256": tpm2.TPMAlgSHA256, "sha384": tpm2.TPMAlgSHA384}

// swtpm's control channel command that hands it the socket TPM commands
// come over (PTM_SET_DATAFD in its tpm_ioctl.h), as QEMU does.
const ptmSetDataFD = 16

// ReadPCRsFromSwtpm reads PCRs from a software TPM after the emulator that
// used it is gone: through its control channel (a Unix socket) it is given
// a new socket for commands, as QEMU gives it one, and the PCRs are read
// over that. Nothing resets the TPM in between, so they are what the boot
// left.
func ReadPCRsFromSwtpm(ctrl string, pcrs []int) (map[string]map[int][]byte, error) {
	c, err := net.DialTimeout("unix", ctrl, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("the TPM's control channel: %w", err)
	}
	defer c.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	mine := os.NewFile(uintptr(fds[0]), "tpm-commands")
	defer mine.Close()
	theirs := os.NewFile(uintptr(fds[1]), "tpm-commands-swtpm")
	cmd := binary.BigEndian.AppendUint32(nil, ptmSetDataFD)
	_, _, err = c.(*net.UnixConn).WriteMsgUnix(cmd, unix.UnixRights(int(theirs.Fd())), nil)
	theirs.Close()
	if err != nil {
		return nil, fmt.Errorf("the TPM's control channel: %w", err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	res := make([]byte, 4)
	if _, err := io.ReadFull(c, res); err != nil {
		return nil, fmt.Errorf("the TPM's control channel: %w", err)
	}
	if r := binary.BigEndian.Uint32(res); r != 0 {
		return nil, fmt.Errorf("the TPM refused a command socket (result %#x)", r)
	}
	conn, err := net.FileConn(mine)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return readPCRs(conn, pcrs)
}

// readPCRs reads PCRs in every bank of Banks over a connection speaking
// the TPM 2.0 command protocol.
func readPCRs(conn net.Conn, pcrs []int) (map[string]map[int][]byte, error) {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	tpm := transport.FromReadWriter(conn)
	out := map[string]map[int][]byte{}
	for _, bank := range Banks {
		out[bank] = map[int][]byte{}
		// One PCR a command: a TPM returns at most 8 digests per read.
		for _, pcr := range pcrs {
			sel := make([]byte, 3)
			sel[pcr/8] |= 1 << (pcr % 8)
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: bankAlg[bank], PCRSelect: sel}}}}.Execute(tpm)
			if err != nil {
				return nil, fmt.Errorf("the TPM: reading %s PCR %d: %w", bank, pcr, err)
			}
			if len(rsp.PCRValues.Digests) != 1 {
				return nil, fmt.Errorf("the TPM has no %s bank (%d values for PCR %d)", bank, len(rsp.PCRValues.Digests), pcr)
			}
			out[bank][pcr] = rsp.PCRValues.Digests[0].Buffer
		}
	}
	return out, nil
}
