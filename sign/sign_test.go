package sign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/proto"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every key type: generated, written encrypted, read back with the
// passphrase, signs a bundle that verifies; flipping any byte of the
// artifact or the bundle's signature, or another key, fails with the
// check that failed.
func TestSignAndVerifyEveryKeyType(t *testing.T) {
	artifact := []byte("loader.img: seL4, the monitor and the protection domains\n")
	for _, kind := range KeyTypes {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			key, err := GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			priv, pub, err := WriteKeyPair(filepath.Join(dir, "release"), key, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %v", st.Mode().Perm())
			}
			if data, _ := os.ReadFile(priv); !strings.Contains(string(data), "ENCRYPTED SIGSTORE PRIVATE KEY") {
				t.Errorf("not cosign's encrypted format:\n%s", data)
			}
			if _, _, err := WriteKeyPair(filepath.Join(dir, "release"), key, []byte("x")); err == nil || !strings.Contains(err.Error(), "does not overwrite") {
				t.Errorf("overwrite: %v", err)
			}
			if _, err := LoadPrivateKey(priv, []byte("wrong horse")); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
				t.Errorf("wrong passphrase: %v", err)
			}
			signer, err := LoadPrivateKey(priv, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			public, err := LoadPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			b, err := SignBlob(signer, artifact)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := b.Marshal()
			parsed, err := ParseBundle(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(public, artifact, parsed); err != nil {
				t.Fatalf("verify: %v", err)
			}
			for i := range artifact {
				tampered := append([]byte(nil), artifact...)
				tampered[i] ^= 1
				if err := Verify(public, tampered, parsed); err == nil || !strings.Contains(err.Error(), "the artifact's SHA-256 is") {
					t.Fatalf("byte %d flipped: %v", i, err)
				}
			}
			for i := range parsed.Proto().GetMessageSignature().GetSignature() {
				pb := proto.Clone(parsed.Proto()).(*protobundle.Bundle)
				pb.GetMessageSignature().Signature[i] ^= 0x80
				if err := Verify(public, artifact, &Bundle{pb: pb}); err == nil {
					t.Fatalf("signature byte %d flipped: verified", i)
				}
			}
			other, _ := GenerateKey(kind)
			if err := Verify(other.Public(), artifact, parsed); err == nil || !strings.Contains(err.Error(), "the bundle was signed by key") {
				t.Errorf("another key: %v", err)
			}
		})
	}
}

// Two-pass signing: the digest exported, signed elsewhere, attached; a
// signature over something else is refused rather than written.
func TestAttachChecksTheSignature(t *testing.T) {
	key, _ := GenerateKey("ecdsa-p256")
	artifact := []byte("manifest")
	msg, hash, err := Digest(key.Public(), artifact)
	if err != nil || len(msg) != 32 {
		t.Fatal(err, len(msg))
	}
	sig, _ := key.Sign(rand.Reader, msg, hash)
	if _, err := Attach(key.Public(), artifact, sig); err != nil {
		t.Fatal(err)
	}
	if _, err := Attach(key.Public(), []byte("something else"), sig); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("wrong artifact: %v", err)
	}
}

func TestKeysRefused(t *testing.T) {
	if _, err := GenerateKey("dsa"); err == nil || !strings.Contains(err.Error(), `unknown key type "dsa" (plinth makes ecdsa-p256, ed25519, rsa-3072)`) {
		t.Errorf("dsa: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := SignBlob(p384, []byte("x")); err == nil || !strings.Contains(err.Error(), "ECDSA on P-384: plinth signs with P-256") {
		t.Errorf("P-384: %v", err)
	}
	key, _ := GenerateKey("")
	if _, _, err := WriteKeyPair(filepath.Join(t.TempDir(), "k"), key, nil); err == nil || !strings.Contains(err.Error(), "empty passphrase") {
		t.Errorf("no passphrase: %v", err)
	}
	if _, err := ParseBundle([]byte(`{"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1"}`)); err == nil || !strings.Contains(err.Error(), "plinth reads application/vnd.dev.sigstore.bundle.v0.3+json") {
		t.Errorf("old bundle: %v", err)
	}
}
