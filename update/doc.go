// Package update makes and installs field-update bundles for plinth's A/B
// disks.
//
// A bundle is a tar stream whose signed manifest comes first and whose
// payloads follow (bundle.go), so an installer verifies the manifest before
// it reads a payload byte. A payload is a slot's new bytes compressed with
// zstd, or a delta against the slot the device runs now, cut at the
// image's own structure (file system, FIT, loader regions, protection
// domains' segments) so unchanged pieces are named by hash and not shipped
// (delta.go). The installer (apply.go) checks everything, rebuilds the new
// slot in memory, and only then writes the inactive slot, reads it back,
// and switches the boot selection: two checksummed copies of a small
// U-Boot environment on the state partition (state.go), the newer valid
// copy winning, so a power cut during the switch leaves the old one. The
// new slot boots "on trial" with a budget of attempts that U-Boot's boot
// script counts down; a slot never confirmed falls back.
package update
