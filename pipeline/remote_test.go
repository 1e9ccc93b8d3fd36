package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/builder/reapi"
	"github.com/pointsav/plinth/internal/testbazel"
)

// The same through the Remote Execution API's cache (gRPC) on the same
// server: a second machine gets every step from it, byte for byte.
func TestRemoteCacheOverREAPISharesBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	target := testbazel.Start(t).GRPCURL()
	second := sharesBuilds(t, func() builder.RemoteStore {
		c, err := reapi.Dial(target, reapi.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	})
	checkActionsOnServer(t, target, filepath.Join(second, "cache"))
}

// checkActionsOnServer reads, as any REAPI client would, each step's
// Action, Command and input root from the server under the key in the
// step's record: the key is the digest of the Action, the compile step's
// Command is its command line with its output under out/, and its input
// root holds the source it compiles and the step's inputs.
func checkActionsOnServer(t *testing.T, target, cacheDir string) {
	conn, err := grpc.NewClient(strings.TrimPrefix(target, "grpc://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cas, ac := repb.NewContentAddressableStorageClient(conn), repb.NewActionCacheClient(conn)
	read := func(d *repb.Digest, m proto.Message) []byte {
		t.Helper()
		resp, err := cas.BatchReadBlobs(t.Context(), &repb.BatchReadBlobsRequest{Digests: []*repb.Digest{d}})
		if err != nil || len(resp.GetResponses()) != 1 || resp.GetResponses()[0].GetStatus().GetCode() != 0 {
			t.Fatalf("blob %s: %v %v", d.GetHash(), err, resp)
		}
		data := resp.GetResponses()[0].GetData()
		if m != nil {
			if err := proto.Unmarshal(data, m); err != nil {
				t.Fatal(err)
			}
		}
		return data
	}
	records, _ := filepath.Glob(filepath.Join(cacheDir, "ac", "*.json"))
	seen := 0
	for _, p := range records {
		var rec builder.ActionRecord
		if b, err := os.ReadFile(p); err != nil || json.Unmarshal(b, &rec) != nil || rec.Key == "" {
			continue
		}
		seen++
		ad := &repb.Digest{Hash: string(rec.Key), SizeBytes: rec.ActionSize}
		var action repb.Action
		if raw := read(ad, &action); builder.HashBytes(raw) != rec.Key {
			t.Fatalf("step %s: its key is not its Action's digest", rec.Step)
		}
		if _, err := ac.GetActionResult(t.Context(), &repb.GetActionResultRequest{ActionDigest: ad}); err != nil {
			t.Errorf("step %s: no action result under its Action's digest: %v", rec.Step, err)
		}
		var cmd repb.Command
		read(action.GetCommandDigest(), &cmd)
		var root repb.Directory
		read(action.GetInputRootDigest(), &root)
		var dirs []string
		for _, d := range root.GetDirectories() {
			dirs = append(dirs, d.GetName())
		}
		if rec.Step != "compile" {
			continue
		}
		if got := strings.Join(cmd.GetArguments(), " "); got != "cc -g -ffile-prefix-map=.=. -c src/app/main.c -o out/main.o" {
			t.Errorf("compile's argv: %s", got)
		}
		if strings.Join(cmd.GetOutputPaths(), " ") != "out/main.o" || strings.Join(dirs, " ") != ".plinth src" {
			t.Errorf("compile: outputs %v, input root %v", cmd.GetOutputPaths(), dirs)
		}
		var src, app repb.Directory
		read(root.GetDirectories()[1].GetDigest(), &src)
		read(src.GetDirectories()[0].GetDigest(), &app)
		found := false
		for _, f := range app.GetFiles() {
			found = found || f.GetName() == "main.c" && strings.Contains(string(read(f.GetDigest(), nil)), "hello from plinth")
		}
		if !found {
			t.Error("the input root has no src/app/main.c holding the source")
		}
	}
	if seen != 4 {
		t.Errorf("%d records, want 4", seen)
	}
}

// sharesBuilds builds the fixture on machine A with a client of a remote
// cache, then on machine B (a fresh local cache) with another: B must take
// all four steps from the cache and make the same bundle. It returns B's
// work directory.
func sharesBuilds(t *testing.T, client func() builder.RemoteStore) string {
	t.Helper()
	f := newFixture(t, "ay\n")
	first := t.TempDir()
	cacheA, fetcherA := newEngine(t, filepath.Join(first, "cache"), client())
	res, err := build(t, f.recipeText, first, cacheA, fetcherA)
	if err != nil || len(res.Ran) != 4 {
		t.Fatalf("machine A: %v, ran %v", err, res.Ran)
	}
	second := t.TempDir()
	cacheB, fetcherB := newEngine(t, filepath.Join(second, "cache"), client())
	res, err = build(t, f.recipeText, second, cacheB, fetcherB)
	if err != nil || len(res.Ran) != 0 || res.Hits != 4 {
		t.Fatalf("machine B: %v, ran %v, %d hits", err, res.Ran, res.Hits)
	}
	a, _ := os.ReadFile(filepath.Join(first, "out", "engine-demo", "qemu_virt_aarch64", "debug", "bundle", "bundle.tar"))
	b, _ := os.ReadFile(filepath.Join(second, "out", "engine-demo", "qemu_virt_aarch64", "debug", "bundle", "bundle.tar"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("machine B's bundle differs from machine A's")
	}
	return second
}

// A second machine (a fresh cache) pointed at the same bazel-remote gets
// every step from it.
func TestRemoteCacheSharesBuilds(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	url := testbazel.Start(t).HTTP
	second := sharesBuilds(t, func() builder.RemoteStore { return builder.NewRemote(url) })
	if log, _ := os.ReadFile(filepath.Join(second, "out", "engine-demo", "qemu_virt_aarch64", "debug", "logs", "compile.log")); !strings.Contains(string(log), "-c src/app/main.c") {
		t.Errorf("machine B lacks the log: %q", log)
	}
	// The server refuses a blob that does not hash to its name.
	wrong := filepath.Join(t.TempDir(), "x")
	os.WriteFile(wrong, []byte("x"), 0o644)
	if err := builder.NewRemote(url).PutCAS(builder.Digest(strings.Repeat("0", 64)), wrong); err == nil {
		t.Error("bazel-remote took a blob under the wrong digest")
	}
}
