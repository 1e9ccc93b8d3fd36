// Package measure predicts what a board's measured boot leaves in its TPM:
// the events its boot loader logs and extends, and the PCR values each
// hash bank holds afterwards, from the built image and the board's boot
// chain. The log is written as TCG canonical event log JSON (CEL-JSON).
package measure

import (
	"crypto"
	_ "crypto/sha1" // the sha1 bank
	_ "crypto/sha256"
	_ "crypto/sha512" // sha384
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
)

// Banks are the PCR banks plinth predicts, by their TCG names.
var Banks = []string{"sha1", "sha256", "sha384"}

var bankHash = map[string]crypto.Hash{"sha1": crypto.SHA1, "sha256": crypto.SHA256, "sha384": crypto.SHA384}

// TCG PC Client event types a U-Boot measured boot logs.
const (
	EvSeparator           = 0x04
	EvSCRTMVersion        = 0x08
	EvPlatformConfigFlags = 0x0A
	EvTableOfDevices      = 0x0B
	EvCompactHash         = 0x0C
)

var eventNames = map[uint32]string{
	EvSeparator: "EV_SEPARATOR", EvSCRTMVersion: "EV_S_CRTM_VERSION", EvPlatformConfigFlags: "EV_PLATFORM_CONFIG_FLAGS",
	EvTableOfDevices: "EV_TABLE_OF_DEVICES", EvCompactHash: "EV_COMPACT_HASH",
}

// Event is one measurement: what is hashed into which PCR, and what the
// log records about it.
type Event struct {
	PCR     int
	Type    uint32
	Data    []byte // what is hashed and extended
	Log     []byte // the event data the log keeps (for some types, a label)
	Digests map[string][]byte
}

// Prediction is a boot's events and the PCR values they leave, per bank.
type Prediction struct {
	Events []Event
	PCRs   map[string]map[int][]byte // bank -> PCR -> value
}

// UBootBootm is what U-Boot's bootm measures (CONFIG_MEASURED_BOOT,
// boot/bootm.c bootm_measure and lib/tpm_tcg2.c): its version string into
// PCR 0; the OS image into PCR 8 and the initrd into PCR 9, both
// EV_COMPACT_HASH labelled "linux" and "initrd"; with
// CONFIG_MEASURE_DEVICETREE (on by default) the device tree into PCR 1
// (EV_TABLE_OF_DEVICES, "dts"); the bootargs with their NUL into PCR 1
// (EV_PLATFORM_CONFIG_FLAGS); then a separator (0xffffffff) into PCRs 0-7.
// An initrd or device tree that is not there (at address 0) has its label
// hashed instead: U-Boot hashes the event data when there is no data.
type UBootBootm struct {
	Version    string // U-Boot's version string, as its banner prints it
	Image      []byte // the OS image as bootm finds it (a FIT's kernel data; a uImage's payload)
	Initrd     []byte // nil: none
	DeviceTree []byte // nil: none
	MeasureDTB bool
	Bootargs   string
}

// Events lists the chain's measurements in the order U-Boot makes them.
func (u UBootBootm) Events() []Event {
	cstr := func(s string) []byte { return append([]byte(s), 0) }
	orLabel := func(data []byte, label string) []byte {
		if data == nil {
			return cstr(label)
		}
		return data
	}
	events := []Event{
		{PCR: 0, Type: EvSCRTMVersion, Data: cstr(u.Version), Log: cstr(u.Version)},
		{PCR: 8, Type: EvCompactHash, Data: u.Image, Log: cstr("linux")},
		{PCR: 9, Type: EvCompactHash, Data: orLabel(u.Initrd, "initrd"), Log: cstr("initrd")},
	}
	if u.MeasureDTB {
		events = append(events, Event{PCR: 1, Type: EvTableOfDevices, Data: orLabel(u.DeviceTree, "dts"), Log: cstr("dts")})
	}
	events = append(events, Event{PCR: 1, Type: EvPlatformConfigFlags, Data: cstr(u.Bootargs), Log: cstr(u.Bootargs)})
	sep := make([]byte, 4)
	binary.LittleEndian.PutUint32(sep, 0xffffffff)
	for pcr := 0; pcr < 8; pcr++ {
		events = append(events, Event{PCR: pcr, Type: EvSeparator, Data: sep, Log: sep})
	}
	return events
}

// Predict hashes each event in every bank and extends PCRs that start at
// zero: PCR ← H(PCR ‖ H(data)).
func Predict(events []Event) *Prediction {
	p := &Prediction{PCRs: map[string]map[int][]byte{}}
	for _, bank := range Banks {
		p.PCRs[bank] = map[int][]byte{}
	}
	for _, e := range events {
		e.Digests = map[string][]byte{}
		for _, bank := range Banks {
			h := bankHash[bank]
			d := h.New()
			d.Write(e.Data)
			digest := d.Sum(nil)
			e.Digests[bank] = digest
			pcr, ok := p.PCRs[bank][e.PCR]
			if !ok {
				pcr = make([]byte, h.Size())
			}
			x := h.New()
			x.Write(pcr)
			x.Write(digest)
			p.PCRs[bank][e.PCR] = x.Sum(nil)
		}
		p.Events = append(p.Events, e)
	}
	return p
}

// CELRecord is one record of a TCG canonical event log in JSON.
type CELRecord struct {
	RecNum  int         `json:"recnum"`
	PCR     int         `json:"pcr"`
	Digests []CELDigest `json:"digests"`
	Type    string      `json:"content_type"`
	Content CELContent  `json:"content"`
}

// CELDigest is one bank's digest of an event.
type CELDigest struct {
	HashAlg string `json:"hashAlg"`
	Digest  string `json:"digest"`
}

// CELContent is a PC Client event's type and data.
type CELContent struct {
	EventType string `json:"event_type"`
	EventData string `json:"event_data"` // base64
}

// CEL is the prediction's event log as CEL-JSON records.
func (p *Prediction) CEL() []CELRecord {
	var out []CELRecord
	for i, e := range p.Events {
		r := CELRecord{RecNum: i, PCR: e.PCR, Type: "pcclient_std", Content: CELContent{EventType: eventNames[e.Type], EventData: base64.StdEncoding.EncodeToString(e.Log)}}
		for _, bank := range Banks {
			r.Digests = append(r.Digests, CELDigest{HashAlg: bank, Digest: hex.EncodeToString(e.Digests[bank])})
		}
		out = append(out, r)
	}
	return out
}

// Values is the predicted PCRs as hex, per bank, for the PCRs the chain
// touches.
func (p *Prediction) Values() map[string]map[string]string {
	out := map[string]map[string]string{}
	for bank, pcrs := range p.PCRs {
		out[bank] = map[string]string{}
		var idx []int
		for i := range pcrs {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			out[bank][fmt.Sprint(i)] = hex.EncodeToString(pcrs[i])
		}
	}
	return out
}
