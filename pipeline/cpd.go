package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/proc"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/recipe"
)

// picolibcDir is where Debian's picolibc-<triple> package puts the C
// library for a cross toolchain: include/ and lib/libc.a.
func picolibcDir(tc Toolchain) (string, error) {
	triple := strings.TrimSuffix(tc.Prefix, "-")
	dir := filepath.Join("/usr/lib/picolibc", triple)
	if _, err := os.Stat(filepath.Join(dir, "lib", "libc.a")); err != nil {
		return "", fmt.Errorf("picolibc for %s is not installed (apt-get install picolibc-%s)", triple, triple)
	}
	return dir, nil
}

// cPDStep compiles a C protection domain with the toolchain's gcc and
// links it with its ld against the SDK's libmicrokit.a and microkit.ld
// (and sDDF's util library, a C library, the recipe's own C files, as the
// component asks).
func cPDStep(r *recipe.Recipe, c recipe.Component, b *boards.Board, config string, sdk sdkInput, sdkDeps []*builder.Step, parts *sddfParts, fetched map[string]builder.Fetched, ch builder.Hermetic, tc Toolchain, boardKey map[string]any) (*builder.Step, error) {
	arch := string(b.Arch)
	st := &builder.Step{Name: "pd-" + c.Name, Deps: sdkDeps, Outputs: []string{c.ELF()}}
	if c.SDDFUtil != "" {
		st.Deps = append(st.Deps, parts.util)
	}
	var sddfDigest builder.Digest
	if r.SDDF != nil {
		sddfDigest = fetched[r.SDDF.Source].Digest
	}
	var libc string
	var libcDigest builder.Digest
	if c.Libc == "picolibc" {
		dir, err := picolibcDir(tc)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		libc = dir
		if libcDigest, err = builder.HashTree(dir); err != nil {
			return nil, err
		}
	}
	own := map[string]builder.Digest{} // the recipe's own C files
	for _, src := range c.RecipeSrcs {
		file, err := RecipeFile(r, src)
		if err != nil {
			return nil, fmt.Errorf("component %s: recipe_srcs: %w", c.Name, err)
		}
		d, _, err := builder.HashFile(file)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		own[src] = d
	}
	st.Key = map[string]any{"kind": "microkit-pd-c", "component": c, "source": fetched[c.Source].Digest, "sddf": sddfDigest, "libc": libcDigest, "recipe_srcs": own, "sdk": sdk.digest, "toolchain": tc, "board": boardKey, "env": ch.KeyEnv(nil)}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		if err := sdk.place(sc, b.Name, config); err != nil {
			return err
		}
		if err := builder.CopyTree(fetched[c.Source].Dir, filepath.Join(sc.Work, "src")); err != nil {
			return err
		}
		boardDir := filepath.Join("sdk", "board", b.Name, config)
		dir := filepath.Join("src", filepath.FromSlash(c.Dir))
		flags := append([]string{"-nostdlib", "-ffreestanding", "-g", builder.PrefixMap(sc.Work)}, archCFlags[arch]...)
		if arch == "aarch64" && b.CPU != "" {
			flags = append(flags, "-mcpu="+b.CPU) // as Microkit's example makefiles do
		}
		if linuxPrefix(tc.Prefix) {
			flags = append(flags, "-fno-pie") // as the bare-metal compilers Microkit expects
		}
		if libc != "" {
			// The C library's headers, not the host's (glibc's, for a
			// Linux cross compiler).
			flags = append(flags, "-nostdinc", "-isystem", filepath.Join(libc, "include"), "-isystem", gccInclude(ctx, tc))
		}
		flags = append(flags, "-I"+filepath.Join(boardDir, "include"))
		for _, inc := range c.Include {
			flags = append(flags, "-I"+filepath.Join(dir, inc))
		}
		if c.SDDFUtil != "" {
			if err := builder.CopyTree(fetched[r.SDDF.Source].Dir, filepath.Join(sc.Work, "sddf")); err != nil {
				return err
			}
			flags = append(flags, "-I"+filepath.Join("sddf", "include"), "-I"+filepath.Join("sddf", "include", "microkit"))
		}
		flags = append(flags, c.CFlags...)
		srcs := []string{}
		for _, src := range c.Srcs {
			srcs = append(srcs, filepath.Join(dir, filepath.FromSlash(src)))
		}
		for _, src := range c.RecipeSrcs {
			dst := filepath.Join("recipe", filepath.FromSlash(src))
			os.MkdirAll(filepath.Join(sc.Work, filepath.Dir(dst)), 0o755)
			if err := builder.CopyFile(filepath.Join(r.Dir, filepath.FromSlash(src)), filepath.Join(sc.Work, dst), 0o644); err != nil {
				return err
			}
			srcs = append(srcs, dst)
		}
		os.MkdirAll(filepath.Join(sc.Work, "obj"), 0o755)
		var objs []string
		for i, src := range srcs {
			obj := filepath.Join("obj", fmt.Sprintf("%d-%s.o", i, strings.TrimSuffix(path.Base(filepath.ToSlash(src)), ".c")))
			argv := append(append([]string{tc.CC.Path, "-c"}, flags...), src, "-o", obj)
			if err := ch.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log); err != nil {
				return err
			}
			objs = append(objs, obj)
		}
		argv := append([]string{tc.LD.Path, "-L" + filepath.Join(boardDir, "lib")}, objs...)
		argv = append(argv, c.LDFlags...)
		group := []string{"-lmicrokit", "-Tmicrokit.ld"}
		if c.SDDFUtil != "" {
			lib := map[string]string{"debug": "libsddf_util_debug.a", "serial": "libsddf_util.a"}[c.SDDFUtil]
			group = append(group, filepath.Join(sc.Deps[parts.util.Name], lib))
		}
		if libc != "" {
			group = append(group, filepath.Join(libc, "lib", "libc.a"))
		}
		if len(group) > 2 {
			argv = append(append(append(argv, "--start-group"), group...), "--end-group")
		} else {
			argv = append(argv, group...)
		}
		argv = append(argv, "-o", filepath.Join("out", c.ELF()))
		return ch.RunCommand(ctx, sc.Work, sc.Work, argv, nil, sc.Log)
	}
	return st, nil
}

// gccInclude is the compiler's own header directory (stddef.h, stdint.h
// for freestanding code), which -nostdinc drops with the rest.
func gccInclude(ctx context.Context, tc Toolchain) string {
	cmd := exec.CommandContext(ctx, tc.CC.Path, "-print-file-name=include")
	proc.Bind(cmd)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
