package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/pointsav/plinth/channel"
	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/update"
)

// refused reports a failed check the way the installer does.
func refused(e *env, err error) int {
	var ce *update.CheckError
	if errors.As(err, &ce) {
		return e.fail(fmt.Errorf("refused, nothing written: %s check failed: %v", ce.Check, ce.Err))
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) || strings.Contains(err.Error(), "missing username or password") {
		err = fmt.Errorf("%w\n(the registry asks for credentials: set PLINTH_REGISTRY_USERNAME and PLINTH_REGISTRY_PASSWORD)", err)
	}
	return e.fail(err)
}

// fetchFromChannel refreshes the device's metadata of a channel, fetches
// the bundle its targets offer the device and installs it; the device
// keeps the new metadata once the bundle is installed (or when there is
// nothing to install).
func fetchFromChannel(e *env, t *update.Target, tg publish.Target, name string, dev publish.Device, now time.Time, install func([]byte, string) int, attempts int) int {
	ctx := context.Background()
	trust, copyNo, err := t.Trust()
	if err != nil {
		return e.fail(err)
	}
	var have channel.Trusted
	raw, ok := trust.Channels[name]
	if !ok {
		return e.fail(fmt.Errorf("%s trusts no root for channel %s: provision one with plinth update trust", t.Path, name))
	}
	if err := json.Unmarshal(raw, &have); err != nil {
		return e.fail(fmt.Errorf("%s: the trust store's channel %s: %w", t.Path, name, err))
	}
	repo, err := publish.Open(tg)
	if err != nil {
		return e.fail(err)
	}
	got, err := channel.Fetch(ctx, repo, name, have, dev, now, attempts)
	if err != nil {
		return refused(e, err)
	}
	keep := func() error {
		data, err := json.Marshal(got.Trusted)
		if err != nil {
			return err
		}
		trust.Channels[name] = data
		return t.WriteTrust(copyNo, trust)
	}
	v := got.Versions
	fmt.Fprintf(e.stdout, "channel %s: root %d, timestamp %d, snapshot %d, targets %d verified\n", name, v[metadata.ROOT], v[metadata.TIMESTAMP], v[metadata.SNAPSHOT], v[metadata.TARGETS])
	if got.Bundle == nil {
		if err := keep(); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "up to date: channel %s offers no bundle for %s (Microkit %s) above version %d\n", name, dev.Board, dev.Microkit, dev.Installed)
		return ExitOK
	}
	o := got.Offer
	fmt.Fprintf(e.stdout, "fetched %s (version %d, %s, %s) from %s; the download was resumed %d times; %d requests in all\n",
		o.Path, o.Version, o.Kind, humanBytes(int64(len(got.Bundle))), repo.Name(), got.Resumed, repo.Requests())
	bundle := got.Bundle
	if code := install(bundle, repo.Name()+" channel "+name); code != ExitOK {
		return code
	}
	if err := keep(); err != nil {
		return e.fail(fmt.Errorf("installed, but keeping the channel's metadata failed: %w", err))
	}
	return ExitOK
}

func updateTrustCommand() *command {
	return &command{
		name:    "trust",
		args:    "ROOT.json",
		summary: "provision a disk with a channel's root metadata (what plinth update fetch --channel trusts first)",
		help: `Write a channel's root (plinth release init --root-out) into the disk's trust
store, in its state partition: the keys the device trusts for that channel
from now on. Later roots reach the device signed by the keys of the one
before. A disk that trusts a root for the channel already keeps it unless
--replace is given.`,
		setup: func(fs *flag.FlagSet) run {
			target := fs.String("target", "", "the disk (`FILE` or block device) (required)")
			name := fs.String("channel", "", "the channel's `NAME` (required)")
			replace := fs.Bool("replace", false, "replace the root the disk trusts for the channel, and what it has taken since")
			return func(e *env, args []string) int {
				if len(args) != 1 || *target == "" || *name == "" {
					return usageError(e, "give the root file, --target DISK and --channel NAME")
				}
				if err := channel.CheckName(*name); err != nil {
					return usageError(e, err.Error())
				}
				data, err := os.ReadFile(args[0])
				if err != nil {
					return e.fail(err)
				}
				root, err := metadata.Root().FromBytes(data)
				if err == nil {
					err = root.VerifyDelegate(metadata.ROOT, root)
				}
				if err != nil {
					return e.fail(fmt.Errorf("%s: not a root signed by its own keys: %w", args[0], err))
				}
				t, err := update.OpenTarget(*target, true)
				if err != nil {
					return e.fail(err)
				}
				defer t.Close()
				if _, _, err := t.State(); err != nil {
					return e.fail(err)
				}
				trust, copyNo, err := t.Trust()
				if err != nil {
					return e.fail(err)
				}
				if _, ok := trust.Channels[*name]; ok && !*replace {
					return e.fail(fmt.Errorf("%s trusts a root for channel %s already (give --replace to replace it)", *target, *name))
				}
				stored, _ := json.Marshal(channel.Trusted{Root: data})
				trust.Channels[*name] = stored
				if err := t.WriteTrust(copyNo, trust); err != nil {
					return e.fail(err)
				}
				fmt.Fprintf(e.stdout, "%s trusts root version %d for channel %s (root keys: %d of %d)\n", *target, root.Signed.Version, *name,
					root.Signed.Roles[metadata.ROOT].Threshold, len(root.Signed.Roles[metadata.ROOT].KeyIDs))
				return ExitOK
			}
		},
	}
}
