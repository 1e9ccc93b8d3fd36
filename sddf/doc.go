// Package sddf composes sDDF (seL4 Device Driver Framework) systems for
// Microkit images. It reads a board's device tree for what drivers need
// (physical registers after every bus's ranges, interrupts as seL4 numbers
// them), and, since each sDDF component learns its wiring from a config
// struct in a named ELF section, writes those structs into the built ELFs
// directly, in Go, where sDDF's makefiles run one objcopy --update-section
// per component.
package sddf
