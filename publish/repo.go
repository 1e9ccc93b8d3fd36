package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// Types of a metadata file kept under a tag.
const (
	MetadataArtifactType = "application/vnd.pointsav.plinth.tuf.v1"
	MetadataFileType     = "application/vnd.pointsav.plinth.tuf.metadata.v1+json"
)

// ErrNotFound is a tag or blob the registry does not have.
var ErrNotFound = errors.New("not in the registry")

// Repo is one repository of a registry, with a client that counts its
// requests; a fetch makes all of its requests through one.
type Repo struct {
	repo    *remote.Repository
	counter *countingTransport
	target  Target
	// Tag is the reference's tag ("" when it names none).
	Tag string
}

// Open connects to the repository t names (REGISTRY/REPO, with or
// without a tag).
func Open(t Target) (*Repo, error) {
	repo, tag, err := t.repository()
	if err != nil {
		return nil, err
	}
	if err := t.trust(); err != nil {
		return nil, err
	}
	return &Repo{repo: repo, counter: t.count(repo), target: t, Tag: tag}, nil
}

// trust makes the target's transport trust CAFile's certificates too.
func (t *Target) trust() error {
	if t.CAFile == "" {
		return nil
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s: no PEM certificates", t.CAFile)
	}
	base, ok := t.Transport.(*http.Transport)
	if t.Transport == nil {
		base, ok = http.DefaultTransport.(*http.Transport)
	}
	if !ok {
		return fmt.Errorf("a CA file needs an *http.Transport")
	}
	tr := base.Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Transport = tr
	return nil
}

// Name is REGISTRY/REPO.
func (r *Repo) Name() string { return r.repo.Reference.Registry + "/" + r.repo.Reference.Repository }

// Requests is how many HTTP requests went through r so far.
func (r *Repo) Requests() int { return int(r.counter.requests.Load()) }

// Resolve is the manifest a tag names.
func (r *Repo) Resolve(ctx context.Context, tag string) (ocispec.Descriptor, error) {
	d, err := r.repo.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return d, fmt.Errorf("%s:%s: %w", r.Name(), tag, ErrNotFound)
	}
	return d, err
}

// GetFile reads the file kept under tag (PutFile's), at most limit bytes:
// a larger one is refused before it is downloaded.
func (r *Repo) GetFile(ctx context.Context, tag string, limit int64) ([]byte, error) {
	d, rc, err := r.repo.FetchReference(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fmt.Errorf("%s:%s: %w", r.Name(), tag, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", r.Name(), tag, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, min(d.Size, 1<<20)))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", r.Name(), tag, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil || m.ArtifactType != MetadataArtifactType || len(m.Layers) != 1 {
		return nil, fmt.Errorf("%s:%s: not a metadata file plinth keeps", r.Name(), tag)
	}
	layer := m.Layers[0]
	if layer.Size > limit {
		return nil, fmt.Errorf("%s:%s: the file is %d bytes; at most %d are taken", r.Name(), tag, layer.Size, limit)
	}
	blob, err := r.repo.Blobs().Fetch(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", r.Name(), tag, err)
	}
	defer blob.Close()
	file, err := io.ReadAll(io.LimitReader(blob, layer.Size+1))
	if err != nil {
		return nil, fmt.Errorf("%s:%s: %w", r.Name(), tag, err)
	}
	if int64(len(file)) != layer.Size || layer.Digest.Verifier() == nil {
		return nil, fmt.Errorf("%s:%s: the file is not the %d bytes its manifest names", r.Name(), tag, layer.Size)
	}
	v := layer.Digest.Verifier()
	v.Write(file)
	if !v.Verified() {
		return nil, fmt.Errorf("%s:%s: the file is not the bytes its manifest names (%s)", r.Name(), tag, layer.Digest)
	}
	return file, nil
}

// PutFile keeps a file under tag: an artifact of one layer.
func (r *Repo) PutFile(ctx context.Context, tag, name string, data []byte) error {
	t := r.target
	t.Reference = r.Name() + ":" + tag
	_, err := Push(ctx, Release{ArtifactType: MetadataArtifactType, Files: []File{{Name: name, MediaType: MetadataFileType, Data: data}}}, t)
	return err
}

// Download reads a blob, continuing where a cut connection stopped, at
// most attempts times in all, and checks its digest.
func (r *Repo) Download(ctx context.Context, d ocispec.Descriptor, attempts int) ([]byte, int, error) {
	return download(ctx, r.repo, d, attempts)
}
