package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// BundleMediaType is the Sigstore bundle format plinth writes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Bundle is a Sigstore bundle (v0.3) holding a message signature made
// with a key (no certificate, no transparency log: verified offline with
// the public key), in the protobuf JSON form cosign reads.
type Bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial VerificationMaterial `json:"verificationMaterial"`
	MessageSignature     *MessageSignature    `json:"messageSignature,omitempty"`
	DSSEEnvelope         *Envelope            `json:"dsseEnvelope,omitempty"`
}

// VerificationMaterial names the key that signed.
type VerificationMaterial struct {
	PublicKey struct {
		Hint string `json:"hint"`
	} `json:"publicKey"`
}

// MessageSignature is a signature over an artifact and the artifact's
// digest.
type MessageSignature struct {
	MessageDigest struct {
		Algorithm string `json:"algorithm"`
		Digest    []byte `json:"digest"` // base64 in JSON
	} `json:"messageDigest"`
	Signature []byte `json:"signature"`
}

// KeyHint is how a bundle names its key: the base64 SHA-256 of the public
// key's PKIX DER, as cosign and sigstore-go write it.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// Digest is what a signer signs for an artifact with a key of this type:
// the SHA-256 of the artifact (ECDSA, RSA), or the artifact itself
// (Ed25519 signs whole messages).
func Digest(pub crypto.PublicKey, artifact []byte) ([]byte, crypto.Hash, error) {
	kind, err := keyKind(pub)
	if err != nil {
		return nil, 0, err
	}
	if kind == "ed25519" {
		return artifact, crypto.Hash(0), nil
	}
	sum := sha256.Sum256(artifact)
	return sum[:], crypto.SHA256, nil
}

// SignBlob signs an artifact with any crypto.Signer (a key from a file, a
// TPM or a KMS) and returns the bundle.
func SignBlob(signer crypto.Signer, artifact []byte) (*Bundle, error) {
	msg, hash, err := Digest(signer.Public(), artifact)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, msg, hash)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return Attach(signer.Public(), artifact, sig)
}

// Attach makes the bundle for a signature made elsewhere (the second pass
// of two-pass signing), checking it first: a bundle that cannot verify is
// never written.
func Attach(pub crypto.PublicKey, artifact, sig []byte) (*Bundle, error) {
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	b := &Bundle{MediaType: BundleMediaType, MessageSignature: &MessageSignature{Signature: sig}}
	b.VerificationMaterial.PublicKey.Hint = hint
	sum := sha256.Sum256(artifact)
	b.MessageSignature.MessageDigest.Algorithm = "SHA2_256"
	b.MessageSignature.MessageDigest.Digest = sum[:]
	if err := Verify(pub, artifact, b); err != nil {
		return nil, fmt.Errorf("the signature does not verify: %w", err)
	}
	return b, nil
}

// Marshal is the bundle as JSON.
func (b *Bundle) Marshal() ([]byte, error) {
	return json.MarshalIndent(b, "", "  ")
}

// ParseBundle reads a bundle, refusing other formats.
func ParseBundle(data []byte) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle plinth reads: %v", err)
	}
	if b.MediaType != BundleMediaType {
		return nil, fmt.Errorf("bundle media type %q; plinth reads %s", b.MediaType, BundleMediaType)
	}
	if b.MessageSignature == nil && b.DSSEEnvelope == nil {
		return nil, errors.New("the bundle holds neither a message signature nor a DSSE envelope")
	}
	return &b, nil
}

// Verify checks a bundle against an artifact and a public key, saying which
// check failed: the key the bundle names, the artifact's digest, the
// signature.
func Verify(pub crypto.PublicKey, artifact []byte, b *Bundle) error {
	hint, err := KeyHint(pub)
	if err != nil {
		return err
	}
	if b.VerificationMaterial.PublicKey.Hint != "" && b.VerificationMaterial.PublicKey.Hint != hint {
		return fmt.Errorf("the bundle was signed by key %s; this key is %s", b.VerificationMaterial.PublicKey.Hint, hint)
	}
	ms := b.MessageSignature
	if ms == nil {
		return errors.New("the bundle holds no message signature (a statement's bundle is checked with VerifyStatement)")
	}
	if ms.MessageDigest.Algorithm != "SHA2_256" {
		return fmt.Errorf("digest algorithm %s; plinth checks SHA2_256", ms.MessageDigest.Algorithm)
	}
	sum := sha256.Sum256(artifact)
	if !bytes.Equal(ms.MessageDigest.Digest, sum[:]) {
		return fmt.Errorf("the artifact's SHA-256 is %s; the bundle signs %s", hex.EncodeToString(sum[:]), hex.EncodeToString(ms.MessageDigest.Digest))
	}
	bad := errors.New("the signature does not match the artifact and key")
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, sum[:], ms.Signature) {
			return bad
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], ms.Signature) != nil {
			return bad
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, artifact, ms.Signature) {
			return bad
		}
	default:
		return fmt.Errorf("unknown key type %T", pub)
	}
	return nil
}

// DSSEPayloadType is the payload type of in-toto statements.
const DSSEPayloadType = "application/vnd.in-toto+json"

// Envelope is a DSSE envelope: a payload and signatures over its
// pre-authentication encoding.
type Envelope struct {
	Payload     []byte         `json:"payload"` // base64 in JSON
	PayloadType string         `json:"payloadType"`
	Signatures  []EnvelopeSign `json:"signatures"`
}

// EnvelopeSign is one signature in an envelope.
type EnvelopeSign struct {
	Sig   []byte `json:"sig"`
	KeyID string `json:"keyid,omitempty"`
}

// pae is DSSE's pre-authentication encoding of a payload: what is signed.
func pae(payloadType string, payload []byte) []byte {
	return []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload))
}

// SignStatement signs an in-toto statement into a bundle holding a DSSE
// envelope.
func SignStatement(signer crypto.Signer, statement []byte) (*Bundle, error) {
	msg, hash, err := StatementDigest(signer.Public(), statement)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, msg, hash)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return AttachStatement(signer.Public(), statement, sig)
}

// VerifyStatement checks a DSSE bundle's signature with a public key and
// returns the statement it carries.
func VerifyStatement(pub crypto.PublicKey, b *Bundle) ([]byte, error) {
	env := b.DSSEEnvelope
	if env == nil {
		return nil, errors.New("the bundle holds no DSSE envelope")
	}
	if env.PayloadType != DSSEPayloadType {
		return nil, fmt.Errorf("payload type %q; plinth signs %s", env.PayloadType, DSSEPayloadType)
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	if b.VerificationMaterial.PublicKey.Hint != "" && b.VerificationMaterial.PublicKey.Hint != hint {
		return nil, fmt.Errorf("the bundle was signed by key %s; this key is %s", b.VerificationMaterial.PublicKey.Hint, hint)
	}
	msg := pae(env.PayloadType, env.Payload)
	sum := sha256.Sum256(msg)
	for _, s := range env.Signatures {
		var ok bool
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(k, sum[:], s.Sig)
		case *rsa.PublicKey:
			ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], s.Sig) == nil
		case ed25519.PublicKey:
			ok = ed25519.Verify(k, msg, s.Sig)
		}
		if ok {
			return env.Payload, nil
		}
	}
	return nil, errors.New("no signature in the envelope matches its statement and this key")
}

// StatementDigest is what a signer signs for an in-toto statement with a
// key of this type: the digest of (or, for Ed25519, the whole) DSSE
// pre-authentication encoding.
func StatementDigest(pub crypto.PublicKey, statement []byte) ([]byte, crypto.Hash, error) {
	return Digest(pub, pae(DSSEPayloadType, statement))
}

// AttachStatement makes the DSSE bundle for a statement signed elsewhere,
// checking the signature first.
func AttachStatement(pub crypto.PublicKey, statement, sig []byte) (*Bundle, error) {
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	b := &Bundle{MediaType: BundleMediaType, DSSEEnvelope: &Envelope{Payload: statement, PayloadType: DSSEPayloadType, Signatures: []EnvelopeSign{{Sig: sig}}}}
	b.VerificationMaterial.PublicKey.Hint = hint
	if _, err := VerifyStatement(pub, b); err != nil {
		return nil, fmt.Errorf("the signature does not verify: %w", err)
	}
	return b, nil
}
