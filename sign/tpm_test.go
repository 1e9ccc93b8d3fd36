package sign

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/internal/swtpm"
)

// A key made inside a (software) TPM signs bundles that verify with its
// public key; the key file holds only what the TPM exported; a TPM that is
// not there, or another TPM, is a clear error.
func TestTPMKeySigns(t *testing.T) {
	name := swtpm.Start(t)
	key, err := CreateTPMKey(name, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "release.tpmkey")
	if err := key.Write(path); err != nil {
		t.Fatal(err)
	}
	again, ok, err := ReadTPMKey(path)
	if err != nil || !ok {
		t.Fatalf("read back: %v %v", ok, err)
	}
	signer, err := again.Signer()
	if err != nil {
		t.Fatal(err)
	}
	artifact := []byte("an image signed inside a TPM")
	b, err := SignBlob(signer, artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(signer.Public(), artifact, b); err != nil {
		t.Fatal(err)
	}
	// Another TPM cannot use the key.
	other := *again
	other.TPM = swtpm.Start(t)
	s2, _ := other.Signer()
	if _, err := SignBlob(s2, artifact); err == nil || !strings.Contains(err.Error(), "cannot load the key") {
		t.Errorf("another TPM: %v", err)
	}
	if _, err := CreateTPMKey("/dev/no-such-tpm", ""); err == nil || !strings.Contains(err.Error(), "TPM /dev/no-such-tpm is not there") {
		t.Errorf("no TPM: %v", err)
	}
	if _, err := CreateTPMKey("swtpm:127.0.0.1:1", ""); err == nil || !strings.Contains(err.Error(), "is not there") {
		t.Errorf("no swtpm: %v", err)
	}
}
