package publish

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
)

// Device is what a fetch needs to know of the device it serves.
type Device struct {
	Board, Microkit string
	Installed       uint64
	Floor           uint64 // the lowest version the device takes
	Slot            string // sha256 of the installed slot's bytes: a delta's base must be it
}

// Offer is a bundle a release offers.
type Offer struct {
	Manifest            ocispec.Descriptor // the bundle artifact's manifest
	Layer               ocispec.Descriptor // the bundle file
	Version             uint64
	Kind                string
	Base                string
	Boards              []string
	Microkit            string
	Floor, MinInstalled uint64
}

// Fetched is a bundle fetched for a device.
type Fetched struct {
	Offer   Offer
	Bundle  []byte
	Resumed int // times the download continued after a cut
	// Requests is how many HTTP requests the fetch made (metadata,
	// referrers, the bundle, retries).
	Requests int
}

// FetchOptions bound a fetch.
type FetchOptions struct {
	// Attempts is how many times a download is tried in all (0: 5); each
	// after the first continues where the last stopped.
	Attempts int
}

// Fetch finds, in the release at t (a build published with its bundles,
// or a bundle), the bundle for the device: the highest version above the
// installed one for its board and Microkit version, a delta whose base is
// the installed slot when there is one, else a full bundle; and downloads
// it, continuing a cut download where it stopped (HTTP Range), and checks
// its digest. The bundle's own checks are the installer's.
func Fetch(ctx context.Context, t Target, dev Device, o FetchOptions) (*Fetched, error) {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	r, err := Open(t)
	if err != nil {
		return nil, err
	}
	_, offers, err := r.Offers(ctx, r.Tag)
	if err != nil {
		return nil, err
	}
	offer, err := Choose(offers, dev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Reference, err)
	}
	data, resumed, err := r.Download(ctx, offer.Layer, o.Attempts)
	if err != nil {
		return nil, err
	}
	return &Fetched{Offer: offer, Bundle: data, Resumed: resumed, Requests: r.Requests()}, nil
}

// Offers lists the bundles of the release under tag (a build published
// with its bundles, or a bundle), and the release's manifest.
func (r *Repo) Offers(ctx context.Context, tag string) (ocispec.Descriptor, []Offer, error) {
	ref := r.Name() + ":" + tag
	root, err := r.Resolve(ctx, tag)
	if err != nil {
		return root, nil, err
	}
	var offers []Offer
	consider := func(d ocispec.Descriptor) error {
		var m ocispec.Manifest
		data, err := content.FetchAll(ctx, r.repo, d)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: manifest %s: %w", ref, d.Digest, err)
		}
		if m.ArtifactType != BundleArtifactType || len(m.Layers) != 1 {
			return nil
		}
		a := m.Annotations
		v, err := strconv.ParseUint(a[AnnotationVersion], 10, 64)
		if err != nil {
			return fmt.Errorf("%s: bundle %s has no version", ref, d.Digest)
		}
		floor, _ := strconv.ParseUint(a[AnnotationFloor], 10, 64)
		minInstalled, _ := strconv.ParseUint(a[AnnotationMinInstalled], 10, 64)
		offers = append(offers, Offer{Manifest: d, Layer: m.Layers[0], Version: v, Kind: a[AnnotationKind], Base: a[AnnotationBase], Boards: strings.Split(a[AnnotationBoard], ","),
			Microkit: a[AnnotationMicrokit], Floor: floor, MinInstalled: minInstalled})
		return nil
	}
	if root.ArtifactType == BundleArtifactType {
		if err := consider(root); err != nil {
			return root, nil, err
		}
	} else {
		var refs []ocispec.Descriptor
		if err := r.repo.Referrers(ctx, root, BundleArtifactType, func(rs []ocispec.Descriptor) error { refs = append(refs, rs...); return nil }); err != nil {
			return root, nil, fmt.Errorf("%s: listing its bundles: %w", ref, err)
		}
		for _, d := range refs {
			if err := consider(d); err != nil {
				return root, nil, err
			}
		}
	}
	return root, offers, nil
}

// Choose picks the offer for a device: the highest version above the
// installed one for its board and Microkit version; for it, a delta whose
// base is the installed slot before a full bundle.
func Choose(offers []Offer, dev Device) (Offer, error) {
	var fit []Offer
	for _, o := range offers {
		if slices.Contains(o.Boards, dev.Board) && o.Microkit == dev.Microkit && o.Version > dev.Installed && o.Version >= dev.Floor &&
			o.MinInstalled <= dev.Installed && (o.Kind != "delta" || o.Base == dev.Slot) {
			fit = append(fit, o)
		}
	}
	if len(fit) == 0 {
		return Offer{}, fmt.Errorf("no bundle for %s (Microkit %s) above version %d among the %d offered", dev.Board, dev.Microkit, dev.Installed, len(offers))
	}
	// The highest version; for it, a delta before a full bundle.
	slices.SortFunc(fit, func(a, b Offer) int {
		if a.Version != b.Version {
			return cmp.Compare(b.Version, a.Version)
		}
		return strings.Compare(a.Kind, b.Kind) // "delta" before "full"
	})
	return fit[0], nil
}

// download reads a blob, continuing from where a cut connection stopped,
// at most attempts times in all, and checks its digest.
func download(ctx context.Context, repo *remote.Repository, d ocispec.Descriptor, attempts int) ([]byte, int, error) {
	var buf bytes.Buffer
	var last error
	for try := range attempts {
		if try > 0 {
			select {
			case <-ctx.Done():
				return nil, try - 1, ctx.Err()
			case <-time.After(time.Duration(min(1<<try, 16)) * 100 * time.Millisecond):
			}
		}
		rc, err := repo.Fetch(ctx, d)
		if err != nil {
			last = err
			continue
		}
		if buf.Len() > 0 {
			seeker, ok := rc.(io.Seeker)
			if !ok {
				buf.Reset() // the registry cannot resume: from the start
			} else if _, err := seeker.Seek(int64(buf.Len()), io.SeekStart); err != nil {
				rc.Close()
				last = err
				continue
			}
		}
		_, err = io.Copy(&buf, io.LimitReader(rc, d.Size-int64(buf.Len())))
		rc.Close()
		if err == nil && int64(buf.Len()) == d.Size {
			if got := digest.FromBytes(buf.Bytes()); got != d.Digest {
				return nil, try, &DigestError{Want: d.Digest, Got: got}
			}
			return buf.Bytes(), try, nil
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		last = err
	}
	return nil, attempts - 1, fmt.Errorf("downloading %s: gave up after %d attempts (%d of %d bytes): %w", d.Digest, attempts, buf.Len(), d.Size, last)
}

// DigestError is a download whose bytes are not the ones asked for.
type DigestError struct{ Want, Got digest.Digest }

func (e *DigestError) Error() string {
	return fmt.Sprintf("the bundle %s downloaded is not the bytes the registry named (digest %s): refused", e.Want, e.Got)
}
