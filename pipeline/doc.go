// Package pipeline turns a recipe and a board into the engine's steps: the
// Microkit SDK (from source, a release tarball or a directory), C and Rust
// protection domains, sDDF's drivers and virtualisers and the system they
// compose, the disk, the image, and the recipe's own steps; it builds them
// (Build), boots an image in the board's emulator (Boot), and builds again
// elsewhere to prove the bytes reproduce (Reproduce).
package pipeline
