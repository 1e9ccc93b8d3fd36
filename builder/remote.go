package builder

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RemoteStore is a cache shared between machines: blobs by digest, and
// action records by key. A miss is an error; what it returns is checked
// against its digest before it counts.
type RemoteStore interface {
	// GetCAS fetches blob d into the local cache (which checks it).
	GetCAS(d Digest, c *Cache) error
	// GetAC fetches the action record of the action key (size bytes long).
	GetAC(key Digest, size int64) ([]byte, error)
	// PutCAS uploads the blob at path unless the server has it.
	PutCAS(d Digest, path string) error
	// PutAC uploads an action record (after the blobs it names).
	PutAC(key Digest, size int64, record []byte) error
	// Traffic is how many bytes of blobs and records came down and went
	// up so far.
	Traffic() (received, sent int64)
}

// BatchGetter is a remote that fetches many blobs in few requests.
type BatchGetter interface {
	// GetCASMany fetches what it can of the blobs into the local cache
	// (which checks them); what it could not get is left to GetCAS.
	GetCASMany(ds []Digest, c *Cache)
}

// Prefetch brings the blobs the local cache lacks from the remote, several
// at once (in batches, where the remote batches), before they are read one
// by one: a blob it could not get is fetched again, or reported, then.
func (c *Cache) Prefetch(ds []Digest) {
	if c.Remote == nil {
		return
	}
	var missing []Digest
	seen := map[Digest]bool{}
	for _, d := range ds {
		if !seen[d] && !c.Has(d) {
			seen[d] = true
			missing = append(missing, d)
		}
	}
	if len(missing) < 2 {
		return
	}
	if b, ok := c.Remote.(BatchGetter); ok {
		b.GetCASMany(missing, c)
		return
	}
	Parallel(len(missing), 4, func(i int) { c.Remote.GetCAS(missing[i], c) })
}

// Parallel calls f(0) … f(n-1), at most width at once.
func Parallel(n, width int, f func(i int)) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// traffic counts a remote's bytes.
type traffic struct{ received, sent atomic.Int64 }

func (t *traffic) Traffic() (int64, int64) { return t.received.Load(), t.sent.Load() }

// PutBlob adds a blob to the local cache and returns its digest (a
// remote's fetch checks it against the one it asked for).
func (c *Cache) PutBlob(r io.Reader) (Digest, error) {
	d, _, err := c.put(r)
	return d, err
}

// DropBlob removes a blob from the local cache (one a remote sent under
// another digest).
func (c *Cache) DropBlob(d Digest) { os.Remove(c.casPath(d)) }

// Remote is a bazel-remote (or any server speaking its HTTP protocol):
// blobs at /cas/<sha256>, action records at /ac/<key>. The server must
// accept arbitrary action records (bazel-remote --disable_http_ac_validation).
type Remote struct {
	Base   string
	Client *http.Client
	traffic
}

// NewRemote returns a client for the cache at base (http://host:port).
func NewRemote(base string) *Remote {
	return &Remote{Base: strings.TrimSuffix(base, "/"), Client: &http.Client{Timeout: 5 * time.Minute}}
}

func (r *Remote) url(kind string, d Digest) string { return r.Base + "/" + kind + "/" + string(d) }

// errMiss is a 404 from the remote cache.
var errMiss = fmt.Errorf("not in the remote cache")

func (r *Remote) get(kind string, d Digest) (io.ReadCloser, error) {
	resp, err := r.Client.Get(r.url(kind, d))
	if err != nil {
		return nil, fmt.Errorf("remote cache: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return nil, errMiss
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("remote cache: GET %s: %s", r.url(kind, d), resp.Status)
	}
	return resp.Body, nil
}

// GetCAS fetches a blob into the local cache; the local cache checks it.
func (r *Remote) GetCAS(d Digest, c *Cache) error {
	body, err := r.get("cas", d)
	if err != nil {
		return err
	}
	defer body.Close()
	got, n, err := c.put(body)
	r.received.Add(n)
	if err != nil {
		return err
	}
	if got != d {
		os.Remove(c.casPath(got))
		return fmt.Errorf("remote cache: blob %s: %w (it hashes to %s)", d, ErrCorrupt, got)
	}
	return nil
}

// GetAC fetches an action record.
func (r *Remote) GetAC(key Digest, _ int64) ([]byte, error) {
	body, err := r.get("ac", key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	r.received.Add(int64(len(b)))
	return b, err
}

func (r *Remote) put(kind string, d Digest, body io.Reader, size int64) error {
	req, err := http.NewRequest(http.MethodPut, r.url(kind, d), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("remote cache: %w", err)
	}
	defer resp.Body.Close()
	r.sent.Add(size)
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("remote cache: PUT %s: %s %s", r.url(kind, d), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// PutCAS uploads a blob unless the server has it.
func (r *Remote) PutCAS(d Digest, path string) error {
	if resp, err := r.Client.Head(r.url("cas", d)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	return r.put("cas", d, f, info.Size())
}

// PutAC uploads an action record.
func (r *Remote) PutAC(key Digest, _ int64, record []byte) error {
	return r.put("ac", key, bytes.NewReader(record), int64(len(record)))
}
