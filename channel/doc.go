// Package channel keeps a release channel's TUF metadata (root, targets,
// snapshot, timestamp; theupdateframework.io) in an OCI registry beside
// the releases it names, and checks it for a device.
//
// The operator's side (Set) makes, signs, stages and pushes new versions
// of the four roles; keys are plinth's key files, TPM-held keys or keys
// held elsewhere, whose signatures are added to a staged set (two-pass).
// The device's side (Refresh) walks the root forward, then takes the
// timestamp, snapshot and targets the trusted root's keys sign, refusing
// rollback, freeze (expiry), mix-and-match and too few signatures, with
// go-tuf's trusted-metadata rules; and Choose picks the bundle a device
// needs from the targets. The registry holds each file under a tag:
// tuf.CHANNEL.N.root.json and so on, the timestamp under
// tuf.CHANNEL.timestamp.json.
package channel
