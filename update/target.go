package update

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/pointsav/plinth/image"
)

// Target is a plinth disk: a disk image file or a block device, with the
// partitions its MBR describes.
type Target struct {
	Path  string
	f     *os.File
	parts [4]extent
}

type extent struct{ off, size int64 }

// OpenTarget opens a disk for reading, or for writing too.
func OpenTarget(path string, write bool) (*Target, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	t := &Target{Path: path, f: f}
	if err := t.readTable(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Close closes the disk.
func (t *Target) Close() error { return t.f.Close() }

func (t *Target) readTable() error {
	mbr := make([]byte, 512)
	if _, err := t.f.ReadAt(mbr, 0); err != nil {
		return fmt.Errorf("reading the partition table: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xaa {
		return fmt.Errorf("no MBR partition table: not a disk plinth made")
	}
	size, err := t.f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	for i := range 4 {
		e := mbr[446+16*i:]
		start, sectors := int64(binary.LittleEndian.Uint32(e[8:])), int64(binary.LittleEndian.Uint32(e[12:]))
		t.parts[i] = extent{start * 512, sectors * 512}
		if sectors == 0 || t.parts[i].off+t.parts[i].size > size {
			return fmt.Errorf("partition %d (%d bytes at %d) is missing or runs past the disk's end (%d bytes): not a whole plinth disk", i+1, t.parts[i].size, t.parts[i].off, size)
		}
	}
	return nil
}

// slotPartition is the partition number of a slot.
func slotPartition(slot string) int {
	if slot == SlotB {
		return image.SlotBPartition
	}
	return image.SlotAPartition
}

// SlotSize is how many bytes a slot holds.
func (t *Target) SlotSize(slot string) int64 { return t.parts[slotPartition(slot)-1].size }

// ReadSlot reads the first n bytes of a slot.
func (t *Target) ReadSlot(slot string, n int64) ([]byte, error) {
	p := t.parts[slotPartition(slot)-1]
	if n > p.size {
		return nil, fmt.Errorf("slot %s holds %d bytes, not %d", slot, p.size, n)
	}
	buf := make([]byte, n)
	if _, err := t.f.ReadAt(buf, p.off); err != nil {
		return nil, fmt.Errorf("reading slot %s: %w", slot, err)
	}
	return buf, nil
}

// State reads the boot selection.
func (t *Target) State() (State, int, error) {
	return ReadState(t.f, t.parts[image.StatePartition-1].off)
}

// WriteState writes s as the next state after prev (copy current).
func (t *Target) WriteState(current int, prev, s State) error {
	return WriteState(t.f, t.parts[image.StatePartition-1].off, current, prev, s)
}

// Provision writes a new disk's first state: slot A, holding the given
// version, is the good one; slot B is empty.
func Provision(t *Target, board, microkit string, version uint64) error {
	data, err := t.ReadSlot(SlotA, t.SlotSize(SlotA))
	if err != nil {
		return err
	}
	s := State{Board: board, Microkit: microkit, Active: SlotA, Budget: DefaultBudget,
		Slots: map[string]SlotState{SlotA: {Version: version, SHA256: sum(data), Size: int64(len(data))}, SlotB: {}}}
	copy0, err := s.Encode() // Seq 0 is copy 0's; copy 1 is left empty
	if err != nil {
		return err
	}
	off := t.parts[image.StatePartition-1].off
	if _, err := t.f.WriteAt(append(copy0, make([]byte, StateCopySize)...), off); err != nil {
		return err
	}
	return t.f.Sync()
}

// StateOffset is where the state partition starts on the disk.
func (t *Target) StateOffset() int64 { return t.parts[image.StatePartition-1].off }

// SlotOffset is where a slot starts on the disk.
func (t *Target) SlotOffset(slot string) int64 { return t.parts[slotPartition(slot)-1].off }
