package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// KeyTypes are the key types plinth generates, the default first.
var KeyTypes = []string{"ecdsa-p256", "ed25519", "rsa-3072"}

// GenerateKey makes a new private key of a type in KeyTypes.
func GenerateKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "ecdsa-p256", "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case "rsa-3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("unknown key type %q (plinth makes %s)", kind, strings.Join(KeyTypes, ", "))
}

// WriteKeyPair writes key to PREFIX.key (encrypted with the passphrase, in
// cosign's format, mode 0600) and its public half to PREFIX.pub. Existing
// files are left alone: overwriting a key loses it.
func WriteKeyPair(prefix string, key crypto.Signer, passphrase []byte) (privPath, pubPath string, err error) {
	if len(passphrase) == 0 {
		return "", "", errors.New("an empty passphrase would leave the private key unprotected; set one")
	}
	privPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("%s exists; plinth does not overwrite keys", p)
		}
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(key, cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		return "", "", err
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(key.Public())
	if err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(privPath, cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), 0o600); err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(pubPath, pub, 0o644); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// LoadPrivateKey reads a private key file (cosign's encrypted format, or
// plain PEM) with the passphrase.
func LoadPrivateKey(path string, passphrase []byte) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := cryptoutils.UnmarshalPEMToPrivateKey(data, cryptoutils.StaticPasswordFunc(passphrase))
	if err != nil {
		if strings.Contains(err.Error(), "decrypt") {
			return nil, fmt.Errorf("%s: wrong passphrase (or not a key plinth or cosign wrote)", path)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T cannot sign", path, key)
	}
	if _, err := keyKind(signer.Public()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return signer, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PEM public key: %v", path, err)
	}
	if _, err := keyKind(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// keyKind names a public key's type, refusing those plinth does not sign
// with.
func keyKind(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ecdsa-p256", nil
		}
		return "", fmt.Errorf("ECDSA on %s: plinth signs with P-256", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "ed25519", nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA-%d is too short (at least 2048 bits)", k.N.BitLen())
		}
		return fmt.Sprintf("rsa-%d", k.N.BitLen()), nil
	}
	return "", fmt.Errorf("unknown key type %T", pub)
}
