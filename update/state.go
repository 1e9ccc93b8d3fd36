package update

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/image"
)

// The state partition holds two copies of the state, each a U-Boot
// environment in the form `env import -c` reads (a CRC-32, then
// NAME=VALUE strings), one after the other. A writer always overwrites the
// older copy with a sequence number one higher; a reader takes the valid
// copy with the higher number. A write cut short spoils only the copy being
// written, and the other still holds the state from before.
const (
	StateCopySize = 4096
	// StateCopyBlocks is a copy's size in 512-byte blocks, for U-Boot's
	// read and write commands.
	StateCopyBlocks = StateCopySize / 512
)

// Slot names, as the state and the boot script write them.
const (
	SlotA = "a"
	SlotB = "b"
)

// SlotState is what the state records of one slot.
type SlotState struct {
	Version uint64
	SHA256  string // of the slot's bytes as written (Size of them)
	Size    int64
	Floor   uint64 // the floor its bundle sets once it is confirmed
}

// State is the boot selection and what the installer knows of the device.
type State struct {
	Seq      uint64
	Board    string
	Microkit string
	Active   string // the slot booted when no slot is on trial
	Trial    string // the slot on trial, or ""
	Left     int    // boot attempts the slot on trial has left
	Budget   int    // the attempts it had
	Failed   string // the last slot that was never confirmed, or ""
	// Floor is the lowest bundle version the device takes (its
	// anti-rollback counter), raised when a slot is confirmed.
	Floor uint64
	// Clock is the latest issue time (Unix seconds) of a bundle the device
	// took: a device without a clock treats it as "now" for expiry.
	Clock int64
	Slots map[string]SlotState
}

// Other is the slot that is not s.
func Other(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// Booting is the slot the boot script picks next.
func (s State) Booting() string {
	if s.Trial != "" && s.Left > 0 {
		return s.Trial
	}
	return s.Active
}

// stateVar is one variable of the state, with how it reads and writes.
type stateVar struct {
	name string
	get  func(*State) string
	set  func(*State, string) error
}

func textVar(name string, f func(*State) *string) stateVar {
	return stateVar{name,
		func(s *State) string { return orNone(*f(s)) },
		func(s *State, v string) error { *f(s) = fromNone(v); return nil }}
}

func numVar(name string, f func(*State) *uint64) stateVar {
	return stateVar{name,
		func(s *State) string { return "0x" + strconv.FormatUint(*f(s), 16) },
		func(s *State, v string) (err error) { *f(s), err = strconv.ParseUint(v, 0, 64); return err }}
}

func slotVars(slot string) []stateVar {
	get := func(s *State) SlotState { return s.Slots[slot] }
	put := func(s *State, f func(*SlotState)) {
		if s.Slots == nil {
			s.Slots = map[string]SlotState{}
		}
		v := s.Slots[slot]
		f(&v)
		s.Slots[slot] = v
	}
	return []stateVar{
		{"plinth_" + slot + "_version",
			func(s *State) string { return "0x" + strconv.FormatUint(get(s).Version, 16) },
			func(s *State, v string) error {
				n, err := strconv.ParseUint(v, 0, 64)
				put(s, func(x *SlotState) { x.Version = n })
				return err
			}},
		{"plinth_" + slot + "_sha256",
			func(s *State) string { return orNone(get(s).SHA256) },
			func(s *State, v string) error { put(s, func(x *SlotState) { x.SHA256 = fromNone(v) }); return nil }},
		{"plinth_" + slot + "_floor",
			func(s *State) string { return "0x" + strconv.FormatUint(get(s).Floor, 16) },
			func(s *State, v string) error {
				n, err := strconv.ParseUint(v, 0, 64)
				put(s, func(x *SlotState) { x.Floor = n })
				return err
			}},
		{"plinth_" + slot + "_size",
			func(s *State) string { return "0x" + strconv.FormatInt(get(s).Size, 16) },
			func(s *State, v string) error {
				n, err := strconv.ParseInt(v, 0, 64)
				put(s, func(x *SlotState) { x.Size = n })
				return err
			}},
	}
}

// stateVars are every variable of the state. All have a value ("none"
// for nothing): U-Boot deletes a variable imported empty, and its export
// would then drop it.
var stateVars = append([]stateVar{
	numVar("plinth_seq", func(s *State) *uint64 { return &s.Seq }),
	textVar("plinth_board", func(s *State) *string { return &s.Board }),
	textVar("plinth_microkit", func(s *State) *string { return &s.Microkit }),
	textVar("plinth_active", func(s *State) *string { return &s.Active }),
	textVar("plinth_trial", func(s *State) *string { return &s.Trial }),
	{"plinth_left",
		func(s *State) string { return "0x" + strconv.FormatInt(int64(s.Left), 16) },
		func(s *State, v string) error { n, err := strconv.ParseInt(v, 0, 32); s.Left = int(n); return err }},
	{"plinth_budget",
		func(s *State) string { return "0x" + strconv.FormatInt(int64(s.Budget), 16) },
		func(s *State, v string) error { n, err := strconv.ParseInt(v, 0, 32); s.Budget = int(n); return err }},
	textVar("plinth_failed", func(s *State) *string { return &s.Failed }),
	numVar("plinth_floor", func(s *State) *uint64 { return &s.Floor }),
	{"plinth_clock",
		func(s *State) string { return "0x" + strconv.FormatInt(s.Clock, 16) },
		func(s *State, v string) (err error) { s.Clock, err = strconv.ParseInt(v, 0, 64); return err }},
}, append(slotVars(SlotA), slotVars(SlotB)...)...)

// StateVarNames are the state's variable names, for the boot script's
// `env export`.
func StateVarNames() []string {
	var names []string
	for _, v := range stateVars {
		names = append(names, v.name)
	}
	return names
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func fromNone(s string) string {
	if s == "none" {
		return ""
	}
	return s
}

// Encode is one copy of the state.
func (s State) Encode() ([]byte, error) {
	vars := map[string]string{}
	for _, v := range stateVars {
		vars[v.name] = v.get(&s)
	}
	return image.Env(vars, StateCopySize, false)
}

// errNoCopy is a copy that does not hold a state: never written, or torn.
var errNoCopy = errors.New("no valid state")

// DecodeState reads one copy.
func DecodeState(copy []byte) (State, error) {
	if len(copy) != StateCopySize {
		return State{}, fmt.Errorf("a state copy is %d bytes, not %d", len(copy), StateCopySize)
	}
	if binary.LittleEndian.Uint32(copy) != crc32.ChecksumIEEE(copy[4:]) {
		return State{}, errNoCopy
	}
	vars := map[string]string{}
	for _, kv := range bytes.Split(copy[4:], []byte{0}) {
		if len(kv) == 0 {
			break
		}
		k, v, _ := strings.Cut(string(kv), "=")
		vars[k] = v
	}
	var s State
	for _, v := range stateVars {
		val, ok := vars[v.name]
		if !ok {
			return State{}, fmt.Errorf("the state has no %s", v.name)
		}
		if err := v.set(&s, val); err != nil {
			return State{}, fmt.Errorf("the state's %s=%q: %w", v.name, val, err)
		}
	}
	for _, slot := range []string{s.Active, s.Trial, s.Failed} {
		if slot != "" && slot != SlotA && slot != SlotB {
			return State{}, fmt.Errorf("the state names slot %q; slots are a and b", slot)
		}
	}
	if s.Active == "" {
		return State{}, fmt.Errorf("the state has no active slot")
	}
	return s, nil
}

// ReadState reads both copies from the state partition at off and returns
// the newer valid one, and which copy it is (0 or 1).
func ReadState(r io.ReaderAt, off int64) (State, int, error) {
	best, which := State{}, -1
	var problems []string
	for i := range 2 {
		buf := make([]byte, StateCopySize)
		if _, err := r.ReadAt(buf, off+int64(i)*StateCopySize); err != nil {
			return State{}, -1, fmt.Errorf("reading the state: %w", err)
		}
		s, err := DecodeState(buf)
		if err != nil {
			if !errors.Is(err, errNoCopy) {
				problems = append(problems, fmt.Sprintf("copy %d: %v", i, err))
			}
			continue
		}
		if which < 0 || s.Seq > best.Seq {
			best, which = s, i
		}
	}
	if which < 0 {
		if len(problems) > 0 {
			return State{}, -1, fmt.Errorf("the state partition holds no valid state (%s)", strings.Join(problems, "; "))
		}
		return State{}, -1, fmt.Errorf("the state partition holds no plinth state: not a disk plinth made, or never provisioned")
	}
	return best, which, nil
}

// WriteState writes s, one sequence number past the current copy's, over
// the other copy (copy 0 when there is no current one), and syncs.
func WriteState(w io.WriterAt, off int64, current int, prev, s State) error {
	s.Seq = prev.Seq + 1
	target := 0
	if current == 0 {
		target = 1
	}
	data, err := s.Encode()
	if err != nil {
		return err
	}
	if _, err := w.WriteAt(data, off+int64(target)*StateCopySize); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	if f, ok := w.(interface{ Sync() error }); ok {
		return f.Sync()
	}
	return nil
}

// Slots is the two slot names in order.
var Slots = []string{SlotA, SlotB}
