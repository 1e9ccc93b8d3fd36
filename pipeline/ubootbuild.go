package pipeline

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/image"
	"github.com/pointsav/plinth/recipe"
)

// ubootConfig is what plinth's boot chain needs of every U-Boot it
// builds: FIT signatures, measured boot, boot counting, boot scripts.
//
//go:embed uboot.config
var ubootConfig string

// ubootCross is the cross compiler U-Boot is built with, per architecture.
var ubootCross = map[string]string{"aarch64": "aarch64-linux-gnu-", "riscv64": "riscv64-linux-gnu-"}

// The U-Boot step's files.
const (
	UBootBin       = "u-boot.bin"
	UBootSignedBin = "u-boot-signed.bin"
)

// ubootBuildStep builds U-Boot for the board from the recipe's pinned
// source: the board file's defconfig and configuration, plinth's
// (pipeline/uboot.config), the recipe's; with a key and a board whose
// U-Boot carries its own device tree, also u-boot-signed.bin, whose
// control device tree holds the key (required = "conf"), as mkimage -K
// and the build's own u-boot.bin would make it.
func ubootBuildStep(r *recipe.Recipe, b *boards.Board, fetched map[string]builder.Fetched, h builder.Hermetic, tools *builder.Tools, tc Toolchain, key *image.Key) (*builder.Step, error) {
	u := r.UBoot
	if b.UBoot == nil {
		return nil, fmt.Errorf("board %s: its board file does not say how U-Boot is built for it (uboot: defconfig)", b.Name)
	}
	var ids []builder.Tool
	for _, name := range []string{"make", "gcc", "bison", "flex", "bc", tc.Prefix + "gcc"} {
		t, err := tools.Identify(name)
		if err != nil {
			return nil, fmt.Errorf("building U-Boot: %w (apt-get install make gcc bison flex bc libssl-dev libgnutls28-dev)", err)
		}
		ids = append(ids, t)
	}
	lines := append(append(strings.Split(strings.TrimSpace(ubootConfig), "\n"), b.UBoot.Config...), u.Config...)
	signed := key != nil && b.UBoot.ControlDTB != "board"
	outputs := []string{UBootBin}
	var sig []byte
	if signed {
		outputs = append(outputs, UBootSignedBin)
		var err error
		if sig, err = image.ControlDTB(nil, key.Signer.Public(), key.Name); err != nil {
			return nil, err
		}
	}
	hb := builder.Hermetic{Path: h.Path, Epoch: fetched[u.Source].Epoch}
	st := &builder.Step{Name: "u-boot", Outputs: outputs}
	st.Key = map[string]any{"kind": "u-boot", "source": fetched[u.Source].Digest, "dir": u.Dir, "defconfig": b.UBoot.Defconfig, "config": lines, "tools": ids, "toolchain": tc, "signature": sig, "env": hb.KeyEnv(nil)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		src := filepath.Join(sc.Work, "u-boot")
		if err := builder.CopyTree(filepath.Join(fetched[u.Source].Dir, filepath.FromSlash(u.Dir)), src); err != nil {
			return err
		}
		frag := filepath.Join(sc.Work, "plinth.config")
		if err := os.WriteFile(frag, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		env := map[string]string{"CROSS_COMPILE": tc.Prefix, "KBUILD_BUILD_USER": "plinth", "KBUILD_BUILD_HOST": "plinth"}
		for _, argv := range [][]string{
			{"make", "-s", b.UBoot.Defconfig},
			{"scripts/kconfig/merge_config.sh", "-m", ".config", frag},
			{"make", "-s", "olddefconfig"},
		} {
			if err := hb.RunCommand(ctx, sc.Work, src, argv, env, sc.Log); err != nil {
				return err
			}
		}
		config, err := os.ReadFile(filepath.Join(src, ".config"))
		if err != nil {
			return err
		}
		// A line the defconfig's dependencies dropped would leave a chain
		// without its checks: refuse rather than build it.
		for _, l := range lines {
			if strings.HasPrefix(l, "CONFIG_") && strings.HasSuffix(l, "=y") && !strings.Contains("\n"+string(config), "\n"+l+"\n") {
				return fmt.Errorf("U-Boot for %s: %s did not stay set (a dependency of it is missing from %s)", b.Name, l, b.UBoot.Defconfig)
			}
		}
		if err := hb.RunCommand(ctx, sc.Work, src, []string{"make", "-s", fmt.Sprintf("-j%d", runtime.NumCPU())}, env, sc.Log); err != nil {
			return err
		}
		if err := builder.CopyFile(filepath.Join(src, "u-boot.bin"), filepath.Join(sc.Out, UBootBin), 0o644); err != nil {
			return err
		}
		if !signed {
			return nil
		}
		nodtb, err := os.ReadFile(filepath.Join(src, "u-boot-nodtb.bin"))
		if err != nil {
			return err
		}
		dtb, err := os.ReadFile(filepath.Join(src, "u-boot.dtb"))
		if err != nil {
			return err
		}
		keyed, err := image.MergeSignature(dtb, sig)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(sc.Out, UBootSignedBin), append(nodtb, keyed...), 0o644)
	}
	return st, nil
}
