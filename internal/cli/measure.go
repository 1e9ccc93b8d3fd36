package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pointsav/plinth/attest"
	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/measure"
)

// uImageMagic starts a legacy U-Boot image; bootm measures what follows
// its 64-byte header.
const uImageMagic = 0x27051956

func measureCommand() *command {
	return &command{
		name:    "measure",
		args:    "BUILD-DIR",
		summary: "predict the TPM measurements of a build's boot",
		help: `Predict what the board's measured boot leaves in its TPM for this build's
image: the event log (BUILD-DIR/eventlog.cel.json, TCG CEL-JSON) and the PCR
values in the sha1, sha256 and sha384 banks (BUILD-DIR/measurements.json).
The chain is the board file's boot method: for uboot-bootm, U-Boot with
CONFIG_MEASURED_BOOT measures its version (PCR 0), the OS image (PCR 8), the
initrd (PCR 9), the device tree and bootargs (PCR 1), then closes PCRs 0-7.
Give the U-Boot version string and bootargs the device will have, and the
device tree bootm passes with --dtb (none otherwise: U-Boot then measures
the label "dts"; --measure-dtb=false where CONFIG_MEASURE_DEVICETREE is off).
The prediction was checked against U-Boot 2026.07's measured boot in QEMU
with a software TPM: PCRs 0, 1, 8 and 9 in the sha1, sha256 and sha384 banks.`,
		setup: func(fs *flag.FlagSet) run {
			var bf boardFlags
			bf.add(fs)
			version := fs.String("uboot-version", "", "U-Boot's version string on the device (`TEXT`, as its banner prints it)")
			bootargs := fs.String("bootargs", "", "the bootargs environment variable on the device (`TEXT`)")
			dtb := fs.String("dtb", "", "the device tree bootm passes (`FILE`); without it, none")
			measureDTB := fs.Bool("measure-dtb", true, "U-Boot measures the device tree (CONFIG_MEASURE_DEVICETREE, its default)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				if *version == "" {
					return usageError(e, "give U-Boot's version string with --uboot-version: PCR 0 depends on it")
				}
				dir := args[0]
				data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
				if err != nil {
					return e.fail(fmt.Errorf("%s is not a build directory (no manifest.json): %w", dir, err))
				}
				var m attest.Manifest
				if err := json.Unmarshal(data, &m); err != nil || m.Image == nil {
					return e.fail(fmt.Errorf("%s: manifest.json names no image", dir))
				}
				b, ok := bf.loadOne(e, m.Board)
				if !ok {
					return ExitFail
				}
				// bootm measures: a FIT the build made for U-Boot (its image
				// is the build's image), or the board's own image where the
				// board boots it with bootm for this Microkit release.
				_, fitErr := os.Stat(filepath.Join(dir, "boot-uboot", "image.fit"))
				if boot := b.BootFor(m.Microkit); fitErr != nil && boot.Method != "uboot-bootm" {
					with := ""
					if m.Microkit != "" {
						with = " with Microkit " + m.Microkit
					}
					return e.fail(fmt.Errorf("board %s%s boots by %s, which measures nothing (U-Boot's go and bootelf do not); build with --boot uboot for a FIT that bootm verifies and measures", b.Name, with, boot.Method))
				}
				img, err := os.ReadFile(filepath.Join(dir, m.Image.Path))
				if err != nil {
					return e.fail(err)
				}
				if len(img) > 64 && binary.BigEndian.Uint32(img) == uImageMagic {
					img = img[64:]
				}
				chain := measure.UBootBootm{Version: *version, Image: img, Bootargs: *bootargs, MeasureDTB: *measureDTB}
				if *dtb != "" {
					if chain.DeviceTree, err = os.ReadFile(*dtb); err != nil {
						return e.fail(err)
					}
				}
				p := measure.Predict(chain.Events())
				var log bytes.Buffer
				enc := json.NewEncoder(&log)
				enc.SetIndent("", "  ")
				enc.Encode(p.CEL())
				logSum := sha256.Sum256(log.Bytes())
				out := map[string]any{
					"board": m.Board, "config": m.Config, "chain": "uboot-bootm", "image": m.Image,
					"uboot_version": *version, "bootargs": *bootargs, "device_tree_measured": chain.MeasureDTB,
					"pcrs": p.Values(), "eventlog_sha256": hex.EncodeToString(logSum[:]),
				}
				summary, _ := json.MarshalIndent(out, "", "  ")
				if err := atomicfile.Write(filepath.Join(dir, "eventlog.cel.json"), log.Bytes(), 0o644); err != nil {
					return e.fail(err)
				}
				if err := atomicfile.Write(filepath.Join(dir, "measurements.json"), append(summary, '\n'), 0o644); err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "PCR 8 (sha256) after boot: %s\nwrote %s and %s (%d events)\n", p.Values()["sha256"]["8"],
					filepath.Join(dir, "measurements.json"), filepath.Join(dir, "eventlog.cel.json"), len(p.Events))
				return ExitOK
			}
		},
	}
}
