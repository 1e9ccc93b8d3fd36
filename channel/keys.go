package channel

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pointsav/plinth/sign"
)

// KeyID is the TUF key id of a public key.
func KeyID(pub crypto.PublicKey) (string, error) {
	k, err := tufKey(pub)
	if err != nil {
		return "", err
	}
	return k.ID()
}

// tufKey is the TUF form of a public key plinth uses: ECDSA P-256,
// Ed25519 or RSA (signed with PSS, as TUF asks).
func tufKey(pub crypto.PublicKey) (*metadata.Key, error) {
	if ec, ok := pub.(*ecdsa.PublicKey); ok && ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("TUF metadata takes ECDSA keys on P-256 only")
	}
	return metadata.KeyFromPublicKey(pub)
}

// tufSigner makes any crypto.Signer (a key from a file or a TPM) sign
// metadata as TUF's key types ask.
type tufSigner struct{ s crypto.Signer }

func (t tufSigner) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return t.s.Public(), nil
}

func (t tufSigner) SignMessage(message io.Reader, _ ...signature.SignOption) ([]byte, error) {
	data, err := io.ReadAll(message)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	switch t.s.Public().(type) {
	case ed25519.PublicKey:
		return t.s.Sign(rand.Reader, data, crypto.Hash(0))
	case *rsa.PublicKey:
		return t.s.Sign(rand.Reader, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case *ecdsa.PublicKey:
		return t.s.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	return nil, fmt.Errorf("unsupported key type %T", t.s.Public())
}

// checkSigner refuses a key that cannot sign as TUF asks (go-tuf reports
// only that signing failed).
func checkSigner(s crypto.Signer) error {
	if _, inTPM := s.(*sign.TPMSigner); inTPM {
		if _, isRSA := s.Public().(*rsa.PublicKey); isRSA {
			return fmt.Errorf("a TPM-held RSA key signs PKCS #1 v1.5 and TUF's RSA keys sign PSS: give the role an ECDSA key (plinth keygen --tpm makes one)")
		}
	}
	return nil
}
