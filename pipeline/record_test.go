package pipeline

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/builder"
)

// A cache record, local or from a remote cache, that names paths outside
// the output directory, another step, bad digests, or lacks a declared
// output is a miss: the step runs again, and nothing is written or removed
// outside the output and cache directories.
func TestForeignRecordsAreMisses(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler")
	}
	f := newFixture(t, "ay\n")
	dir := t.TempDir()
	cache, fetcher := newEngine(t, filepath.Join(dir, "cache"), nil)
	if _, err := build(t, f.recipeText, dir, cache, fetcher); err != nil {
		t.Fatal(err)
	}
	// The record of the data step, to tamper with.
	var key builder.Digest
	var good builder.ActionRecord
	recs, _ := filepath.Glob(filepath.Join(cache.Dir, "ac", "*.json"))
	for _, p := range recs {
		var rec builder.ActionRecord
		b, _ := os.ReadFile(p)
		json.Unmarshal(b, &rec)
		if rec.Step == "data" {
			key, good = rec.Key, rec
		}
	}
	if key == "" {
		t.Fatal("no record of step data")
	}
	victim := filepath.Join(dir, "victim.txt")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	tamper := map[string]func(r *builder.ActionRecord){
		"output climbs out":      func(r *builder.ActionRecord) { r.Outputs[0].Path = "../../../../escaped.txt" },
		"absolute output":        func(r *builder.ActionRecord) { r.Outputs[0].Path = filepath.Join(dir, "escaped.txt") },
		"another step's name":    func(r *builder.ActionRecord) { r.Step = "../../../stamp-escape" },
		"digest that is a path":  func(r *builder.ActionRecord) { r.Outputs[0].Digest = builder.Digest("../../../victim.txt") },
		"short digest":           func(r *builder.ActionRecord) { r.Log = "a" },
		"declared output absent": func(r *builder.ActionRecord) { r.Outputs = nil },
		"an undeclared output": func(r *builder.ActionRecord) {
			r.Outputs = append(r.Outputs, builder.Output{Path: "extra", Digest: r.Outputs[0].Digest})
		},
	}
	for name, change := range tamper {
		for _, where := range []string{"local", "remote"} {
			t.Run(where+": "+name, func(t *testing.T) {
				rec := good
				rec.Outputs = append([]builder.Output(nil), good.Outputs...)
				change(&rec)
				data, _ := json.Marshal(rec)
				os.Remove(cache.RecordPath(key))
				c := cache
				if where == "local" {
					os.WriteFile(cache.RecordPath(key), data, 0o644)
				} else {
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/ac/") {
							w.Write(data)
							return
						}
						if r.Method == http.MethodPut {
							return
						}
						http.NotFound(w, r)
					}))
					defer srv.Close()
					c = &builder.Cache{Dir: cache.Dir, Remote: builder.NewRemote(srv.URL)}
				}
				res, err := build(t, f.recipeText, dir, c, fetcher)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(strings.Join(res.Ran, ","), "data") {
					t.Errorf("the tampered record was a hit (ran %v)", res.Ran)
				}
				if b, _ := os.ReadFile(victim); string(b) != "keep me" {
					t.Error("a file outside the cache was changed or removed")
				}
				for _, p := range []string{filepath.Join(dir, "escaped.txt"), filepath.Join(filepath.Dir(dir), "escaped.txt"), filepath.Join(dir, "stamp-escape.json")} {
					if _, err := os.Stat(p); err == nil {
						t.Errorf("%s was written", p)
					}
				}
			})
		}
	}
}
