// Command plinth turns per-board recipes into reproducible, measured, signed,
// bootable seL4 Microkit images. See the README for the command reference.
package main

import (
	"os"

	"github.com/pointsav/plinth/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
