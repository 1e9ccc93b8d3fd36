package update

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultBudget is how many times U-Boot boots a slot on trial before it
// falls back (RAUC's default too).
const DefaultBudget = 3

// ApplyOptions are what an installer trusts and how it reports.
type ApplyOptions struct {
	Key crypto.PublicKey
	// Now is the time; zero for a device without a clock, which goes by
	// the latest issue time it has taken.
	Now    time.Time
	Budget int
	// Progress, when set, hears each stage's progress in bytes.
	Progress func(stage string, done, total int64)
}

// Result is what an install did.
type Result struct {
	Slot        string
	Version     uint64
	Installed   uint64 // the version that was running
	Kind        string
	PayloadSize int64
	SlotSize    int64
}

// CheckError is a bundle refused before anything was written; Check names
// the check that failed.
type CheckError struct {
	Check string
	Err   error
}

func (e *CheckError) Error() string { return fmt.Sprintf("%s: %v", e.Check, e.Err) }
func (e *CheckError) Unwrap() error { return e.Err }

func refuse(check string, f string, a ...any) error {
	return &CheckError{check, fmt.Errorf(f, a...)}
}

// Apply installs a bundle on a plinth disk. Every check comes first, and
// the new slot is made in memory and checked; nothing is written unless
// all pass. Then the inactive slot is written, synced and read back, and
// only then does the state switch, naming the new slot on trial.
func Apply(bundle io.Reader, t *Target, o ApplyOptions) (*Result, error) {
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.Progress == nil {
		o.Progress = func(string, int64, int64) {}
	}
	st, cur, err := t.State()
	if err != nil {
		return nil, refuse("target", "%v", err)
	}
	br, err := Open(bundle, o.Key)
	if err != nil {
		return nil, refuse("bundle", "%v", err)
	}
	m := br.Manifest
	if err := m.Compatible(st); err != nil {
		return nil, refuse("compatibility", "%v", err)
	}
	installed := st.Slots[st.Active].Version
	res := &Result{Slot: Other(st.Active), Version: m.Version, Installed: installed, Kind: m.Payloads[0].Kind, PayloadSize: m.Payloads[0].Size, SlotSize: m.Slot.Size}
	switch {
	case m.Version <= installed:
		return nil, refuse("version", "the bundle's version %d is not above the installed %d (rollback refused)", m.Version, installed)
	case m.Version < st.Floor:
		return nil, refuse("floor", "the bundle's version %d is below the device's floor %d", m.Version, st.Floor)
	case installed < m.MinInstalled:
		return nil, refuse("version", "the bundle replaces version %d or later; the device runs %d", m.MinInstalled, installed)
	}
	issued, _ := time.Parse(time.RFC3339, m.Issued)
	expires, _ := time.Parse(time.RFC3339, m.Expires)
	now, clock := o.Now, "the host's clock"
	if last := time.Unix(st.Clock, 0); o.Now.IsZero() || last.After(o.Now) {
		now, clock = last, "the latest issue time the device has taken (its clock)"
	}
	if !now.Before(expires) {
		return nil, refuse("expiry", "the bundle expired at %s; %s says %s", m.Expires, clock, now.UTC().Format(time.RFC3339))
	}
	if m.Slot.Size > t.SlotSize(res.Slot) {
		return nil, refuse("size", "the bundle's slot is %d bytes; slot %s holds %d", m.Slot.Size, res.Slot, t.SlotSize(res.Slot))
	}
	base := func(want File) ([]byte, error) {
		have := st.Slots[st.Active]
		if have.SHA256 != want.SHA256 || have.Size != want.Size {
			return nil, refuse("delta base", "the delta is made against slot bytes %.16s… (version %d); the installed slot %s holds %.16s… (version %d)", want.SHA256, m.Delta.BaseVersion, st.Active, have.SHA256, installed)
		}
		data, err := t.ReadSlot(st.Active, want.Size)
		if err != nil {
			return nil, err
		}
		if sum(data) != want.SHA256 {
			return nil, refuse("delta base", "slot %s no longer holds the bytes the state records: it cannot serve as the delta's base", st.Active)
		}
		return data, nil
	}
	payload, err := br.Payload()
	if err != nil {
		return nil, refuse("payload", "%v", err)
	}
	slot, err := m.MakeSlot(payload, base)
	if err != nil {
		if _, ok := err.(*CheckError); ok {
			return nil, err
		}
		return nil, refuse("payload", "%v", err)
	}

	// Everything is checked. If the slot to be written could boot (it is
	// on trial), it is taken out of the selection first.
	if st.Booting() == res.Slot || st.Trial == res.Slot {
		next := st
		next.Trial, next.Left = "", 0
		next.Slots = cloneSlots(st.Slots)
		next.Slots[res.Slot] = SlotState{}
		if err := t.WriteState(cur, st, next); err != nil {
			return nil, err
		}
		if st, cur, err = t.State(); err != nil {
			return nil, err
		}
	}
	if err := t.writeSlot(res.Slot, slot, o.Progress); err != nil {
		return nil, err
	}
	back, err := t.ReadSlot(res.Slot, int64(len(slot)))
	if err != nil {
		return nil, err
	}
	o.Progress("read back", int64(len(back)), int64(len(slot)))
	if !bytes.Equal(back, slot) {
		return nil, fmt.Errorf("slot %s does not read back as written: the boot selection is unchanged", res.Slot)
	}
	next := st
	next.Slots = cloneSlots(st.Slots)
	next.Slots[res.Slot] = SlotState{Version: m.Version, SHA256: m.Slot.SHA256, Size: m.Slot.Size, Floor: m.Floor}
	next.Trial, next.Left, next.Budget, next.Failed = res.Slot, o.Budget, o.Budget, ""
	next.Clock = max(st.Clock, issued.Unix())
	if err := t.WriteState(cur, st, next); err != nil {
		return nil, err
	}
	o.Progress("switched", 1, 1)
	return res, nil
}

func cloneSlots(m map[string]SlotState) map[string]SlotState {
	out := map[string]SlotState{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeChunk is how much of a slot is written between progress reports.
const writeChunk = 256 << 10

func (t *Target) writeSlot(slot string, data []byte, progress func(string, int64, int64)) error {
	p := t.parts[slotPartition(slot)-1]
	info, err := t.f.Stat()
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += writeChunk {
		end := min(len(data), off+writeChunk)
		// In a disk image file, a chunk of zeros becomes a hole: it
		// reads back as zeros, and the image stays sparse.
		if info.Mode().IsRegular() && isZero(data[off:end]) && punchHole(t.f, p.off+int64(off), int64(end-off)) == nil {
			progress("write", int64(end), int64(len(data)))
			continue
		}
		if _, err := t.f.WriteAt(data[off:end], p.off+int64(off)); err != nil {
			return fmt.Errorf("writing slot %s: %w", slot, err)
		}
		progress("write", int64(end), int64(len(data)))
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("writing slot %s: %w", slot, err)
	}
	return nil
}

// Confirm marks the slot on trial good: it becomes the active slot, and
// the device's floor rises to what its bundle set. A slot U-Boot has not
// booted yet is not confirmed unless force is set.
func Confirm(t *Target, force bool) (State, error) {
	st, cur, err := t.State()
	if err != nil {
		return State{}, err
	}
	if st.Trial == "" {
		return st, fmt.Errorf("no slot is on trial; slot %s (version %d) is the good one", st.Active, st.Slots[st.Active].Version)
	}
	if st.Left >= st.Budget && !force {
		return st, fmt.Errorf("slot %s is on trial but has not been booted yet; boot it first (or give --force)", st.Trial)
	}
	next := st
	next.Active, next.Trial, next.Left = st.Trial, "", 0
	next.Floor = max(st.Floor, st.Slots[st.Trial].Floor)
	if err := t.WriteState(cur, st, next); err != nil {
		return st, err
	}
	st, _, err = t.State()
	return st, err
}

// punchHole deallocates a file's range, which then reads as zeros.
func punchHole(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}
