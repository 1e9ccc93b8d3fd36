package measure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/tcp"
	"github.com/pointsav/plinth/internal/swtpm"
)

var algs = map[string]tpm2.TPMAlgID{"sha1": tpm2.TPMAlgSHA1, "sha256": tpm2.TPMAlgSHA256, "sha384": tpm2.TPMAlgSHA384}

// The predicted log replayed into a fresh (software) TPM leaves exactly the
// predicted PCR values in every bank.
func TestPredictionEqualsTheTPMAfterReplay(t *testing.T) {
	chain := UBootBootm{
		Version:    "U-Boot 2024.01 (plinth test)",
		Image:      bytes.Repeat([]byte("loader.img "), 1000),
		DeviceTree: []byte("\xd0\x0d\xfe\xed a device tree"),
		MeasureDTB: true,
		Bootargs:   "console=ttyS0",
	}
	p := Predict(chain.Events())
	name := swtpm.Start(t)
	hostport := strings.TrimPrefix(name, "swtpm:")
	host, port, _ := net.SplitHostPort(hostport)
	n, _ := strconv.Atoi(port)
	tpm, err := tcp.Open(tcp.Config{CommandAddress: hostport, PlatformAddress: net.JoinHostPort(host, strconv.Itoa(n+1))})
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	for _, rec := range p.CEL() {
		var digests []tpm2.TPMTHA
		for _, d := range rec.Digests {
			raw, _ := hex.DecodeString(d.Digest)
			digests = append(digests, tpm2.TPMTHA{HashAlg: algs[d.HashAlg], Digest: raw})
		}
		_, err := tpm2.PCRExtend{
			PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(rec.PCR), Auth: tpm2.PasswordAuth(nil)},
			Digests:   tpm2.TPMLDigestValues{Digests: digests},
		}.Execute(tpm)
		if err != nil {
			t.Fatalf("extend PCR %d: %v", rec.PCR, err)
		}
	}
	compared := 0
	for bank, pcrs := range p.PCRs {
		for pcr, want := range pcrs {
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: algs[bank], PCRSelect: tpm2.PCClientCompatible.PCRs(uint(pcr))}}}}.Execute(tpm)
			if err != nil {
				t.Fatalf("read %s PCR %d: %v", bank, pcr, err)
			}
			if len(rsp.PCRValues.Digests) != 1 {
				t.Fatalf("%s PCR %d: bank not allocated in this TPM", bank, pcr)
			}
			if got := rsp.PCRValues.Digests[0].Buffer; !bytes.Equal(got, want) {
				t.Errorf("%s PCR %d: TPM has %x, predicted %x", bank, pcr, got, want)
			}
			compared++
		}
	}
	if compared != 3*10 { // PCRs 0-9 in three banks
		t.Errorf("compared %d PCR values", compared)
	}
}

// The chain as U-Boot measures it: the image alone into PCR 8 (its SHA-256
// is the event's digest), an absent initrd as its label, the bootargs with
// their NUL, separators closing PCRs 0-7.
func TestUBootBootmEvents(t *testing.T) {
	img := []byte("an image")
	p := Predict(UBootBootm{Version: "U-Boot x", Image: img, Bootargs: ""}.Events())
	sum := sha256.Sum256(img)
	label := sha256.Sum256([]byte("initrd\x00"))
	nul := sha256.Sum256([]byte{0})
	cel := p.CEL()
	if len(cel) != 12 {
		t.Fatalf("%d events", len(cel))
	}
	check := func(i, pcr int, typ, digest string) {
		t.Helper()
		if cel[i].PCR != pcr || cel[i].Content.EventType != typ || cel[i].Digests[1].Digest != digest {
			t.Errorf("event %d: PCR %d %s %s", i, cel[i].PCR, cel[i].Content.EventType, cel[i].Digests[1].Digest)
		}
	}
	check(1, 8, "EV_COMPACT_HASH", hex.EncodeToString(sum[:]))
	check(2, 9, "EV_COMPACT_HASH", hex.EncodeToString(label[:]))
	check(3, 1, "EV_PLATFORM_CONFIG_FLAGS", hex.EncodeToString(nul[:]))
	check(11, 7, "EV_SEPARATOR", "ad95131bc0b799c0b1af477fb14fcf26a6a9f76079e48bf090acb7e8367bfd0e") // SHA-256 of ff ff ff ff
}
