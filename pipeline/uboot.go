package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/recipe"
	"github.com/pointsav/plinth/update"
)

// BootUBoot names the boot artifacts U-Boot takes: a FIT, a boot script and
// a disk image (build --boot uboot).
const BootUBoot = "uboot"

// The boot artifacts' files.
const (
	FITFile       = "image.fit"
	BootScrFile   = "boot.scr"
	DiskFile      = "disk.img"
	SignatureFile = "signature.dtb"
)

// ubootStep makes what U-Boot boots from the image step's image: a FIT
// (its configuration signed when a key is given, with signature.dtb, the
// key's node for U-Boot's control device tree), boot.scr, and a disk image
// whose boot partition holds boot.scr and whose slot A holds the FIT.
func ubootStep(r *recipe.Recipe, b *boards.Board, fetched map[string]builder.Fetched, imageStep, ubootBuild *builder.Step, imageFile string, key *image.Key, epoch int64) (*builder.Step, error) {
	version := r.SDK.Version
	u, err := UBootFacts(b, version)
	if err != nil {
		return nil, err
	}
	var keyID string
	if key != nil {
		if _, err = image.Algo(key.Signer.Public()); err != nil {
			return nil, fmt.Errorf("--boot-key: %w", err)
		}
		der, err := x509.MarshalPKIXPublicKey(key.Signer.Public())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der)
		keyID = hex.EncodeToString(sum[:])
	}
	outputs := []string{FITFile, BootScrFile, DiskFile}
	if key != nil {
		outputs = append(outputs, SignatureFile)
	}
	deps := []*builder.Step{imageStep}
	if ubootBuild != nil {
		deps = append(deps, ubootBuild)
	}
	st := &builder.Step{Name: "boot-uboot", Deps: deps, Outputs: outputs}
	// RSA PKCS #1 v1.5 signatures are deterministic: the same image and
	// public key give the same bytes, so the key's digest stands for it.
	// What the card holds besides the image: the board's facts, and the
	// recipe's U-Boot section with its firmware source's digest.
	var firmware builder.Digest
	if r.UBoot != nil && r.UBoot.Firmware != "" {
		firmware = fetched[r.UBoot.Firmware].Digest
	}
	st.Key = map[string]any{"update": r.Update, "medium": b.UBoot, "recipe_uboot": r.UBoot, "firmware": firmware, "kind": "uboot-artifacts", "board": b.Name, "arch": u.Arch, "os": u.OS, "interface": u.Interface, "load": b.Boot.LoadAddress, "image": imageFile, "key": keyID, "key_name": keyName(key), "epoch": epoch}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		img, err := os.ReadFile(filepath.Join(sc.Deps[imageStep.Name], imageFile))
		if err != nil {
			return err
		}
		if err := checkPlacement(b, img, sc, ubootBuild); err != nil {
			return err
		}
		bootFiles, raw, err := bootMedium(r, b, fetched, sc, ubootBuild)
		if err != nil {
			return err
		}
		var version uint64
		if r.Update != nil {
			version = r.Update.Version
		}
		return BootDisk{Board: b, Facts: u, Image: img, Key: key, Epoch: epoch, BootFiles: bootFiles, Raw: raw, Microkit: r.SDK.Version, Version: version}.Write(sc.Out)
	}
	return st, nil
}

// BootDisk is what U-Boot boots an image from: the FIT (signed with Key
// when given), the boot script, and a disk whose boot partition holds the
// script and BootFiles, whose slot A holds the FIT, and whose state names
// slot A good at Version; Raw, when the board wants U-Boot at a fixed
// place, goes at the board's offset before the first partition.
type BootDisk struct {
	Board     *boards.Board
	Facts     boards.EmulatorUBoot
	Image     []byte
	Key       *image.Key
	Epoch     int64
	BootFiles map[string][]byte
	Raw       []byte
	Microkit  string
	Version   uint64
}

// Write writes image.fit, boot.scr, disk.img and, with a key,
// signature.dtb into dir.
func (d BootDisk) Write(dir string) error {
	b, u, key, epoch, raw := d.Board, d.Facts, d.Key, d.Epoch, d.Raw
	img := d.Image
	bootFiles := map[string][]byte{}
	for k, v := range d.BootFiles {
		bootFiles[k] = v
	}
	fit, err := image.FIT{Description: fmt.Sprintf("Microkit image for %s", b.Name), Arch: u.Arch, OS: u.OS, Kernel: img, Load: b.Boot.LoadAddress, Entry: b.Boot.LoadAddress, Time: epoch}.Build(key)
	if err != nil {
		return err
	}
	script, err := image.BootScript(u.Arch, "plinth boot", bootScript(u.Interface, u.OS), epoch)
	if err != nil {
		return err
	}
	slotMiB := max(16, 2*len(fit)/image.MiB+2)
	bootFiles[BootScrFile] = script
	bootMiB := 8
	for _, f := range bootFiles {
		bootMiB += len(f) / image.MiB
	}
	first := 1
	if b.UBoot != nil && b.UBoot.FirstPartition != 0 {
		first = int(b.UBoot.FirstPartition / image.MiB)
	}
	disk := image.Disk{BootFiles: bootFiles, SlotFiles: map[string][]byte{FITFile: fit}, BootMiB: bootMiB, SlotMiB: slotMiB, StateMiB: 1, FirstMiB: first, Time: epoch}
	if err := disk.Write(filepath.Join(dir, DiskFile)); err != nil {
		return err
	}
	if raw != nil {
		// What the boot ROM reads from a fixed place, before the
		// first partition.
		if b.UBoot.Offset+uint64(len(raw)) > uint64(first)*image.MiB {
			return fmt.Errorf("%s (%d bytes) at offset %d runs into the first partition at %d MiB (the board file's uboot.first_partition)", b.UBoot.Output, len(raw), b.UBoot.Offset, first)
		}
		f, err := os.OpenFile(filepath.Join(dir, DiskFile), os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt(raw, int64(b.UBoot.Offset)); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := provision(filepath.Join(dir, DiskFile), b.Name, d.Microkit, d.Version); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FITFile), fit, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, BootScrFile), script, 0o644); err != nil {
		return err
	}
	if key != nil {
		sig, err := image.SignatureDTB(key.Signer.Public(), key.Name)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, SignatureFile), sig, 0o644)
	}
	return nil
}

// provision writes a new disk's first update state: slot A good, holding
// version (the recipe's update.version, 0 without one).
func provision(disk, board, microkit string, version uint64) error {
	t, err := update.OpenTarget(disk, true)
	if err != nil {
		return err
	}
	defer t.Close()
	return update.Provision(t, board, microkit, version)
}

// UBootFacts is what a FIT and its boot script need of a board: U-Boot's
// names for the architecture and the image's os, and the interface of the
// disk it boots from. An emulated board's file says; a board that boots
// through U-Boot for this Microkit release takes them from its
// architecture (arm64 images start as go starts them; RISC-V ones as
// OpenSBI does, with the hart id and device tree) and an SD card (mmc).
func UBootFacts(b *boards.Board, version string) (boards.EmulatorUBoot, error) {
	if b.Emulator != nil && b.Emulator.UBoot != nil {
		u := *b.Emulator.UBoot
		if u.OS == "" {
			u.OS = "u-boot"
		}
		return u, nil
	}
	boot := b.BootFor(version)
	if !strings.HasPrefix(string(boot.Method), "uboot-") {
		return boards.EmulatorUBoot{}, fmt.Errorf("board %s boots by %s with Microkit %s, not through U-Boot: --boot uboot makes nothing it takes", b.Name, boot.Method, version)
	}
	switch b.Arch {
	case "aarch64":
		return boards.EmulatorUBoot{Arch: "arm64", OS: "u-boot", Interface: "mmc"}, nil
	case "riscv64":
		return boards.EmulatorUBoot{Arch: "riscv", OS: "linux", Interface: "mmc"}, nil
	}
	return boards.EmulatorUBoot{}, fmt.Errorf("board %s: plinth makes U-Boot artifacts for AArch64 and RISC-V boards", b.Name)
}

func keyName(k *image.Key) string {
	if k == nil {
		return ""
	}
	return k.Name
}

// bootScript boots the slot the state names from the disk U-Boot found the
// script on (standard boot sets devtype and devnum). The state is two
// checksummed environments at the start of the state partition; the valid
// one with the higher sequence number wins, and a write goes over the
// other (update.WriteState does the same). A slot on trial is booted while
// it has attempts left, each attempt counted down and written before the
// boot; then the script falls back to the active slot. bootm verifies the
// FIT's configuration (against a required key in U-Boot's control device
// tree) and measures it before it starts the image (autostart: bootm only
// loads an image of os u-boot without it); a slot that fails to boot is
// followed at once by the active one. An image of os linux is given
// U-Boot's own device tree, as firmware hands it one on RISC-V.
func bootScript(iface, os string) string {
	fdt := ""
	if os == "linux" {
		fdt = " - ${fdtcontroladdr}"
	}
	vars := strings.Join(update.StateVarNames(), " ")
	copyBlocks := update.StateCopyBlocks
	copySize := update.StateCopySize
	boot := fmt.Sprintf(`if test "${plinth_slot}" = b; then setenv plinth_part %d; else setenv plinth_part %d; fi
  echo "plinth: slot ${plinth_slot}: loading ${devtype} ${devnum}:${plinth_part} %s"
  load ${devtype} ${devnum}:${plinth_part} ${kernel_addr_r} %s && bootm ${kernel_addr_r}#%s%s
  echo "plinth: slot ${plinth_slot} did not boot"`, image.SlotBPartition, image.SlotAPartition, FITFile, FITFile, image.ConfigNode, fdt)
	return fmt.Sprintf(`# plinth: A/B boot with a trial budget; the state is on partition %[1]d
if test -z "${devtype}"; then setenv devtype %[2]s; setenv devnum 0; fi
${devtype} dev ${devnum}
setenv plinth_active a
setenv plinth_trial none
setenv plinth_copy none
if part start ${devtype} ${devnum} %[1]d plinth_st0; then
  setexpr plinth_st1 ${plinth_st0} + %[3]x
  if ${devtype} read ${kernel_addr_r} ${plinth_st0} %[3]x && env import -c ${kernel_addr_r} %#[4]x plinth_seq; then
    setenv plinth_copy 0; setenv plinth_seq0 ${plinth_seq}
  fi
  if ${devtype} read ${kernel_addr_r} ${plinth_st1} %[3]x && env import -c ${kernel_addr_r} %#[4]x plinth_seq; then
    if test "${plinth_copy}" = none; then setenv plinth_copy 1; elif test ${plinth_seq} -gt ${plinth_seq0}; then setenv plinth_copy 1; fi
  fi
fi
if test "${plinth_copy}" = 0; then setenv plinth_rblk ${plinth_st0}; setenv plinth_wblk ${plinth_st1}; fi
if test "${plinth_copy}" = 1; then setenv plinth_rblk ${plinth_st1}; setenv plinth_wblk ${plinth_st0}; fi
if test "${plinth_copy}" = none; then
  echo "plinth: no valid state on partition %[1]d; booting slot a"
else
  ${devtype} read ${kernel_addr_r} ${plinth_rblk} %[3]x
  env import -c ${kernel_addr_r} %#[4]x %[5]s
fi
setenv plinth_slot ${plinth_active}
if test "${plinth_trial}" != none; then
  if test ${plinth_left} -gt 0; then
    setexpr plinth_left ${plinth_left} - 1
    echo "plinth: slot ${plinth_trial} is on trial: ${plinth_left} attempts left after this one"
    setenv plinth_left 0x${plinth_left}
    setenv plinth_slot ${plinth_trial}
  else
    echo "plinth: slot ${plinth_trial} was never confirmed; falling back to slot ${plinth_active}"
    setenv plinth_failed ${plinth_trial}
    setenv plinth_trial none
  fi
  setexpr plinth_seq ${plinth_seq} + 1
  setenv plinth_seq 0x${plinth_seq}
  env export -c -s %#[4]x ${kernel_addr_r} %[5]s
  ${devtype} write ${kernel_addr_r} ${plinth_wblk} %[3]x
fi
setenv autostart yes
%[6]s
if test "${plinth_slot}" != "${plinth_active}"; then
  setenv plinth_slot ${plinth_active}
  %[6]s
fi
`, image.StatePartition, iface, copyBlocks, copySize, vars, boot)
}

// checkPlacement refuses an image that would not fit where the board's
// boot loader puts it: past the end of its RAM, or, with the U-Boot the
// recipe built, over the address its environment stages the FIT at
// (kernel_addr_r), which bootm would overwrite while copying the image out
// of it.
func checkPlacement(b *boards.Board, img []byte, sc *builder.StepContext, ubootBuild *builder.Step) error {
	load, end := b.Boot.LoadAddress, b.Boot.LoadAddress+uint64(len(img))
	inside := len(b.Memory) == 0
	for _, m := range b.Memory {
		if load >= m.Base && end <= m.Base+m.Size {
			inside = true
		}
	}
	if !inside {
		return fmt.Errorf("the image (%d bytes) loaded at %#x on %s would run past the end of its RAM", len(img), load, b.Name)
	}
	if ubootBuild == nil {
		return nil
	}
	text, err := os.ReadFile(filepath.Join(sc.Deps[ubootBuild.Name], UBootEnvText))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(l, "kernel_addr_r="); ok {
			stage, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return nil
			}
			// The FIT holds the image and a few KiB of tree around it.
			stageEnd := stage + uint64(len(img)) + 64*1024
			if stage < end && load < stageEnd {
				return fmt.Errorf("U-Boot stages the FIT at kernel_addr_r %#x, and its image (%d bytes) loads at %#x: the two overlap, and bootm would overwrite the FIT while copying the image out of it", stage, len(img), load)
			}
		}
	}
	return nil
}

// bootMedium is what the board's boot medium holds besides the boot script
// and the slots, when the recipe builds its U-Boot: the file of U-Boot's
// build the boot ROM loads (on the boot partition, or raw at an offset),
// the firmware files beside it, and the board file's small boot files.
func bootMedium(r *recipe.Recipe, b *boards.Board, fetched map[string]builder.Fetched, sc *builder.StepContext, ubootBuild *builder.Step) (map[string][]byte, []byte, error) {
	files := map[string][]byte{}
	if ubootBuild == nil || b.UBoot == nil || b.UBoot.Output == "" {
		return files, nil, nil
	}
	data, err := os.ReadFile(filepath.Join(sc.Deps[ubootBuild.Name], b.UBoot.Output))
	if err != nil {
		return nil, nil, err
	}
	var raw []byte
	if b.UBoot.Offset > 0 {
		raw = data
	} else {
		files[b.UBoot.Output] = data
	}
	for name, text := range b.UBoot.BootFiles {
		files[name] = []byte(text)
	}
	// An environment U-Boot reads from a file on the boot partition.
	if b.UBoot.EnvImage {
		var ef EnvFacts
		data, err := os.ReadFile(filepath.Join(sc.Deps[ubootBuild.Name], UBootEnvFacts))
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(data, &ef); err != nil {
			return nil, nil, err
		}
		if ef.In == "FAT" && ef.FATFile != "" {
			if files[ef.FATFile], err = os.ReadFile(filepath.Join(sc.Deps[ubootBuild.Name], UBootEnvImage)); err != nil {
				return nil, nil, err
			}
		}
	}
	var missing []string
	for _, name := range b.UBoot.Firmware {
		dir := filepath.Join(fetched[r.UBoot.Firmware].Dir, filepath.FromSlash(r.UBoot.FirmwareDir))
		fw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			missing = append(missing, name)
			continue
		}
		files[name] = fw
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("board %s boots with firmware files the recipe's uboot.firmware source (%s, %s) lacks: %s", b.Name, r.UBoot.Firmware, cmp.Or(r.UBoot.FirmwareDir, "."), strings.Join(missing, ", "))
	}
	return files, raw, nil
}

// ubootSteps are the U-Boot steps of a build: U-Boot itself when the
// recipe builds it, and with --boot uboot the artifacts it boots (after
// the image step among mk).
func ubootSteps(r *recipe.Recipe, b *boards.Board, fetched map[string]builder.Fetched, mk []*builder.Step, tools *builder.Tools, path string, opt Options) ([]*builder.Step, error) {
	var steps []*builder.Step
	var ubootBuild *builder.Step
	if r.UBoot != nil {
		// U-Boot builds its EFI parts as shared objects: a Linux cross
		// compiler, not a bare-metal one.
		tc, err := FindToolchain(tools, string(b.Arch), ubootCross[string(b.Arch)])
		if err != nil {
			return nil, fmt.Errorf("building U-Boot: %w", err)
		}
		st, err := ubootBuildStep(r, b, fetched, builder.Hermetic{Path: path}, tools, tc, opt.BootKey)
		if err != nil {
			return nil, err
		}
		steps = append(steps, st)
		ubootBuild = st
	}
	if opt.Boot == BootUBoot {
		var imageStep *builder.Step
		for _, st := range mk {
			if st.Name == "image" {
				imageStep = st
			}
		}
		if imageStep == nil {
			return nil, fmt.Errorf("--boot %s: the recipe makes no image", opt.Boot)
		}
		var epoch int64
		for _, f := range fetched {
			epoch = max(epoch, f.Epoch)
		}
		st, err := ubootStep(r, b, fetched, imageStep, ubootBuild, r.Outputs.ImageName(), opt.BootKey, epoch)
		if err != nil {
			return nil, err
		}
		steps = append(steps, st)
	}
	return steps, nil
}
