package channel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/update"
)

// Fetched is what a fetch from a channel took: the refreshed metadata,
// and the bundle chosen (nil when the channel offers nothing newer).
type Fetched struct {
	*Refreshed
	Offer   Offer
	Bundle  []byte
	Resumed int
}

// Fetch refreshes the device's metadata of the channel kept in repo, picks
// the bundle the targets offer the device (publish.Choose), and downloads
// it by the digest its target names, continuing a cut download, then
// checks it against the target's length and hashes. When repo names a
// tag, the tag must still name the release the target came from. Failed
// checks are *update.CheckError.
func Fetch(ctx context.Context, repo *publish.Repo, name string, have Trusted, dev publish.Device, now time.Time, attempts int) (*Fetched, error) {
	remote, err := InRegistry(repo, name)
	if err != nil {
		return nil, err
	}
	got, err := Refresh(ctx, remote, have, now)
	if err != nil {
		return nil, err
	}
	out := &Fetched{Refreshed: got}
	offers := Offers(got.Targets)
	plain := make([]publish.Offer, len(offers))
	for i, o := range offers {
		plain[i] = o.Offer
	}
	chosen, err := publish.Choose(plain, dev)
	if err != nil {
		return out, nil // nothing newer for this device
	}
	for _, o := range offers {
		if o.Layer.Digest == chosen.Layer.Digest {
			out.Offer = o
		}
	}
	if repo.Tag != "" {
		at, err := repo.Resolve(ctx, repo.Tag)
		if err != nil {
			return nil, err
		}
		if at.Digest.String() != out.Offer.Custom.Release {
			return nil, &update.CheckError{Check: "tag", Err: fmt.Errorf("channel %s's %s came from release %s; the tag %s now names %s (the tag moved)",
				name, out.Offer.Path, out.Offer.Custom.Release, repo.Tag, at.Digest)}
		}
	}
	bundle, resumed, err := repo.Download(ctx, out.Offer.Layer, attempts)
	out.Resumed = resumed
	if err != nil {
		var de *publish.DigestError
		if errors.As(err, &de) {
			return nil, &update.CheckError{Check: "target", Err: fmt.Errorf("the bundle downloaded for %s is not the bytes the channel's targets name: it hashes to %s, the targets name %s", out.Offer.Path, de.Got, de.Want)}
		}
		return nil, err
	}
	if err := got.Targets.Signed.Targets[out.Offer.Path].VerifyLengthHashes(bundle); err != nil {
		return nil, &update.CheckError{Check: "target", Err: fmt.Errorf("the bundle downloaded for %s is not the bytes the channel's targets name: %v", out.Offer.Path, err)}
	}
	out.Bundle = bundle
	return out, nil
}
