package reapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pointsav/plinth/builder"
)

// countingProxy relays TCP to target on 127.0.0.1 and counts the bytes
// both ways.
type countingProxy struct {
	addr  string
	bytes atomic.Int64
}

func newCountingProxy(tb testing.TB, target string) *countingProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{addr: l.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close() // kept-alive connections would otherwise idle on
		}
		mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			relay := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(counter{dst, &p.bytes}, src)
				dst.Close()
			}
			go relay(s, c)
			go relay(c, s)
		}
	}()
	return p
}

// counter counts what is written through it, as it goes (a kept-alive
// connection is never closed during a benchmark).
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// warmBuild is what a warm build asks of the remote cache: each step's
// record, then its outputs and log.
type warmBuild struct {
	keys  []builder.Digest
	blobs int64
}

// corpus is where a benchmark's blobs come from: random bytes (which no
// compression shrinks) or the Go toolchain's own executables (ELF files,
// as a build's outputs are).
func corpus(tb testing.TB, kind string) func(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	if kind == "random" {
		return func(n int) []byte {
			data := make([]byte, n)
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
			return data
		}
	}
	tools, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "pkg", "tool", "*", "*"))
	var all []byte
	for _, t := range tools {
		b, _ := os.ReadFile(t)
		all = append(all, b...)
	}
	if len(all) < 8<<20 {
		tb.Skipf("the Go toolchain's executables come to %d bytes", len(all))
	}
	off := 0
	return func(n int) []byte {
		if off+n > len(all) {
			off = 0
		}
		off += n
		return all[off-n : off]
	}
}

// upload puts a build of steps (outputs of sizes from 1 KiB to 4 MiB from
// the corpus) through r.
func upload(tb testing.TB, r builder.RemoteStore, steps int, kind string) warmBuild {
	next := corpus(tb, kind)
	dir := tb.TempDir()
	var w warmBuild
	for i := range steps {
		var outs []builder.Output
		var digests []builder.Digest
		for j, size := range []int{1 << 10, 64 << 10, 4 << 20 >> (i % 4)} {
			data := next(size)
			p := filepath.Join(dir, fmt.Sprintf("%d-%d", i, j))
			os.WriteFile(p, data, 0o644)
			d := builder.HashBytes(data)
			if err := r.PutCAS(d, p); err != nil {
				tb.Fatal(err)
			}
			outs = append(outs, builder.Output{Path: fmt.Sprintf("out%d", j), Digest: d})
			digests = append(digests, d)
			w.blobs += int64(size)
		}
		key := builder.HashBytes([]byte(fmt.Sprintf("step %d", i)))
		rec, _ := json.Marshal(builder.ActionRecord{Key: key, Step: fmt.Sprint(i), Log: digests[0], Outputs: outs[1:]})
		if err := r.PutAC(key, 64, rec); err != nil {
			tb.Fatal(err)
		}
		w.keys = append(w.keys, key)
	}
	return w
}

// fetchAll reads every record and every blob it names into a fresh cache.
func fetchAll(b *testing.B, r builder.RemoteStore, w warmBuild) {
	cache, err := builder.OpenCache(b.TempDir(), r)
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range w.keys {
		data, err := r.GetAC(k, 64)
		if err != nil {
			b.Fatal(err)
		}
		var rec builder.ActionRecord
		json.Unmarshal(data, &rec)
		// As a hit does: what is missing comes together (four GETs at
		// once over HTTP, batches and ByteStreams over gRPC), then each
		// blob is read.
		cache.Prefetch(recordBlobs(data))
		for _, d := range recordBlobs(data) {
			if _, err := cache.ReadBlob(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkWarmFetch: a warm build's remote traffic (12 steps, 3 blobs
// each, 23.3 MiB in all) from one bazel-remote, through its HTTP protocol,
// through REAPI over gRPC as the blobs are, and zstd-compressed: the same
// records and blobs fetched into a fresh cache each time, with the bytes on
// the wire counted; for random bytes and for executables.
func BenchmarkWarmFetch(b *testing.B) {
	s := startServer(b)
	for _, kind := range []string{"random", "executables"} {
		for _, proto := range []string{"http", "grpc", "grpc-zstd"} {
			b.Run(kind+"/"+proto, func(b *testing.B) {
				target := s.GRPC
				if proto == "http" {
					target = strings.TrimPrefix(s.HTTP, "http://")
				}
				proxy := newCountingProxy(b, target)
				dial := func() builder.RemoteStore {
					if proto == "http" {
						return builder.NewRemote("http://" + proxy.addr)
					}
					c, err := Dial("grpc://"+proxy.addr, Options{Plain: proto == "grpc"})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { c.Close() })
					return c
				}
				w := upload(b, dial(), 12, kind)
				proxy.bytes.Store(0)
				b.ResetTimer()
				for range b.N {
					// A fresh client: nothing learnt from the upload.
					fetchAll(b, dial(), w)
				}
				b.StopTimer()
				b.ReportMetric(float64(proxy.bytes.Load())/float64(b.N)/float64(w.blobs), "wire-bytes/blob-byte")
				b.ReportMetric(float64(w.blobs)/(1<<20), "MiB-fetched")
				b.SetBytes(w.blobs)
			})
		}
	}
}
