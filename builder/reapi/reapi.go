// Package reapi is plinth's shared cache over the Bazel Remote Execution
// API's cache services (REAPI v2 over gRPC: ActionCache,
// ContentAddressableStorage, ByteStream, Capabilities), as BuildBuddy,
// Buildbarn, EngFlow, NativeLink and bazel-remote serve them.
//
// A step's record is a blob (plinth-record.json) in the CAS, and its
// action result lists that blob and every blob the record names, with
// their sizes: REAPI names a blob by digest and size, so a fetch first
// reads the action result and takes the sizes from it. Everything read
// is checked against its digest; a blob that is not what it says is a
// miss, never an output.
package reapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pointsav/plinth/builder"
)

// RecordFile is the output name of a step's record in an action result.
const RecordFile = "plinth-record.json"

// Options say how to reach the server.
type Options struct {
	// CAFile is a PEM file of certificates the server's is checked
	// against (grpcs:// only; default the system's).
	CAFile string
	// Username and Password are sent as HTTP basic authorisation.
	Username, Password string
	// Instance is the REAPI instance name (default: none).
	Instance string
	// Plain sends and asks for blobs as they are, even when the server
	// offers zstd.
	Plain bool
}

// Client is a REAPI cache.
type Client struct {
	conn     *grpc.ClientConn
	cas      repb.ContentAddressableStorageClient
	ac       repb.ActionCacheClient
	bs       bytestream.ByteStreamClient
	instance string
	maxBatch int64
	// zstd: blobs travel zstd-compressed (the server offers it, for
	// ByteStream; zstdBatch for batch uploads too).
	zstd, zstdBatch bool

	mu    sync.Mutex
	sizes map[builder.Digest]int64 // from action results read and blobs sent

	received, sent atomic.Int64
}

// Traffic is how many bytes of blobs came down and went up so far.
func (c *Client) Traffic() (int64, int64) { return c.received.Load(), c.sent.Load() }

// Dial connects to grpc://HOST:PORT (plain) or grpcs://HOST:PORT (TLS)
// and asks the server what it can do: it must store SHA-256 digests and
// have an action cache.
func Dial(target string, o Options) (*Client, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "grpc" && u.Scheme != "grpcs") || u.Host == "" {
		return nil, fmt.Errorf("%s: want grpc://HOST:PORT or grpcs://HOST:PORT", target)
	}
	var opts []grpc.DialOption
	if u.Scheme == "grpcs" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no PEM certificates", o.CAFile)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	} else {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.Username != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(basicAuth{o.Username, o.Password, u.Scheme == "grpcs"}))
	}
	opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	conn, err := grpc.NewClient(u.Host, opts...)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn, cas: repb.NewContentAddressableStorageClient(conn), ac: repb.NewActionCacheClient(conn),
		bs: bytestream.NewByteStreamClient(conn), instance: o.Instance, sizes: map[builder.Digest]int64{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caps, err := repb.NewCapabilitiesClient(conn).GetCapabilities(ctx, &repb.GetCapabilitiesRequest{InstanceName: o.Instance})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("remote cache %s: %w", target, explain(err))
	}
	cc := caps.GetCacheCapabilities()
	sha := false
	for _, f := range cc.GetDigestFunctions() {
		sha = sha || f == repb.DigestFunction_SHA256
	}
	if !sha || cc.GetActionCacheUpdateCapabilities() == nil || !cc.GetActionCacheUpdateCapabilities().GetUpdateEnabled() {
		conn.Close()
		return nil, fmt.Errorf("remote cache %s: the server does not keep SHA-256 blobs with an action cache plinth may write", target)
	}
	if !o.Plain {
		c.zstd = slices.Contains(cc.GetSupportedCompressors(), repb.Compressor_ZSTD)
		c.zstdBatch = c.zstd && slices.Contains(cc.GetSupportedBatchUpdateCompressors(), repb.Compressor_ZSTD)
	}
	c.maxBatch = cc.GetMaxBatchTotalSizeBytes()
	if c.maxBatch <= 0 || c.maxBatch > 4<<20 {
		c.maxBatch = 4 << 20 // gRPC's default message size
	}
	return c, nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

type basicAuth struct {
	user, password string
	secure         bool
}

func (b basicAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(b.user+":"+b.password))}, nil
}

func (b basicAuth) RequireTransportSecurity() bool { return b.secure }

// explain turns an authentication failure into words a user can act on.
func explain(err error) error {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("the server refused the credentials (PLINTH_REMOTE_CACHE_USERNAME and _PASSWORD): %w", err)
	}
	return err
}

func digestOf(d builder.Digest, size int64) *repb.Digest {
	return &repb.Digest{Hash: string(d), SizeBytes: size}
}

func (c *Client) remember(d builder.Digest, size int64) {
	c.mu.Lock()
	c.sizes[d] = size
	c.mu.Unlock()
}

func (c *Client) size(d builder.Digest) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sizes[d]
	return s, ok
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Minute)
}

// GetAC reads the action result of the action key (a serialised REAPI
// Action of size bytes) and its record, and learns the sizes of the blobs
// it lists.
func (c *Client) GetAC(key builder.Digest, size int64) ([]byte, error) {
	ctx, cancel := timeout()
	defer cancel()
	res, err := c.ac.GetActionResult(ctx, &repb.GetActionResultRequest{InstanceName: c.instance, ActionDigest: digestOf(key, size)})
	if err != nil {
		return nil, explain(err)
	}
	var record *repb.Digest
	for _, f := range res.GetOutputFiles() {
		c.remember(builder.Digest(f.GetDigest().GetHash()), f.GetDigest().GetSizeBytes())
		if f.GetPath() == RecordFile {
			record = f.GetDigest()
		}
	}
	if record == nil {
		return nil, fmt.Errorf("the action result for %s holds no %s", key, RecordFile)
	}
	var buf bytes.Buffer
	if err := c.read(ctx, record, &buf); err != nil {
		return nil, err
	}
	if got := builder.HashBytes(buf.Bytes()); got != builder.Digest(record.GetHash()) {
		return nil, fmt.Errorf("remote cache: the record of %s: %w (it hashes to %s)", key, builder.ErrCorrupt, got)
	}
	return buf.Bytes(), nil
}

// GetCAS reads a blob whose size an action result gave into the local
// cache, which checks it.
func (c *Client) GetCAS(d builder.Digest, cache *builder.Cache) error {
	size, ok := c.size(d)
	if !ok {
		return fmt.Errorf("remote cache: blob %s: its size is not known (no action result listed it)", d)
	}
	ctx, cancel := timeout()
	defer cancel()
	var buf bytes.Buffer
	if err := c.read(ctx, digestOf(d, size), &buf); err != nil {
		return err
	}
	got, err := cache.PutBlob(&buf)
	if err != nil {
		return err
	}
	if got != d {
		cache.DropBlob(got)
		return fmt.Errorf("remote cache: blob %s: %w (it hashes to %s)", d, builder.ErrCorrupt, got)
	}
	return nil
}

// GetCASMany fetches blobs whose sizes action results gave: the small ones
// together in batches under the server's limit, the large ones by
// ByteStream, four requests at a time. Each blob is checked by the cache;
// one it could not get is left to GetCAS.
func (c *Client) GetCASMany(ds []builder.Digest, cache *builder.Cache) {
	limit := c.maxBatch - 1024
	var batches [][]*repb.Digest
	var large []*repb.Digest
	var cur []*repb.Digest
	var curSize int64
	for _, d := range ds {
		size, ok := c.size(d)
		switch {
		case !ok:
			continue
		case size >= limit:
			large = append(large, digestOf(d, size))
			continue
		case curSize+size+int64(len(cur)+1)*128 > limit: // 128: each answer's framing
			batches = append(batches, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, digestOf(d, size))
		curSize += size
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	builder.Parallel(len(batches)+len(large), 4, func(i int) {
		ctx, cancel := timeout()
		defer cancel()
		if i >= len(batches) {
			var buf bytes.Buffer
			d := large[i-len(batches)]
			if c.read(ctx, d, &buf) == nil {
				keep(cache, builder.Digest(d.GetHash()), buf.Bytes())
			}
			return
		}
		req := &repb.BatchReadBlobsRequest{InstanceName: c.instance, Digests: batches[i]}
		if c.zstd {
			req.AcceptableCompressors = []repb.Compressor_Value{repb.Compressor_ZSTD}
		}
		resp, err := c.cas.BatchReadBlobs(ctx, req)
		if err != nil {
			return
		}
		for _, r := range resp.GetResponses() {
			if r.GetStatus().GetCode() != int32(codes.OK) {
				continue
			}
			c.received.Add(int64(len(r.GetData())))
			data, err := c.decoded(r)
			if err == nil {
				keep(cache, builder.Digest(r.GetDigest().GetHash()), data)
			}
		}
	})
}

// keep puts a blob into the local cache if it is what its digest says.
func keep(cache *builder.Cache, d builder.Digest, data []byte) {
	if got, err := cache.PutBlob(bytes.NewReader(data)); err == nil && got != d {
		cache.DropBlob(got)
	}
}

// decoded is a batch answer's blob, decompressed as the server says it is.
func (c *Client) decoded(r *repb.BatchReadBlobsResponse_Response) ([]byte, error) {
	switch r.GetCompressor() {
	case repb.Compressor_IDENTITY:
		return r.GetData(), nil
	case repb.Compressor_ZSTD:
		return unzstd(r.GetData(), r.GetDigest().GetSizeBytes())
	}
	return nil, fmt.Errorf("compressed with %s, which plinth did not ask for", r.GetCompressor())
}

// read fetches a blob: in one batch when small, else by ByteStream.
func (c *Client) read(ctx context.Context, d *repb.Digest, w io.Writer) error {
	if d.GetSizeBytes() < c.maxBatch-1024 {
		req := &repb.BatchReadBlobsRequest{InstanceName: c.instance, Digests: []*repb.Digest{d}}
		if c.zstd {
			req.AcceptableCompressors = []repb.Compressor_Value{repb.Compressor_ZSTD}
		}
		resp, err := c.cas.BatchReadBlobs(ctx, req)
		if err != nil {
			return explain(err)
		}
		for _, r := range resp.GetResponses() {
			if r.GetStatus().GetCode() != int32(codes.OK) {
				return fmt.Errorf("remote cache: blob %s: %s", d.GetHash(), r.GetStatus().GetMessage())
			}
			c.received.Add(int64(len(r.GetData())))
			data, err := c.decoded(r)
			if err != nil {
				return fmt.Errorf("remote cache: blob %s: %w", d.GetHash(), err)
			}
			_, err = w.Write(data)
			return err
		}
		return fmt.Errorf("remote cache: blob %s: no answer", d.GetHash())
	}
	name := fmt.Sprintf("blobs/%s/%d", d.GetHash(), d.GetSizeBytes())
	if c.zstd {
		name = fmt.Sprintf("compressed-blobs/zstd/%s/%d", d.GetHash(), d.GetSizeBytes())
	}
	if c.instance != "" {
		name = c.instance + "/" + name
	}
	stream, err := c.bs.Read(ctx, &bytestream.ReadRequest{ResourceName: name})
	if err != nil {
		return explain(err)
	}
	var compressed bytes.Buffer
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return explain(err)
		}
		c.received.Add(int64(len(chunk.GetData())))
		if c.zstd {
			compressed.Write(chunk.GetData())
		} else if _, err := w.Write(chunk.GetData()); err != nil {
			return err
		}
	}
	if !c.zstd {
		return nil
	}
	data, err := unzstd(compressed.Bytes(), d.GetSizeBytes())
	if err != nil {
		return fmt.Errorf("remote cache: blob %s: %w", d.GetHash(), err)
	}
	_, err = w.Write(data)
	return err
}

// PutCAS uploads the blob at path unless the server has it
// (FindMissingBlobs): in one batch when small, else by ByteStream.
func (c *Client) PutCAS(d builder.Digest, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return c.putBytes(d, data)
}

func (c *Client) putBytes(d builder.Digest, data []byte) error {
	dg := digestOf(d, int64(len(data)))
	c.remember(d, dg.SizeBytes)
	ctx, cancel := timeout()
	defer cancel()
	missing, err := c.cas.FindMissingBlobs(ctx, &repb.FindMissingBlobsRequest{InstanceName: c.instance, BlobDigests: []*repb.Digest{dg}})
	if err != nil {
		return explain(err)
	}
	if len(missing.GetMissingBlobDigests()) == 0 {
		return nil
	}
	if dg.SizeBytes < c.maxBatch-1024 {
		req := &repb.BatchUpdateBlobsRequest_Request{Digest: dg, Data: data}
		if c.zstdBatch {
			req.Compressor, req.Data = repb.Compressor_ZSTD, zstdEncoder.EncodeAll(data, nil)
		}
		c.sent.Add(int64(len(req.Data)))
		resp, err := c.cas.BatchUpdateBlobs(ctx, &repb.BatchUpdateBlobsRequest{InstanceName: c.instance, Requests: []*repb.BatchUpdateBlobsRequest_Request{req}})
		if err != nil {
			return explain(err)
		}
		for _, r := range resp.GetResponses() {
			if r.GetStatus().GetCode() != int32(codes.OK) {
				return fmt.Errorf("remote cache: storing blob %s: %s", d, r.GetStatus().GetMessage())
			}
		}
		return nil
	}
	name := fmt.Sprintf("uploads/%s/blobs/%s/%d", uploadID(), d, len(data))
	send := data
	if c.zstd {
		name = fmt.Sprintf("uploads/%s/compressed-blobs/zstd/%s/%d", uploadID(), d, len(data))
		send = zstdEncoder.EncodeAll(data, nil)
	}
	c.sent.Add(int64(len(send)))
	if c.instance != "" {
		name = c.instance + "/" + name
	}
	stream, err := c.bs.Write(ctx)
	if err != nil {
		return explain(err)
	}
	const chunk = 1 << 20
	for off := 0; off < len(send) || off == 0; off += chunk {
		end := min(off+chunk, len(send))
		req := &bytestream.WriteRequest{WriteOffset: int64(off), Data: send[off:end], FinishWrite: end == len(send)}
		if off == 0 {
			req.ResourceName = name
		}
		if err := stream.Send(req); err != nil {
			break // the server's reason comes with CloseAndRecv
		}
		if end == len(send) {
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("remote cache: storing blob %s: %w", d, explain(err))
	}
	// A compressed upload the server already had may say -1.
	if got := resp.GetCommittedSize(); got != int64(len(send)) && !(c.zstd && got == -1) {
		return fmt.Errorf("remote cache: storing blob %s: the server took %d of %d bytes", d, got, len(send))
	}
	return nil
}

// zstdEncoder compresses blobs for the wire; EncodeAll may be called
// concurrently.
var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))

// zstdDecoder decompresses blobs; DecodeAll may be called concurrently.
// Its memory bound is the largest blob plinth takes (the size is checked
// after).
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(4<<30))

// unzstd decompresses a blob of a known size.
func unzstd(data []byte, size int64) ([]byte, error) {
	out, err := zstdDecoder.DecodeAll(data, make([]byte, 0, size))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	if int64(len(out)) != size {
		return nil, fmt.Errorf("zstd: %d bytes, not %d", len(out), size)
	}
	return out, nil
}

// PutAC stores the record as a blob and an action result listing it and
// every blob sent since (the record's outputs and log).
func (c *Client) PutAC(key builder.Digest, size int64, record []byte) error {
	rd := builder.HashBytes(record)
	if err := c.putBytes(rd, record); err != nil {
		return err
	}
	res := &repb.ActionResult{OutputFiles: []*repb.OutputFile{{Path: RecordFile, Digest: digestOf(rd, int64(len(record)))}}}
	for _, d := range recordBlobs(record) {
		if size, ok := c.size(d); ok {
			res.OutputFiles = append(res.OutputFiles, &repb.OutputFile{Path: "blobs/" + string(d), Digest: digestOf(d, size)})
		}
	}
	ctx, cancel := timeout()
	defer cancel()
	_, err := c.ac.UpdateActionResult(ctx, &repb.UpdateActionResultRequest{InstanceName: c.instance, ActionDigest: digestOf(key, size), ActionResult: res})
	return explain(err)
}
