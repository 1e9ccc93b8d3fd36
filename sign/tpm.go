package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
	"github.com/pointsav/plinth/internal/atomicfile"
)

// TPMKeyType marks a key file as a TPM-held key's.
const TPMKeyType = "plinth-tpm-key/v1"

// TPMKey is how plinth finds a TPM-held key again: which TPM, and the key
// as the TPM exported it (its private part encrypted by the TPM's storage
// key, so usable only inside that TPM). The private key never leaves it.
type TPMKey struct {
	Type    string `json:"type"`
	TPM     string `json:"tpm"`     // a device such as /dev/tpmrm0, or swtpm:HOST:PORT (the command port; the control port follows)
	Parent  string `json:"parent"`  // the storage key it lives under: the TCG's ECC P-256 SRK template, owner hierarchy
	Public  []byte `json:"public"`  // TPM2B_PUBLIC
	Private []byte `json:"private"` // TPM2B_PRIVATE, sealed to the parent
}

// openTPM opens a TPM by the name a key file records, retrying commands
// the TPM asks to have retried.
func openTPM(name string) (transport.TPMCloser, error) {
	if rest, ok := strings.CutPrefix(name, "swtpm:"); ok {
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return nil, fmt.Errorf("TPM %q: want swtpm:HOST:PORT", name)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("TPM %q: port %q", name, port)
		}
		t, err := tcp.Open(tcp.Config{CommandAddress: net.JoinHostPort(host, port), PlatformAddress: net.JoinHostPort(host, strconv.Itoa(p+1))})
		if err != nil {
			return nil, fmt.Errorf("TPM %s is not there: %w", name, err)
		}
		return retrying{t}, nil
	}
	if _, err := os.Stat(name); err != nil {
		return nil, fmt.Errorf("TPM %s is not there: %w", name, err)
	}
	t, err := linuxtpm.Open(name)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: %w", name, err)
	}
	return retrying{t}, nil
}

// retrying resends a command the TPM answered with TPM_RC_RETRY, YIELDED
// or TESTING (a busy resource manager or self-test), a few times.
type retrying struct{ transport.TPMCloser }

func (r retrying) Send(cmd []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		rsp, err := r.TPMCloser.Send(cmd)
		if err != nil || len(rsp) < 10 || attempt == 5 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case 0x922, 0x908, 0x90A: // TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING
			time.Sleep(time.Duration(20<<attempt) * time.Millisecond)
			continue
		}
		return rsp, nil
	}
}

// srk makes the TPM's ECC storage root key (the same every time for the
// same TPM: it derives from the owner seed and the template).
func srk(t transport.TPM) (*tpm2.CreatePrimaryResponse, error) {
	return tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(t)
}

func flush(t transport.TPM, h tpm2.TPMHandle) {
	tpm2.FlushContext{FlushHandle: h}.Execute(t)
}

// signingTemplate is an ECDSA P-256 SHA-256 signing key that cannot leave
// the TPM or its parent, generated inside it.
var signingTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true, NoDA: true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
	}),
}

// rsaSigningTemplate is an RSA-2048 RSASSA-PKCS1-v1_5 SHA-256 signing key,
// as U-Boot verifies FIT signatures, likewise bound to its TPM.
var rsaSigningTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgRSA,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true, NoDA: true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
		KeyBits: 2048,
		Scheme: tpm2.TPMTRSAScheme{
			Scheme:  tpm2.TPMAlgRSASSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
	}),
}

// TPMKeyTypes are the key types a TPM makes for plinth, the default first.
var TPMKeyTypes = []string{"ecdsa-p256", "rsa-2048"}

// CreateTPMKey has the TPM generate a signing key of a type in TPMKeyTypes
// ("" for the default) under its storage root key and returns the key
// file's contents.
func CreateTPMKey(name, kind string) (*TPMKey, error) {
	template := signingTemplate
	switch kind {
	case "", "ecdsa-p256":
	case "rsa-2048":
		template = rsaSigningTemplate
	default:
		return nil, fmt.Errorf("a TPM key of type %q: plinth makes %s", kind, strings.Join(TPMKeyTypes, ", "))
	}
	t, err := openTPM(name)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	parent, err := srk(t)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: making the storage key: %w", name, err)
	}
	defer flush(t, parent.ObjectHandle)
	created, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(template),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: making the key: %w", name, err)
	}
	return &TPMKey{Type: TPMKeyType, TPM: name, Parent: "ecc-p256-srk", Public: tpm2.Marshal(created.OutPublic), Private: tpm2.Marshal(created.OutPrivate)}, nil
}

// Write saves the key file (0600: it names the key; the key itself stays
// in the TPM).
func (k *TPMKey) Write(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists; plinth does not overwrite keys", path)
	}
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

// ReadTPMKey reads a TPM key file; ok is false for other key files.
func ReadTPMKey(path string) (*TPMKey, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var k TPMKey
	if json.Unmarshal(data, &k) != nil || k.Type != TPMKeyType {
		return nil, false, nil
	}
	return &k, true, nil
}

// PublicKey is the key's public half, from the file: an *ecdsa.PublicKey
// or an *rsa.PublicKey.
func (k *TPMKey) PublicKey() (crypto.PublicKey, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](k.Public)
	if err != nil {
		return nil, fmt.Errorf("the key file's public part: %w", err)
	}
	contents, err := pub.Contents()
	if err != nil {
		return nil, err
	}
	if contents.Type == tpm2.TPMAlgRSA {
		parms, err := contents.Parameters.RSADetail()
		if err != nil {
			return nil, err
		}
		n, err := contents.Unique.RSA()
		if err != nil {
			return nil, err
		}
		return tpm2.RSAPub(parms, n)
	}
	point, err := contents.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("not an ECC key: %w", err)
	}
	return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(point.X.Buffer), Y: new(big.Int).SetBytes(point.Y.Buffer)}, nil
}

// Signer is a crypto.Signer that signs inside the TPM, with a Close
// for the TPM connection.
func (k *TPMKey) Signer() (*TPMSigner, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	return &TPMSigner{key: k, pub: pub}, nil
}

// TPMSigner signs SHA-256 digests with a TPM-held key.
type TPMSigner struct {
	key *TPMKey
	pub crypto.PublicKey
}

// Public is the key's public half.
func (s *TPMSigner) Public() crypto.PublicKey { return s.pub }

// Sign loads the key into its TPM and signs the digest there, returning
// an ASN.1 DER ECDSA signature (as crypto/ecdsa makes them) or an RSA
// PKCS #1 v1.5 one (as crypto/rsa makes them).
func (s *TPMSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, errors.New("a TPM key signs SHA-256 digests")
	}
	t, err := openTPM(s.key.TPM)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	parent, err := srk(t)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: %w", s.key.TPM, err)
	}
	defer flush(t, parent.ObjectHandle)
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](s.key.Private)
	if err != nil {
		return nil, fmt.Errorf("the key file's private part: %w", err)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](s.key.Public)
	if err != nil {
		return nil, err
	}
	loaded, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: parent.ObjectHandle, Name: parent.Name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    *priv,
		InPublic:     *pub,
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM %s cannot load the key (made by another TPM, or its owner was cleared): %w", s.key.TPM, err)
	}
	defer flush(t, loaded.ObjectHandle)
	scheme := tpm2.TPMAlgECDSA
	if _, isRSA := s.pub.(*rsa.PublicKey); isRSA {
		scheme = tpm2.TPMAlgRSASSA
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  scheme,
			Details: tpm2.NewTPMUSigScheme(scheme, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck},
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: signing: %w", s.key.TPM, err)
	}
	if scheme == tpm2.TPMAlgRSASSA {
		sig, err := rsp.Signature.Signature.RSASSA()
		if err != nil {
			return nil, err
		}
		return sig.Sig.Buffer, nil
	}
	sig, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig.SignatureR.Buffer), new(big.Int).SetBytes(sig.SignatureS.Buffer)})
}
