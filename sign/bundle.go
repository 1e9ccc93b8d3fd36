package sign

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// BundleMediaType is the Sigstore bundle format plinth writes.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// Bundle is a Sigstore bundle (v0.3) holding a message signature or a DSSE
// envelope made with a key (no certificate, no transparency log: verified
// offline with the public key). It is Sigstore's own protobuf type
// (protobuf-specs), written in the protobuf JSON form cosign reads, so a
// change of the format upstream reaches plinth with the module.
type Bundle struct {
	pb *protobundle.Bundle
}

// Proto is the bundle's protobuf message.
func (b *Bundle) Proto() *protobundle.Bundle { return b.pb }

// keyMaterial names the key that signs: its hint.
func keyMaterial(hint string) *protobundle.VerificationMaterial {
	return &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint}}}
}

// hint is the key hint a bundle carries ("" when none).
func (b *Bundle) hint() string {
	return b.pb.GetVerificationMaterial().GetPublicKey().GetHint()
}

// checkKey refuses a bundle that names another key than pub.
func (b *Bundle) checkKey(pub crypto.PublicKey) error {
	hint, err := KeyHint(pub)
	if err != nil {
		return err
	}
	if got := b.hint(); got != "" && got != hint {
		return fmt.Errorf("the bundle was signed by key %s; this key is %s", got, hint)
	}
	return nil
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
	sum := sha256.Sum256(artifact)
	b := &Bundle{pb: &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: keyMaterial(hint),
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	}}
	if err := Verify(pub, artifact, b); err != nil {
		return nil, fmt.Errorf("the signature does not verify: %w", err)
	}
	return b, nil
}

// Marshal is the bundle as protobuf JSON, indented (protojson's own
// spacing varies from run to run by design; this does not).
func (b *Bundle) Marshal() ([]byte, error) {
	raw, err := protojson.Marshal(b.pb)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ParseBundle reads a bundle, refusing other formats.
func ParseBundle(data []byte) (*Bundle, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(data, &pb); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle plinth reads: %v", err)
	}
	if pb.GetMediaType() != BundleMediaType {
		return nil, fmt.Errorf("bundle media type %q; plinth reads %s", pb.GetMediaType(), BundleMediaType)
	}
	if pb.GetMessageSignature() == nil && pb.GetDsseEnvelope() == nil {
		return nil, errors.New("the bundle holds neither a message signature nor a DSSE envelope")
	}
	return &Bundle{pb: &pb}, nil
}

// Verify checks a bundle against an artifact and a public key, saying which
// check failed: the key the bundle names, the artifact's digest, the
// signature.
func Verify(pub crypto.PublicKey, artifact []byte, b *Bundle) error {
	if err := b.checkKey(pub); err != nil {
		return err
	}
	ms := b.pb.GetMessageSignature()
	if ms == nil {
		return errors.New("the bundle holds no message signature (a statement's bundle is checked with VerifyStatement)")
	}
	if alg := ms.GetMessageDigest().GetAlgorithm(); alg != protocommon.HashAlgorithm_SHA2_256 {
		return fmt.Errorf("digest algorithm %s; plinth checks SHA2_256", alg)
	}
	sum := sha256.Sum256(artifact)
	if digest := ms.GetMessageDigest().GetDigest(); !bytes.Equal(digest, sum[:]) {
		return fmt.Errorf("the artifact's SHA-256 is %s; the bundle signs %s", hex.EncodeToString(sum[:]), hex.EncodeToString(digest))
	}
	if _, err := keyKind(pub); err != nil {
		return err
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return err
	}
	if v.VerifySignature(bytes.NewReader(ms.GetSignature()), bytes.NewReader(artifact)) != nil {
		return errors.New("the signature does not match the artifact and key")
	}
	return nil
}

// DSSEPayloadType is the payload type of in-toto statements.
const DSSEPayloadType = "application/vnd.in-toto+json"

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
	env := b.pb.GetDsseEnvelope()
	if env == nil {
		return nil, errors.New("the bundle holds no DSSE envelope")
	}
	if env.GetPayloadType() != DSSEPayloadType {
		return nil, fmt.Errorf("payload type %q; plinth signs %s", env.GetPayloadType(), DSSEPayloadType)
	}
	if err := b.checkKey(pub); err != nil {
		return nil, err
	}
	if _, err := keyKind(pub); err != nil {
		return nil, err
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	// The envelope as DSSE's JSON, for sigstore's DSSE verifier.
	plain := ssldsse.Envelope{PayloadType: env.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(env.GetPayload())}
	for _, s := range env.GetSignatures() {
		plain.Signatures = append(plain.Signatures, ssldsse.Signature{KeyID: s.GetKeyid(), Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	raw, err := json.Marshal(plain)
	if err != nil {
		return nil, err
	}
	var payload []byte
	dv := sigdsse.WrapVerifier(v, sigdsse.WithExpectedPayloadType(DSSEPayloadType), sigdsse.WithDecodedPayload(&payload))
	if dv.VerifySignature(bytes.NewReader(raw), nil) != nil {
		return nil, errors.New("no signature in the envelope matches its statement and this key")
	}
	return payload, nil
}

// StatementDigest is what a signer signs for an in-toto statement with a
// key of this type: the digest of (or, for Ed25519, the whole) DSSE
// pre-authentication encoding.
func StatementDigest(pub crypto.PublicKey, statement []byte) ([]byte, crypto.Hash, error) {
	return Digest(pub, ssldsse.PAE(DSSEPayloadType, statement))
}

// AttachStatement makes the DSSE bundle for a statement signed elsewhere,
// checking the signature first.
func AttachStatement(pub crypto.PublicKey, statement, sig []byte) (*Bundle, error) {
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	b := &Bundle{pb: &protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: keyMaterial(hint),
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: statement, PayloadType: DSSEPayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}}
	if _, err := VerifyStatement(pub, b); err != nil {
		return nil, fmt.Errorf("the signature does not verify: %w", err)
	}
	return b, nil
}
