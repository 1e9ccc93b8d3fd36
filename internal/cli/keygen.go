package cli

import (
	"crypto"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/sign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"golang.org/x/term"
)

// passphrase is the key's passphrase: from PLINTH_PASSWORD (or cosign's
// COSIGN_PASSWORD), else asked for on the terminal. It is never printed.
func passphrase(e *env, confirm bool) ([]byte, error) {
	for _, name := range []string{"PLINTH_PASSWORD", "COSIGN_PASSWORD"} {
		if v := e.getenv(name); v != "" {
			return []byte(v), nil
		}
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, errors.New("no passphrase: set PLINTH_PASSWORD, or run on a terminal to be asked")
	}
	defer tty.Close()
	fmt.Fprint(tty, "Passphrase for the private key: ")
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, err
	}
	if confirm {
		fmt.Fprint(tty, "Again: ")
		again, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		if err != nil {
			return nil, err
		}
		if string(again) != string(pw) {
			return nil, errors.New("the two passphrases differ")
		}
	}
	return pw, nil
}

func keygenCommand() *command {
	return &command{
		name:    "keygen",
		summary: "make a signing key pair (cosign's format)",
		help: `Make a key pair for plinth sign: PREFIX.key, the private key encrypted with
a passphrase (cosign's format, mode 0600), and PREFIX.pub. The passphrase
comes from PLINTH_PASSWORD (or COSIGN_PASSWORD), else from the terminal.
Existing files are not overwritten.

With --tpm, the TPM makes the key (ECDSA P-256, or with --type rsa-2048 an
RSA key, which U-Boot verifies FIT signatures with) and keeps its private part:
PREFIX.tpmkey records which TPM and the key as the TPM sealed it to itself
(useless elsewhere); no passphrase. TPM is a device such as /dev/tpmrm0, or
swtpm:HOST:PORT for a software TPM.`,
		setup: func(fs *flag.FlagSet) run {
			kind := fs.String("type", "", "the key type: "+strings.Join(sign.KeyTypes, ", ")+"; with --tpm "+strings.Join(sign.TPMKeyTypes, ", ")+" (default "+sign.KeyTypes[0]+")")
			prefix := fs.String("o", "plinth", "write `PREFIX`.key and PREFIX.pub")
			tpm := fs.String("tpm", "", "make the key inside this `TPM` (/dev/tpmrm0, swtpm:HOST:PORT)")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					return usageError(e, fmt.Sprintf("unexpected argument %q", args[0]))
				}
				if *tpm != "" {
					return tpmKeygen(e, *tpm, *prefix, *kind)
				}
				if *kind == "" {
					*kind = sign.KeyTypes[0]
				}
				key, err := sign.GenerateKey(*kind)
				if err != nil {
					return e.fail(err)
				}
				pw, err := passphrase(e, true)
				if err != nil {
					return e.fail(err)
				}
				priv, pub, err := sign.WriteKeyPair(*prefix, key, pw)
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "wrote %s (private, encrypted) and %s (%s)\n", priv, pub, *kind)
				return ExitOK
			}
		},
	}
}

// tpmKeygen has a TPM make a signing key and writes PREFIX.tpmkey and
// PREFIX.pub.
func tpmKeygen(e *env, tpm, prefix, kind string) int {
	if _, err := os.Stat(prefix + ".pub"); err == nil {
		return e.fail(fmt.Errorf("%s.pub exists; plinth does not overwrite keys", prefix))
	}
	key, err := sign.CreateTPMKey(tpm, kind)
	if err != nil {
		return e.fail(err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return e.fail(err)
	}
	pem, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return e.fail(err)
	}
	if err := key.Write(prefix + ".tpmkey"); err != nil {
		return e.fail(err)
	}
	if err := atomicfile.Write(prefix+".pub", pem, 0o644); err != nil {
		return e.fail(err)
	}
	if kind == "" {
		kind = sign.TPMKeyTypes[0]
	}
	fmt.Fprintf(e.stdout, "wrote %s.tpmkey (the key stays in TPM %s) and %s.pub (%s)\n", prefix, tpm, prefix, kind)
	return ExitOK
}

// loadSigner opens a key file: a TPM-held key's, or a private key (asking
// for its passphrase).
// signerOrPublic loads the private key at keyPath (a signer here), else
// the public key at pubPath (the signature is made elsewhere).
func signerOrPublic(e *env, keyPath, pubPath string) (crypto.Signer, crypto.PublicKey, error) {
	if keyPath == "" {
		pub, err := sign.LoadPublicKey(pubPath)
		return nil, pub, err
	}
	signer, err := loadSigner(e, keyPath)
	if err != nil {
		return nil, nil, err
	}
	return signer, signer.Public(), nil
}

func loadSigner(e *env, path string) (crypto.Signer, error) {
	if k, ok, err := sign.ReadTPMKey(path); err != nil {
		return nil, err
	} else if ok {
		return k.Signer()
	}
	pw, err := passphrase(e, false)
	if err != nil {
		return nil, err
	}
	return sign.LoadPrivateKey(path, pw)
}
