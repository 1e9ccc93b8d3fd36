package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pointsav/plinth/boards"
	"github.com/pointsav/plinth/measure"
	"github.com/pointsav/plinth/pipeline"
	"github.com/pointsav/plinth/recipe"
)

// ubootRefusals are the lines U-Boot prints when it will not boot a FIT.
var ubootRefusals = regexp.MustCompile(`(?m)^.*(Bad Data Hash|Bad hash value|Verification failed|Failed to verify required signature|Bad FIT kernel image format|Could not find configuration|ERROR: can't get kernel image|Please RESET the board|plinth: bootm returned).*$`)

// runThroughUBoot boots the build's boot artifacts through real U-Boot in
// the emulator and holds the TPM's PCRs against the prediction.
func runThroughUBoot(e *env, ctx context.Context, b *boards.Board, config, dir, imagePath, uboot, disk string, expect []recipe.Pattern, limit time.Duration, log io.Writer, logPath string) int {
	work, err := os.MkdirTemp("", "plinth-uboot-")
	if err != nil {
		return e.fail(err)
	}
	defer os.RemoveAll(work)
	var sig []byte
	if data, err := os.ReadFile(filepath.Join(dir, "boot-uboot", pipeline.SignatureFile)); err == nil {
		sig = data
	}
	sess, err := pipeline.UBootRun{Board: b, UBoot: uboot, Build: dir, Disk: disk, Signature: sig, Work: work}.Prepare(ctx)
	if err != nil {
		return e.fail(err)
	}
	defer sess.Close()
	// U-Boot's banner (its version is measured into PCR 0), its check of
	// the signature when there is a key, then what the recipe expects.
	bannerRE := `U-Boot \d{4}\.\d{2}[^\r\n]*\)`
	banner := recipe.RegexPattern(bannerRE)
	all := []recipe.Pattern{banner}
	if sig != nil {
		all = append(all, recipe.RegexPattern(`sha256,rsa\d+:\S+\+ OK`))
	}
	all = append(all, expect...)
	fmt.Fprintf(e.stderr, "boot %s through U-Boot: %s %s\n", b.Name, sess.Command, strings.Join(sess.Args, " "))
	res, err := pipeline.BootUnless(ctx, sess.Command, sess.Args, imagePath, "", all, ubootRefusals, limit+30*time.Second, io.MultiWriter(e.stdout, log))
	if err != nil {
		fmt.Fprintf(e.stderr, "\n%s: %v\n", e.path, err)
		return ExitFail
	}
	if !res.Passed {
		if m := ubootRefusals.FindAllString(res.Console, -1); len(m) > 0 {
			fmt.Fprintf(e.stderr, "\n%s: %s/%s: U-Boot did not boot the FIT:\n%s\n(full console in %s)\n", e.path, b.Name, config, indentLines(strings.Join(m, "\n")), logPath)
			return ExitFail
		}
		fmt.Fprintf(e.stderr, "\n%s: %s/%s: %d of %d expected texts seen in %s; waiting for %s. The console ended with:\n%s\n(full console in %s)\n",
			e.path, b.Name, config, res.Matched, len(all), res.Elapsed.Round(time.Millisecond), res.Missing, indentLines(res.Tail(15)), logPath)
		return ExitFail
	}
	verified := map[bool]string{true: "verified and ", false: ""}[sig != nil]
	if sess.TPM == "" {
		fmt.Fprintf(e.stderr, "\n%s: %s/%s: U-Boot %sbooted the FIT; all %d expected texts seen in %s (the emulated board has no TPM: measurements not checked)\n", e.path, b.Name, config, verified, len(expect), res.Elapsed.Round(time.Millisecond))
		return ExitOK
	}
	// What the TPM holds now against what plinth predicts from the image
	// and U-Boot's version alone.
	img, err := os.ReadFile(imagePath)
	if err != nil {
		return e.fail(err)
	}
	version := regexp.MustCompile(bannerRE).FindString(res.Console)
	want := measure.Predict(measure.UBootBootm{Version: version, Image: img, MeasureDTB: true}.Events())
	pcrs := []int{0, 1, 8, 9}
	got, err := measure.ReadPCRsFromSwtpm(sess.TPM, pcrs)
	if err != nil {
		return e.fail(err)
	}
	var wrong []string
	for _, bank := range measure.Banks {
		for _, pcr := range pcrs {
			if g, w := fmt.Sprintf("%x", got[bank][pcr]), fmt.Sprintf("%x", want.PCRs[bank][pcr]); g != w {
				wrong = append(wrong, fmt.Sprintf("  %s PCR %d: the TPM holds %s, plinth predicted %s", bank, pcr, g, w))
			}
		}
	}
	if len(wrong) > 0 {
		fmt.Fprintf(e.stderr, "\n%s: %s/%s: booted, but the measurements are not the predicted ones:\n%s\n", e.path, b.Name, config, strings.Join(wrong, "\n"))
		return ExitFail
	}
	fmt.Fprintf(e.stderr, "\n%s: %s/%s: U-Boot %sbooted the FIT; all %d expected texts seen in %s; PCRs %v equal the prediction in %s\n", e.path, b.Name, config,
		verified, len(expect), res.Elapsed.Round(time.Millisecond), pcrs, strings.Join(measure.Banks, ", "))
	return ExitOK
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
