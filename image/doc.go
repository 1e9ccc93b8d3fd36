// Package image makes the artifacts a board's own boot loader takes, beside
// the Microkit image a build writes: U-Boot FIT images with hashes and a
// signed configuration (and the control device tree carrying the key that
// verifies them), boot scripts, environment images and disk images.
//
// Everything is made in Go, byte for byte reproducible: no mkimage, no
// host clock (times come from SOURCE_DATE_EPOCH).
package image
