package publish

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Media and artifact types.
const (
	BuildArtifactType  = "application/vnd.pointsav.plinth.build.v1"
	BundleArtifactType = "application/vnd.pointsav.plinth.bundle.v1"
	SigstoreBundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SPDXType           = "application/spdx+json"
	InTotoType         = "application/vnd.in-toto+json"
)

// File is one file of a release: its name (the layer's title) and type.
type File struct {
	Name      string
	MediaType string
	Data      []byte
}

// Referrer is an artifact about the release: its type and files.
type Referrer struct {
	ArtifactType string
	Files        []File
	Annotations  map[string]string
}

// Release is what is published: an artifact and those about it.
type Release struct {
	ArtifactType string
	Files        []File
	Annotations  map[string]string
	Referrers    []Referrer
	// Created stamps every manifest (the release's SOURCE_DATE_EPOCH), so
	// the same release is the same manifests.
	Created time.Time
}

// Target is where a release goes.
type Target struct {
	Reference string // REGISTRY/REPO:TAG
	PlainHTTP bool
	Username  string
	Password  string
	Transport http.RoundTripper // nil: http.DefaultTransport
	// CAFile is a PEM file of certificates trusted besides the system's
	// (a registry with a certificate of its own CA).
	CAFile string
}

// Result says what was pushed.
type Result struct {
	Digest    digest.Digest // the release's manifest
	Referrers []digest.Digest
	Uploaded  int   // blobs and manifests the registry did not have
	Bytes     int64 // their size
	Reference string
}

// pack writes files into store and returns their descriptors, with their
// names as titles.
func pack(ctx context.Context, store *memory.Store, files []File) ([]ocispec.Descriptor, error) {
	var descs []ocispec.Descriptor
	for _, f := range files {
		d := content.NewDescriptorFromBytes(f.MediaType, f.Data)
		d.Annotations = map[string]string{ocispec.AnnotationTitle: f.Name}
		if exists, _ := store.Exists(ctx, d); !exists {
			if err := store.Push(ctx, d, bytes.NewReader(f.Data)); err != nil {
				return nil, err
			}
		}
		descs = append(descs, d)
	}
	return descs, nil
}

// Push packs the release and copies it, with its referrers, to the
// registry (what it holds already is not sent), then tags the release.
func Push(ctx context.Context, r Release, t Target) (*Result, error) {
	repo, tag, err := t.repository()
	if err != nil {
		return nil, err
	}
	if err := t.trust(); err != nil {
		return nil, err
	}
	counter := t.count(repo)

	store := memory.New()
	created := map[string]string{ocispec.AnnotationCreated: r.Created.UTC().Format(time.RFC3339)}
	layers, err := pack(ctx, store, r.Files)
	if err != nil {
		return nil, err
	}
	annotations := maps.Clone(created)
	maps.Copy(annotations, r.Annotations)
	root, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, r.ArtifactType, oras.PackManifestOptions{Layers: layers, ManifestAnnotations: annotations})
	if err != nil {
		return nil, err
	}
	if err := oras.CopyGraph(ctx, store, repo, root, oras.DefaultCopyGraphOptions); err != nil {
		return nil, fmt.Errorf("pushing to %s: %w", t.Reference, err)
	}
	res := &Result{Digest: root.Digest, Reference: repo.Reference.Registry + "/" + repo.Reference.Repository + "@" + root.Digest.String()}
	for _, rf := range r.Referrers {
		descs, err := pack(ctx, store, rf.Files)
		if err != nil {
			return nil, err
		}
		a := maps.Clone(created)
		maps.Copy(a, rf.Annotations)
		m, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, rf.ArtifactType, oras.PackManifestOptions{Subject: &root, Layers: descs, ManifestAnnotations: a})
		if err != nil {
			return nil, err
		}
		if err := oras.CopyGraph(ctx, store, repo, m, oras.DefaultCopyGraphOptions); err != nil {
			return nil, fmt.Errorf("pushing a %s referrer to %s: %w", rf.ArtifactType, t.Reference, err)
		}
		res.Referrers = append(res.Referrers, m.Digest)
	}
	// The tag last, once everything it names is there; and only when it
	// names something else.
	if at, err := repo.Resolve(ctx, tag); err != nil || at.Digest != root.Digest {
		if err := repo.Tag(ctx, root, tag); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t.Reference, err)
		}
	}
	res.Uploaded, res.Bytes = int(counter.uploads.Load()), counter.bytes.Load()
	return res, nil
}

// countingTransport counts requests, and what is uploaded: every PUT
// (blob uploads, manifests, tags), from the copies oras runs at once.
type countingTransport struct {
	next     http.RoundTripper
	requests atomic.Int64
	uploads  atomic.Int64
	bytes    atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.next.RoundTrip(req)
	if err == nil && req.Method == http.MethodPut && resp.StatusCode/100 == 2 {
		c.uploads.Add(1)
		c.bytes.Add(max(req.ContentLength, 0))
	}
	return resp, err
}

// repository is the target's repository and its tag.
func (t Target) repository() (*remote.Repository, string, error) {
	ref, err := registry.ParseReference(t.Reference)
	if err != nil {
		return nil, "", fmt.Errorf("%s: want REGISTRY/REPO:TAG (%w)", t.Reference, err)
	}
	repo, err := remote.NewRepository(ref.Registry + "/" + ref.Repository)
	if err != nil {
		return nil, "", err
	}
	repo.PlainHTTP = t.PlainHTTP
	// A registry without the referrers API keeps an index under a tag;
	// one that refuses deletes (distribution's default) would refuse the
	// cleaning of the old index, so it is left.
	repo.SkipReferrersGC = true
	return repo, ref.Reference, nil
}

// count gives repo a client that counts what it uploads.
func (t Target) count(repo *remote.Repository) *countingTransport {
	base := t.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	counter := &countingTransport{next: base}
	// A request that fails for a moment is tried again, twice, within
	// seconds; what fails for longer is the caller's to retry or report.
	policy := &retry.GenericPolicy{Retryable: retry.DefaultPredicate, Backoff: retry.DefaultBackoff, MinWait: 100 * time.Millisecond, MaxWait: time.Second, MaxRetry: 2}
	transport := &retry.Transport{Base: counter, Policy: func() retry.Policy { return policy }}
	client := &auth.Client{Client: &http.Client{Transport: transport}, Cache: auth.NewCache()}
	if t.Username != "" {
		client.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{Username: t.Username, Password: t.Password})
	}
	repo.Client = client
	return counter
}

// Referrers lists the artifact types of what refers to a manifest, as a
// registry's referrers API answers.
func Referrers(ctx context.Context, t Target, d digest.Digest) ([]string, error) {
	repo, _, err := t.repository()
	if err != nil {
		return nil, err
	}
	t.count(repo)
	desc, err := repo.Resolve(ctx, d.String())
	if err != nil {
		return nil, err
	}
	var types []string
	err = repo.Referrers(ctx, desc, "", func(refs []ocispec.Descriptor) error {
		for _, r := range refs {
			types = append(types, r.ArtifactType)
		}
		return nil
	})
	slices.Sort(types)
	return types, err
}
