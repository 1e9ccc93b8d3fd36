package reapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/testbazel"
	"github.com/pointsav/plinth/internal/testcert"
)

func startServer(t testing.TB, extra ...string) testbazel.Server { return testbazel.Start(t, extra...) }

func openCache(t *testing.T, remote builder.RemoteStore) *builder.Cache {
	t.Helper()
	c, err := builder.OpenCache(t.TempDir(), remote)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blob writes data to a file and returns its digest and path.
func blob(t *testing.T, data []byte) (builder.Digest, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(p, data, 0o644)
	return builder.HashBytes(data), p
}

// A step's record and blobs (one small, sent in a batch; one of 6 MiB,
// above the batch limit, sent by ByteStream) go up from one machine and
// come down to a fresh one, which checks them.
func TestARecordAndItsBlobsTravelThroughTheServer(t *testing.T) {
	s := startServer(t)
	up, err := Dial(s.GRPCURL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	small := []byte("a log line\n")
	big := bytes.Repeat([]byte("plinth output "), 6<<20/14)
	ds, ps := blob(t, small)
	db, pb := blob(t, big)
	for _, b := range []struct {
		d builder.Digest
		p string
	}{{ds, ps}, {db, pb}} {
		if err := up.PutCAS(b.d, b.p); err != nil {
			t.Fatal(err)
		}
	}
	key := builder.HashBytes([]byte("a step's inputs"))
	record, _ := json.Marshal(builder.ActionRecord{Key: key, Step: "compile", Log: ds, Outputs: []builder.Output{{Path: "out.bin", Digest: db}}})
	if err := up.PutAC(key, 64, record); err != nil {
		t.Fatal(err)
	}
	// Sending the same blob again sends nothing new (FindMissingBlobs).
	if err := up.PutCAS(db, pb); err != nil {
		t.Fatal(err)
	}

	down, err := Dial(s.GRPCURL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	cache := openCache(t, down)
	if err := down.GetCAS(db, cache); err == nil {
		t.Error("a blob whose size no action result gave was fetched")
	}
	got, err := down.GetAC(key, 64)
	if err != nil || !bytes.Equal(got, record) {
		t.Fatalf("the record: %v", err)
	}
	for d, want := range map[builder.Digest][]byte{ds: small, db: big} {
		data, err := cache.ReadBlob(d)
		if err != nil || !bytes.Equal(data, want) {
			t.Errorf("blob %s: %v", d, err)
		}
	}
	if _, err := down.GetAC(builder.HashBytes([]byte("never built")), 64); err == nil {
		t.Error("a key never stored is a hit")
	}
}

// A blob altered on the server's disk comes back a miss (an error the
// cache reports), never as an output.
func TestACorruptEntryIsAMiss(t *testing.T) {
	s := startServer(t)
	c, err := Dial(s.GRPCURL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := []byte("the only copy of an output")
	d, p := blob(t, data)
	key := builder.HashBytes([]byte("inputs"))
	record, _ := json.Marshal(builder.ActionRecord{Key: key, Step: "s", Log: d})
	if err := c.PutCAS(d, p); err != nil {
		t.Fatal(err)
	}
	if err := c.PutAC(key, 64, record); err != nil {
		t.Fatal(err)
	}
	// Flip a byte of the stored blob.
	var stored string
	filepath.WalkDir(filepath.Join(s.Dir, "cas.v2"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.Contains(filepath.Base(path), string(d)) {
			stored = path
		}
		return nil
	})
	if stored == "" {
		t.Fatalf("bazel-remote's file for %s not found under %s", d, s.Dir)
	}
	b, _ := os.ReadFile(stored)
	b[len(b)-1] ^= 1
	os.WriteFile(stored, b, 0o644)

	fresh, err := Dial(s.GRPCURL(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	cache := openCache(t, fresh)
	if _, err := fresh.GetAC(key, 64); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.ReadBlob(d); err == nil {
		t.Fatal("a corrupt blob was taken")
	} else {
		t.Log(err)
	}
}

// Over TLS with a password: the right credentials work; a wrong or rotated
// password, or no CA, is refused at once with the reason.
func TestTLSAndCredentials(t *testing.T) {
	cert, key := testcert.SelfSigned(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("new-secret"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(htpasswd, []byte("builder:"+string(hash)+"\n"), 0o644)
	s := startServer(t, "--tls_cert_file", cert, "--tls_key_file", key, "--htpasswd_file", htpasswd)
	target := "grpcs://" + s.GRPC
	good, err := Dial(target, Options{CAFile: cert, Username: "builder", Password: "new-secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	d, p := blob(t, []byte("over TLS"))
	if err := good.PutCAS(d, p); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"rotated password": {CAFile: cert, Username: "builder", Password: "old-secret"},
		"no credentials":   {CAFile: cert},
		"no CA":            {Username: "builder", Password: "new-secret"},
	} {
		c, err := Dial(target, o)
		if err == nil {
			c.Close()
			t.Errorf("%s: connected", name)
			continue
		}
		want := "refused the credentials"
		if name == "no CA" {
			want = "certificate"
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := Dial("http://"+s.GRPC, Options{}); err == nil {
		t.Error("an http URL was taken as gRPC")
	}
}

// storeStep uploads blobs through a new client (plain or not) and a record
// naming the first as its log and the rest as its outputs; fetchStep reads
// that record back through another, into a fresh cache.
func storeStep(t *testing.T, s testbazel.Server, plain bool, key builder.Digest, blobs ...[]byte) (*Client, []builder.Digest, []byte) {
	t.Helper()
	up, err := Dial(s.GRPCURL(), Options{Plain: plain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	var ds []builder.Digest
	var outs []builder.Output
	for i, data := range blobs {
		d, p := blob(t, data)
		if err := up.PutCAS(d, p); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
		if i > 0 {
			outs = append(outs, builder.Output{Path: fmt.Sprint(i), Digest: d})
		}
	}
	record, _ := json.Marshal(builder.ActionRecord{Key: key, Step: "s", Log: ds[0], Outputs: outs})
	if err := up.PutAC(key, 64, record); err != nil {
		t.Fatal(err)
	}
	return up, ds, record
}

func fetchStep(t *testing.T, s testbazel.Server, plain bool, key builder.Digest) (*Client, *builder.Cache) {
	t.Helper()
	down, err := Dial(s.GRPCURL(), Options{Plain: plain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { down.Close() })
	cache := openCache(t, down)
	if _, err := down.GetAC(key, 64); err != nil {
		t.Fatal(err)
	}
	return down, cache
}

// bazel-remote offers zstd: blobs travel compressed both ways (batch and
// ByteStream) and come out whole; with Plain they travel as they are.
func TestBlobsTravelCompressedWhereTheServerOffersIt(t *testing.T) {
	s := startServer(t)
	small := bytes.Repeat([]byte("a log line\n"), 200)
	big := bytes.Repeat([]byte("plinth output "), 6<<20/14)
	for _, plain := range []bool{false, true} {
		// Each round its own blobs, so the server has none of them.
		salt := []byte{byte(len("plain")), 0}
		if plain {
			salt[1] = 1
		}
		key := builder.HashBytes(append([]byte("inputs"), salt...))
		up, ds, record := storeStep(t, s, plain, key, append(append([]byte{}, small...), salt...), append(append([]byte{}, big...), salt...))
		if up.zstd == plain || up.zstdBatch == plain {
			t.Fatalf("plain %v: zstd %v, batch %v", plain, up.zstd, up.zstdBatch)
		}
		down, cache := fetchStep(t, s, plain, key)
		for _, d := range ds {
			if _, err := cache.ReadBlob(d); err != nil {
				t.Fatalf("plain %v: %v", plain, err)
			}
		}
		_, sent := up.Traffic()
		received, _ := down.Traffic()
		payload := int64(len(small) + len(big) + 4 + len(record))
		t.Logf("plain %v: %d bytes of blobs, %d sent, %d received", plain, payload, sent, received)
		if compressed := sent < payload/20 && received < payload/20; compressed == plain {
			t.Errorf("plain %v: %d bytes sent and %d received for %d", plain, sent, received, payload)
		}
	}
}

// Prefetch brings a record's blobs down together — small ones in one
// batch, a large one by ByteStream — each checked before the cache keeps
// it; a blob no action result sized is left for later.
func TestPrefetchBringsBlobsTogether(t *testing.T) {
	s := startServer(t)
	for _, plain := range []bool{false, true} {
		var blobs [][]byte
		for i, size := range []int{10, 3000, 70000, 5 << 20} {
			blobs = append(blobs, bytes.Repeat([]byte(fmt.Sprintf("%v blob %d ", plain, i)), size/10+1)[:size])
		}
		key := builder.HashBytes([]byte(fmt.Sprintf("prefetch %v", plain)))
		_, all, _ := storeStep(t, s, plain, key, blobs...)
		_, cache := fetchStep(t, s, plain, key)
		unsized := builder.HashBytes([]byte("never listed"))
		cache.Prefetch(append(all, unsized))
		for _, d := range all {
			if !cache.Has(d) {
				t.Errorf("plain %v: blob %s not prefetched", plain, d)
			}
		}
		if cache.Has(unsized) {
			t.Error("a blob nobody sized was fetched")
		}
	}
}
