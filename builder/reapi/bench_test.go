package reapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
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

// upload puts a build of steps (outputs of sizes from 1 KiB to 4 MiB,
// random bytes, so compression does not flatter either side) through r.
func upload(tb testing.TB, r builder.RemoteStore, steps int) warmBuild {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := tb.TempDir()
	var w warmBuild
	for i := range steps {
		var outs []builder.Output
		var digests []builder.Digest
		for j, size := range []int{1 << 10, 64 << 10, 4 << 20 >> (i % 4)} {
			data := make([]byte, size)
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
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
		for _, d := range recordBlobs(data) {
			if _, err := cache.ReadBlob(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkWarmFetch: a warm build's remote traffic (12 steps, 3 blobs
// each, 23.3 MiB in all) from one bazel-remote, through its HTTP protocol
// and through REAPI over gRPC: the same records and blobs fetched into a
// fresh cache each time, with the bytes on the wire counted.
func BenchmarkWarmFetch(b *testing.B) {
	s := startServer(b)
	for _, proto := range []string{"http", "grpc"} {
		b.Run(proto, func(b *testing.B) {
			var target string
			if proto == "http" {
				target = strings.TrimPrefix(s.HTTP, "http://")
			} else {
				target = s.GRPC
			}
			proxy := newCountingProxy(b, target)
			var r builder.RemoteStore
			if proto == "http" {
				r = builder.NewRemote("http://" + proxy.addr)
			} else {
				c, err := Dial("grpc://"+proxy.addr, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				r = c
			}
			w := upload(b, r, 12)
			proxy.bytes.Store(0)
			b.ResetTimer()
			for range b.N {
				if proto == "grpc" {
					// A fresh client: nothing learnt from the upload.
					c, err := Dial("grpc://"+proxy.addr, Options{})
					if err != nil {
						b.Fatal(err)
					}
					fetchAll(b, c, w)
					c.Close()
				} else {
					fetchAll(b, r, w)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(proxy.bytes.Load())/float64(b.N)/float64(w.blobs), "wire-bytes/blob-byte")
			b.ReportMetric(float64(w.blobs)/(1<<20), "MiB-fetched")
			b.SetBytes(w.blobs)
		})
	}
}
