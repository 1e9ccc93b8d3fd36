// Package sign makes and checks plinth's signatures: key pairs in cosign's
// format (an encrypted PEM private key, a PEM public key), Sigstore
// bundles (v0.3) holding a message signature over an artifact, and their
// offline verification with a public key. Signers are crypto.Signers, so
// keys in files, in a TPM or in a KMS sign alike; a signature made
// elsewhere (an offline HSM) can be attached to the digest plinth exports.
package sign
