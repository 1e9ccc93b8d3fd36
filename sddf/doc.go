// Package sddf composes sDDF (seL4 Device Driver Framework) systems for
// Microkit images. Each sDDF component learns its wiring from a config
// struct in a named ELF section; this package writes those structs into
// the built ELFs directly, in Go, where sDDF's makefiles run one
// objcopy --update-section per component.
package sddf
