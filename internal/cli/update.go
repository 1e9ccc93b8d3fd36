package cli

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/sign"
	"github.com/pointsav/plinth/update"
)

func updateCommand() *command {
	return &command{
		name:    "update",
		summary: "install update bundles on A/B disks; show and confirm their slots",
		sub:     []*command{updateApplyCommand(), updateFetchCommand(), updateTrustCommand(), updateStatusCommand(), updateConfirmCommand()},
	}
}

func updateApplyCommand() *command {
	return &command{
		name:    "apply",
		args:    "BUNDLE",
		summary: "install a bundle in the inactive slot of a disk (verify first; power-loss safe)",
		help: `Install a bundle on a plinth disk (a disk image file or a block device): every
check first (the manifest's signature with --key, board, Microkit version,
version above the installed one and not below the device's floor, expiry,
the payload's digest, a delta's base being the installed slot, the slot's
size), the new slot made in memory and checked against the manifest's
digest; nothing is written unless all pass. Then the inactive slot is
written and read back, and only then does the boot selection switch (two
copies of the state, the older overwritten): the new slot boots on trial,
--budget attempts, and U-Boot falls back to the old one unless the new
system confirms itself (or 'plinth update confirm' does).

BUNDLE - reads the bundle from standard input as it streams (from curl, ssh,
a serial line): it is read once, never stored.

A refused bundle exits 1 and names the check that failed.`,
		setup: func(fs *flag.FlagSet) run {
			target := fs.String("target", "", "the disk (`FILE` or block device) to install on (required)")
			pubPath := fs.String("key", "", "the public key (`FILE`) bundles must be signed with (required)")
			noClock := fs.Bool("no-clock", false, "the device has no clock: judge expiry by the latest issue time it has taken")
			budget := fs.Int("budget", update.DefaultBudget, "boot attempts the new slot gets before U-Boot falls back (`N`, 1 to 9)")
			progress := fs.Bool("progress", false, "print progress lines: STAGE DONE TOTAL")
			return func(e *env, args []string) int {
				if len(args) != 1 {
					return usageError(e, "give exactly one bundle")
				}
				if *target == "" || *pubPath == "" {
					return usageError(e, "give the disk with --target and the trusted public key with --key")
				}
				if *budget < 1 || *budget > 9 {
					return usageError(e, "--budget is 1 to 9")
				}
				pub, err := sign.LoadPublicKey(*pubPath)
				if err != nil {
					return e.fail(err)
				}
				var bundle io.Reader = e.stdin
				if args[0] != "-" {
					f, err := os.Open(args[0])
					if err != nil {
						return e.fail(err)
					}
					defer f.Close()
					bundle = f
				}
				t, err := update.OpenTarget(*target, true)
				if err != nil {
					return e.fail(err)
				}
				defer t.Close()
				return install(e, t, bundle, pub, *budget, *noClock, *progress, args[0])
			}
		},
	}
}

// install applies a bundle to the disk and says what it did.
func install(e *env, t *update.Target, bundle io.Reader, pub crypto.PublicKey, budget int, noClock, progress bool, from string) int {
	o := update.ApplyOptions{Key: pub, Budget: budget}
	if !noClock {
		o.Now = time.Now()
	}
	if progress {
		o.Progress = func(stage string, done, total int64) {
			fmt.Fprintf(e.stdout, "progress %s %d %d\n", stage, done, total)
		}
	}
	res, err := update.Apply(bundle, t, o)
	if err != nil {
		return refused(e, err)
	}
	fmt.Fprintf(e.stdout, "installed version %d in slot %s of %s from %s (%s payload %s, slot %s; it was running %d); slot %s boots next, on trial for %d attempts, until it is confirmed\n",
		res.Version, res.Slot, t.Path, from, res.Kind, humanBytes(res.PayloadSize), humanBytes(res.SlotSize), res.Installed, res.Slot, budget)
	return ExitOK
}

func updateFetchCommand() *command {
	return &command{
		name:    "fetch",
		summary: "fetch the bundle a disk needs from an OCI registry, then install it",
		help: `Fetch the bundle for the disk: the highest version above the installed one
for its board and Microkit version (not below its floor; taking its
installed version), a delta when its base is the installed slot, else a
full bundle.

With --channel, which bundles are on offer is the channel's TUF metadata
(plinth release), checked against what the device trusts (plinth update
trust): each new root signed by the old one's keys, the timestamp, snapshot
and targets by enough of the keys the root names, none older than what the
device has taken, none expired (--no-clock: at the latest issue time the
device has taken), each the version the role above names. The bundle is
fetched by the digest its target names, so a tag that moved changes
nothing; --from REGISTRY/REPO:TAG also checks the tag still names the
release the target came from. Without --channel, --from REGISTRY/REPO:TAG
is a release published with plinth publish, and its bundles are on offer.

The download continues where a cut connection stopped (HTTP Range),
--attempts times in all, and its digest is checked; then it installs as
plinth update apply does, every check first. Nothing is written before the
metadata and the bundle verify; the device's metadata is kept (the state
partition) once the bundle is installed, or when there is nothing to
install.`,
		setup: func(fs *flag.FlagSet) run {
			from := fs.String("from", "", "the repository: `REGISTRY/REPO[:TAG]` (required; a tag without --channel)")
			name := fs.String("channel", "", "the channel (`NAME`) whose TUF metadata says what to install")
			target := fs.String("target", "", "the disk (`FILE` or block device) to install on (required)")
			pubPath := fs.String("key", "", "the public key (`FILE`) bundles must be signed with (required)")
			plain := fs.Bool("plain-http", false, "talk HTTP, not HTTPS (a registry on this machine)")
			attempts := fs.Int("attempts", 5, "download attempts in all (`N`), each continuing the last")
			noClock := fs.Bool("no-clock", false, "the device has no clock: judge expiry by the latest issue time it has taken")
			budget := fs.Int("budget", update.DefaultBudget, "boot attempts the new slot gets before U-Boot falls back (`N`, 1 to 9)")
			return func(e *env, args []string) int {
				if len(args) != 0 || *from == "" || *target == "" || *pubPath == "" {
					return usageError(e, "give --from REGISTRY/REPO[:TAG], --target DISK and --key KEY.pub (and no arguments)")
				}
				if *budget < 1 || *budget > 9 || *attempts < 1 {
					return usageError(e, "--budget is 1 to 9; --attempts at least 1")
				}
				pub, err := sign.LoadPublicKey(*pubPath)
				if err != nil {
					return e.fail(err)
				}
				t, err := update.OpenTarget(*target, true)
				if err != nil {
					return e.fail(err)
				}
				defer t.Close()
				st, _, err := t.State()
				if err != nil {
					return e.fail(err)
				}
				active := st.Slots[st.Active]
				dev := publish.Device{Board: st.Board, Microkit: st.Microkit, Installed: active.Version, Slot: active.SHA256, Floor: st.Floor}
				if st.Trial != "" {
					// A slot on trial counts as installed: a newer one replaces it.
					dev.Installed = max(dev.Installed, st.Slots[st.Trial].Version)
				}
				tg := registryTarget(e, *from, *plain)
				if *name != "" {
					now := time.Now()
					if *noClock {
						now = time.Unix(st.Clock, 0)
					}
					return fetchFromChannel(e, t, tg, *name, dev, now, func(bundle []byte, from string) int {
						return install(e, t, bytes.NewReader(bundle), pub, *budget, *noClock, false, from)
					}, *attempts)
				}
				got, err := publish.Fetch(context.Background(), tg, dev, publish.FetchOptions{Attempts: *attempts})
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "fetched version %d (%s, %s) from %s; the download was resumed %d times\n", got.Offer.Version, got.Offer.Kind, humanBytes(int64(len(got.Bundle))), *from, got.Resumed)
				return install(e, t, bytes.NewReader(got.Bundle), pub, *budget, *noClock, false, *from)
			}
		},
	}
}

func updateStatusCommand() *command {
	return &command{
		name:    "status",
		summary: "show a disk's slots, versions and trial state",
		setup: func(fs *flag.FlagSet) run {
			target := fs.String("target", "", "the disk (`FILE` or block device) (required)")
			asJSON := fs.Bool("json", false, "print the state as JSON")
			return func(e *env, args []string) int {
				if len(args) != 0 || *target == "" {
					return usageError(e, "give the disk with --target (and no arguments)")
				}
				t, err := update.OpenTarget(*target, false)
				if err != nil {
					return e.fail(err)
				}
				defer t.Close()
				st, copyNo, err := t.State()
				if err != nil {
					return e.fail(err)
				}
				if *asJSON {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					enc.Encode(st)
					return ExitOK
				}
				printState(e, st, copyNo)
				return ExitOK
			}
		},
	}
}

func printState(e *env, st update.State, copyNo int) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "board\t%s, Microkit %s\n", st.Board, st.Microkit)
	fmt.Fprintf(tw, "boots next\tslot %s\n", st.Booting())
	trial := "none"
	if st.Trial != "" {
		trial = fmt.Sprintf("slot %s, %d of %d attempts left", st.Trial, st.Left, st.Budget)
	}
	fmt.Fprintf(tw, "on trial\t%s\n", trial)
	if st.Failed != "" {
		fmt.Fprintf(tw, "fell back from\tslot %s (never confirmed)\n", st.Failed)
	}
	fmt.Fprintf(tw, "floor\t%d\n", st.Floor)
	fmt.Fprintf(tw, "state\tsequence %d (copy %d)\n", st.Seq, copyNo)
	tw.Flush()
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSLOT\tROLE\tVERSION\tSIZE\tSHA256")
	for _, s := range update.Slots {
		ss := st.Slots[s]
		role := "inactive"
		switch s {
		case st.Active:
			role = "active (good)"
		case st.Trial:
			role = "on trial"
		}
		if ss.SHA256 == "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t(empty)\n", s, role)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.16s…\n", s, role, ss.Version, humanBytes(ss.Size), ss.SHA256)
	}
	tw.Flush()
}

func updateConfirmCommand() *command {
	return &command{
		name:    "confirm",
		summary: "mark the slot on trial good (for a companion processor or a factory station)",
		setup: func(fs *flag.FlagSet) run {
			target := fs.String("target", "", "the disk (`FILE` or block device) (required)")
			force := fs.Bool("force", false, "confirm a slot U-Boot has not booted yet")
			return func(e *env, args []string) int {
				if len(args) != 0 || *target == "" {
					return usageError(e, "give the disk with --target (and no arguments)")
				}
				t, err := update.OpenTarget(*target, true)
				if err != nil {
					return e.fail(err)
				}
				defer t.Close()
				st, err := update.Confirm(t, *force)
				if err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "confirmed slot %s (version %d): it boots from now on; floor %d\n", st.Active, st.Slots[st.Active].Version, st.Floor)
				return ExitOK
			}
		},
	}
}
