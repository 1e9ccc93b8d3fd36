package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/pointsav/plinth/publish"
)

func publishCommand() *command {
	return &command{
		name:    "publish",
		args:    "BUILD-DIR|BUNDLE",
		summary: "push a build or an update bundle to an OCI registry, with its SBOM, provenance and signatures as referrers",
		help: `Push a build directory or an update bundle to an OCI registry as an OCI 1.1
artifact. A build's layers are its image, boot artifacts (the disk zstd
compressed), manifest.json and predicted measurements; its SBOM, provenance,
each signature (Sigstore bundles) and each --bundle are referrers (manifests
whose subject is the build), as cosign and registry UIs list them. A
bundle's layer is the bundle; its manifest's signature is a referrer.

Everything is content-addressed: what the registry holds is not sent again,
so publishing the same release twice uploads nothing. The tag is set last.
Credentials come from PLINTH_REGISTRY_USERNAME and PLINTH_REGISTRY_PASSWORD.`,
		setup: func(fs *flag.FlagSet) run {
			to := fs.String("to", "", "where: `REGISTRY/REPO:TAG` (required)")
			plain := fs.Bool("plain-http", false, "talk HTTP, not HTTPS (a registry on this machine)")
			var bundles multiFlag
			fs.Var(&bundles, "bundle", "an update bundle (`FILE`) of the build, pushed as a referrer (repeatable)")
			return func(e *env, args []string) int {
				if len(args) != 1 || *to == "" {
					return usageError(e, "give one build directory or bundle, and --to REGISTRY/REPO:TAG")
				}
				info, err := os.Stat(args[0])
				if err != nil {
					return e.fail(err)
				}
				var rel publish.Release
				if info.IsDir() {
					rel, err = publish.FromBuild(args[0], bundles)
				} else if len(bundles) > 0 {
					return usageError(e, "--bundle goes with a build directory")
				} else {
					rel, err = publish.FromBundle(args[0])
				}
				if err != nil {
					return e.fail(err)
				}
				t := registryTarget(e, *to, *plain)
				res, err := publish.Push(context.Background(), rel, t)
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "published %s as %s: %d files, %d referrers; uploaded %d blobs and manifests (%s) the registry did not have\n",
					args[0], res.Reference, len(rel.Files), len(res.Referrers), res.Uploaded, humanBytes(res.Bytes))
				return ExitOK
			}
		},
	}
}
