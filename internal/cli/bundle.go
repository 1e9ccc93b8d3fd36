package cli

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pointsav/plinth/internal/atomicfile"
	"github.com/pointsav/plinth/sign"
	"github.com/pointsav/plinth/update"
)

func bundleCommand() *command {
	return &command{
		name:    "bundle",
		summary: "make, inspect and verify field-update bundles",
		sub:     []*command{bundleCreateCommand(), bundleInspectCommand(), bundleVerifyCommand()},
	}
}

func bundleCreateCommand() *command {
	return &command{
		name:    "create",
		args:    "BUILD-DIR",
		summary: "make a signed update bundle of a build (a delta with --from)",
		help: `Make a field-update bundle of a build made with --boot uboot: its slot A (the
FIT holding the image) as the slot a device writes, described by a manifest
(version, the version floor, compatible board and Microkit version, the
image's digest, predicted measurements, expiry) signed as a Sigstore bundle,
streamed before the payload. See docs/updates.md.

With --from OLD-BUILD the payload is a delta against the old build's slot,
cut at the protection domains' segments and the image's regions: unchanged
pieces are named by hash, changed ones are zstd patches against the old
bytes. When the delta is larger than the whole slot compressed, the whole
slot is shipped.

Versions come from the builds' recipes (update.version) unless given.

Two passes, for a key that never meets this machine:
  plinth bundle create BUILD -o B.plb --pub KEY.pub --export-digest D.json
  (sign the digest in D.json elsewhere)
  plinth bundle create BUILD -o B.plb --pub KEY.pub --attach SIG
The second pass makes the same manifest (give the same --issued) and checks
the signature before it writes the bundle.`,
		setup: func(fs *flag.FlagSet) run {
			from := fs.String("from", "", "the build devices run now (`OLD-BUILD-DIR`): make a delta against it")
			out := fs.String("o", "", "the bundle `FILE` to write (required)")
			keyPath := fs.String("key", "", "the private key (`FILE`, or a .tpmkey) that signs the manifest")
			pubPath := fs.String("pub", "", "the public key (`FILE`), for --export-digest and --attach")
			export := fs.String("export-digest", "", "write what must be signed to `FILE` instead of signing")
			attach := fs.String("attach", "", "the manifest's signature made elsewhere (`FILE`, raw or base64)")
			version := fs.Uint64("version", 0, "the bundle's version (`N`); default: the build's")
			baseVersion := fs.Uint64("base-version", 0, "the --from build's version (`N`); default: that build's")
			minInstalled := fs.Uint64("min-installed", 0, "the lowest installed version the bundle may replace (`N`)")
			floor := fs.Uint64("floor", 0, "the version floor devices keep once they confirm this version (`N`)")
			issued := fs.String("issued", "", "the issue time (`RFC3339`); default: SOURCE_DATE_EPOCH, else now")
			valid := fs.Duration("valid", 90*24*time.Hour, "how long the bundle may be installed after it is issued (`DURATION`)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one build directory")
				}
				if *out == "" {
					return usageError(e, "give the bundle's file with -o")
				}
				switch {
				case *keyPath != "" && (*export != "" || *attach != ""):
					return usageError(e, "--key signs here; --export-digest and --attach are for a key elsewhere (with --pub)")
				case *keyPath == "" && (*pubPath == "" || (*export == "") == (*attach == "")):
					return usageError(e, "give --key, or --pub with one of --export-digest and --attach")
				}
				when, err := issueTime(e, *issued)
				if err != nil {
					return usageError(e, err.Error())
				}
				nw, err := update.LoadBuild(args[0])
				if err != nil {
					return e.fail(err)
				}
				opts := update.Options{Version: *version, MinInstalled: *minInstalled, Floor: *floor, Issued: when, Expires: when.Add(*valid), BaseVersion: *baseVersion}
				if opts.Version == 0 {
					opts.Version = nw.Manifest.Version
				}
				if opts.Version == 0 {
					return usageError(e, fmt.Sprintf("%s has no version (its recipe has no update.version): give --version", args[0]))
				}
				var base *update.Build
				if *from != "" {
					if base, err = update.LoadBuild(*from); err != nil {
						return e.fail(err)
					}
					if opts.BaseVersion == 0 {
						opts.BaseVersion = base.Manifest.Version
					}
				}
				made, err := update.Create(nw, base, opts)
				if err != nil {
					return e.fail(err)
				}
				signer, pub, err := signerOrPublic(e, *keyPath, *pubPath)
				if err != nil {
					return e.fail(err)
				}
				msg, hash, err := sign.Digest(pub, made.RawManifest)
				if err != nil {
					return e.fail(err)
				}
				if *export != "" {
					en := map[string]string{"name": "manifest", "hash": "none", "message": hex.EncodeToString(msg)}
					if hash == crypto.SHA256 {
						en = map[string]string{"name": "manifest", "hash": "SHA256", "digest": hex.EncodeToString(msg)}
					}
					data, _ := json.MarshalIndent([]map[string]string{en}, "", "  ")
					if err := atomicfile.Write(*export, append(data, '\n'), 0o644); err != nil {
						return e.fail(err)
					}
					fmt.Fprintf(e.stdout, "wrote %s: sign the manifest's digest and give the signature with --attach (and the same --issued)\n", *export)
					return ExitOK
				}
				var sig []byte
				if signer != nil {
					sig, err = signer.Sign(rand.Reader, msg, hash)
				} else {
					sig, err = readSignature(*attach)
				}
				if err != nil {
					return e.fail(err)
				}
				bundle, err := sign.Attach(pub, made.RawManifest, sig)
				if err != nil {
					return e.fail(fmt.Errorf("the manifest's signature: %w", err))
				}
				if err := atomicfile.WriteFunc(*out, 0o644, func(f *os.File) error { return made.Write(f, bundle) }); err != nil {
					return e.fail(err)
				}
				m := made.Manifest
				what := "full"
				if m.Delta != nil {
					what = fmt.Sprintf("delta against version %d", m.Delta.BaseVersion)
				}
				fmt.Fprintf(e.stdout, "wrote %s: version %d for %s (Microkit %s), %s: payload %s (the whole slot compressed: %s; the slot: %s)\n",
					*out, m.Version, strings.Join(m.Boards, ", "), m.Microkit, what, humanBytes(m.Payloads[0].Size), humanBytes(made.FullSize), humanBytes(m.Slot.Size))
				return ExitOK
			}
		},
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// issueTime is --issued, else SOURCE_DATE_EPOCH, else now.
func issueTime(e *env, flagValue string) (time.Time, error) {
	if flagValue != "" {
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("--issued %q: want an RFC 3339 time", flagValue)
		}
		return t.UTC(), nil
	}
	if v := e.getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

func bundleInspectCommand() *command {
	return &command{
		name:    "inspect",
		args:    "BUNDLE",
		summary: "show a bundle's manifest and pieces (its signature is checked with --key)",
		setup: func(fs *flag.FlagSet) run {
			pubPath := fs.String("key", "", "check the manifest's signature with this public key (`FILE`)")
			asJSON := fs.Bool("json", false, "print the manifest as JSON")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one bundle")
				}
				br, done, code := openBundle(e, args[0], *pubPath)
				if br == nil {
					return code
				}
				defer done()
				if *asJSON {
					e.stdout.Write(append(br.Raw, '\n'))
					return ExitOK
				}
				m := br.Manifest
				sig := "not checked (give --key)"
				if *pubPath != "" {
					sig = "verified with " + *pubPath
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "version\t%d (replaces %d or later; floor once confirmed: %d)\n", m.Version, m.MinInstalled, m.Floor)
				fmt.Fprintf(tw, "for\t%s, Microkit %s\n", strings.Join(m.Boards, ", "), m.Microkit)
				fmt.Fprintf(tw, "issued\t%s, expires %s\n", m.Issued, m.Expires)
				fmt.Fprintf(tw, "image\tsha256:%s (%s)\n", m.Image.SHA256, humanBytes(m.Image.Size))
				fmt.Fprintf(tw, "slot\tsha256:%s (%s)\n", m.Slot.SHA256, humanBytes(m.Slot.Size))
				fmt.Fprintf(tw, "build\t%s/%s, manifest sha256:%.16s…\n", m.Build.Recipe, m.Build.Config, m.Build.Manifest)
				fmt.Fprintf(tw, "payload\t%s: %s, %s, sha256:%.16s…\n", m.Payloads[0].Name, m.Payloads[0].Kind, humanBytes(m.Payloads[0].Size), m.Payloads[0].SHA256)
				fmt.Fprintf(tw, "signature\t%s\n", sig)
				for _, bank := range sortedKeys(m.Measurements) {
					for _, pcr := range sortedKeys(m.Measurements[bank]) {
						fmt.Fprintf(tw, "PCR %s %s\t%s\n", pcr, bank, m.Measurements[bank][pcr])
					}
				}
				tw.Flush()
				if d := m.Delta; d != nil {
					fmt.Fprintf(e.stdout, "\ndelta against version %d (slot sha256:%.16s…, %s):\n", d.BaseVersion, d.Base.SHA256, humanBytes(d.Base.Size))
					tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "PIECE\tOFFSET\tSIZE\tOP\tSHIPPED")
					for _, p := range d.Pieces {
						shipped := "0"
						if p.Data != nil {
							shipped = strconv.FormatInt(p.Data.Size, 10)
						}
						fmt.Fprintf(tw, "%s\t%#x\t%d\t%s\t%s\n", p.Name, p.Offset, p.Size, p.Op, shipped)
					}
					tw.Flush()
				}
				return ExitOK
			}
		},
	}
}

func bundleVerifyCommand() *command {
	return &command{
		name:    "verify",
		args:    "BUNDLE",
		summary: "check a bundle's signature, manifest and payload",
		setup: func(fs *flag.FlagSet) run {
			pubPath := fs.String("key", "", "the public key (`FILE`) the manifest must verify with (required)")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one bundle")
				}
				if *pubPath == "" {
					return usageError(e, "give the public key with --key")
				}
				br, done, code := openBundle(e, args[0], *pubPath)
				if br == nil {
					return code
				}
				defer done()
				payload, err := br.Payload()
				if err != nil {
					return e.fail(err)
				}
				m := br.Manifest
				if m.Delta == nil {
					if _, err := m.MakeSlot(payload, nil); err != nil {
						return e.fail(err)
					}
				}
				fmt.Fprintf(e.stdout, "%s: verified: version %d for %s, the manifest signed by %s, payload %s (%s) matches", args[0], m.Version, strings.Join(m.Boards, ", "), *pubPath, m.Payloads[0].Name, humanBytes(m.Payloads[0].Size))
				if m.Delta == nil {
					fmt.Fprintf(e.stdout, ", and decompresses to the slot it names")
				} else {
					fmt.Fprintf(e.stdout, " (a delta: the slot is made and checked on the device)")
				}
				fmt.Fprintln(e.stdout)
				return ExitOK
			}
		},
	}
}

// openBundle opens a bundle and reads its manifest, checking the
// signature when a key is given; done closes it.
func openBundle(e *env, path, pubPath string) (br *update.Reader, done func(), code int) {
	var pub crypto.PublicKey
	if pubPath != "" {
		var err error
		if pub, err = sign.LoadPublicKey(pubPath); err != nil {
			return nil, nil, e.fail(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, e.fail(err)
	}
	if br, err = update.Open(f, pub); err != nil {
		f.Close()
		return nil, nil, e.fail(fmt.Errorf("%s: %w", filepath.Base(path), err))
	}
	return br, func() { f.Close() }, ExitOK
}
