package pipeline

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
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
	// UBootEnvText is U-Boot's default environment (make
	// u-boot-initial-env), and UBootEnvFacts where and how big it is.
	UBootEnvText  = "u-boot-initial-env"
	UBootEnvFacts = "env.json"
	UBootEnvImage = "uboot.env"
)

// EnvFacts is where a U-Boot build keeps its environment, from its
// configuration.
type EnvFacts struct {
	Size      int    `json:"size"`
	Redundant bool   `json:"redundant"`
	In        string `json:"in"`            // FLASH, FAT, MMC, SPI_FLASH, NOWHERE, …
	FATFile   string `json:"fat,omitempty"` // its file on the FAT partition U-Boot names (ENV_IS_IN_FAT)
}

// envFacts reads them from a .config.
func envFacts(config string) EnvFacts {
	var f EnvFacts
	for _, l := range strings.Split(config, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch {
		case k == "CONFIG_ENV_SIZE":
			n, _ := strconv.ParseInt(v, 0, 64)
			f.Size = int(n)
		case k == "CONFIG_SYS_REDUNDAND_ENVIRONMENT" && v == "y":
			f.Redundant = true
		case strings.HasPrefix(k, "CONFIG_ENV_IS_IN_") && v == "y" && f.In == "":
			f.In = strings.TrimPrefix(k, "CONFIG_ENV_IS_IN_")
		case k == "CONFIG_ENV_FAT_FILE":
			f.FATFile = strings.Trim(v, `"`)
		case k == "CONFIG_ENV_IS_NOWHERE" && v == "y" && f.In == "":
			f.In = "NOWHERE"
		}
	}
	return f
}

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
	// swig and Python build binman's libfdt binding, which boards whose
	// boot image binman packs need.
	for _, name := range []string{"make", "gcc", "bison", "flex", "bc", "swig", "python3", tc.Prefix + "gcc"} {
		t, err := tools.Identify(name)
		if err != nil {
			return nil, fmt.Errorf("building U-Boot: %w (apt-get install make gcc bison flex bc swig python3-dev python3-setuptools python3-pyelftools libssl-dev libgnutls28-dev)", err)
		}
		ids = append(ids, t)
	}
	lines := append(append(strings.Split(strings.TrimSpace(ubootConfig), "\n"), b.UBoot.Config...), u.Config...)
	signed := key != nil && b.UBoot.ControlDTB != "board"
	outputs := []string{UBootBin, UBootEnvText, UBootEnvFacts}
	if b.UBoot.EnvImage {
		outputs = append(outputs, UBootEnvImage)
	}
	var sig []byte
	if signed {
		outputs = append(outputs, UBootSignedBin)
		var err error
		if sig, err = image.SignatureDTB(key.Signer.Public(), key.Name); err != nil {
			return nil, err
		}
	}
	blobs := map[string]builder.Digest{}
	for _, blob := range b.UBoot.Blobs {
		loc, ok := u.Blobs[blob.Name]
		if !ok {
			return nil, fmt.Errorf("board %s's U-Boot needs %s (%s): give it in the recipe's uboot.blobs", b.Name, blob.Name, blob.What)
		}
		src, _, _ := strings.Cut(loc, "/")
		blobs[blob.Name+"="+loc] = fetched[src].Digest
	}
	if out := b.UBoot.Output; out != "" && out != UBootBin {
		outputs = append(outputs, out)
	}
	hb := builder.Hermetic{Path: h.Path, Epoch: fetched[u.Source].Epoch}
	st := &builder.Step{Name: "u-boot", Outputs: outputs}
	st.Key = map[string]any{"kind": "u-boot", "source": fetched[u.Source].Digest, "dir": u.Dir, "defconfig": b.UBoot.Defconfig, "config": lines, "tools": ids, "toolchain": tc, "signature": sig, "blobs": blobs, "output": b.UBoot.Output, "env_image": b.UBoot.EnvImage, "env": hb.KeyEnv(nil)}
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
		// Blobs: a make variable naming the file, or (a file name) the file
		// itself in the tree, where binman looks.
		makeArgs := []string{"make", "-s", fmt.Sprintf("-j%d", runtime.NumCPU())}
		for _, blob := range b.UBoot.Blobs {
			srcName, rel, _ := strings.Cut(u.Blobs[blob.Name], "/")
			file := filepath.Join(fetched[srcName].Dir, filepath.FromSlash(rel))
			if _, err := os.Stat(file); err != nil {
				return fmt.Errorf("%s for %s's U-Boot: %s has no %s", blob.Name, b.Name, srcName, rel)
			}
			if strings.Contains(blob.Name, ".") {
				if err := builder.CopyFile(file, filepath.Join(src, blob.Name), 0o644); err != nil {
					return err
				}
				continue
			}
			makeArgs = append(makeArgs, blob.Name+"="+file)
		}
		if err := hb.RunCommand(ctx, sc.Work, src, makeArgs, env, sc.Log); err != nil {
			return err
		}
		if out := b.UBoot.Output; out != "" && out != UBootBin {
			if err := builder.CopyFile(filepath.Join(src, out), filepath.Join(sc.Out, out), 0o644); err != nil {
				return fmt.Errorf("U-Boot for %s made no %s: %w", b.Name, out, err)
			}
		}
		if err := builder.CopyFile(filepath.Join(src, "u-boot.bin"), filepath.Join(sc.Out, UBootBin), 0o644); err != nil {
			return err
		}
		// Its default environment, for the environment image plinth adds
		// its variables to.
		if err := hb.RunCommand(ctx, sc.Work, src, []string{"make", "-s", "u-boot-initial-env"}, env, sc.Log); err != nil {
			return err
		}
		if err := builder.CopyFile(filepath.Join(src, UBootEnvText), filepath.Join(sc.Out, UBootEnvText), 0o644); err != nil {
			return err
		}
		facts, err := json.Marshal(envFacts(string(config)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sc.Out, UBootEnvFacts), facts, 0o644); err != nil {
			return err
		}
		if b.UBoot.EnvImage {
			ef := envFacts(string(config))
			if ef.In == "" || ef.In == "NOWHERE" || ef.Size == 0 {
				return fmt.Errorf("U-Boot for %s keeps its environment nowhere, but the board file says env_image", b.Name)
			}
			text, err := os.ReadFile(filepath.Join(src, UBootEnvText))
			if err != nil {
				return err
			}
			vars := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(text)), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					vars[k] = v
				}
			}
			img, err := image.Env(vars, ef.Size, ef.Redundant)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(sc.Out, UBootEnvImage), img, 0o644); err != nil {
				return err
			}
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
