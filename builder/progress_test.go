package builder

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// A download's progress reaches the reporter; a live view draws a bar.
func TestDownloadProgress(t *testing.T) {
	big := bytes.Repeat([]byte("plinth"), 1<<20) // 6 MiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	}))
	defer srv.Close()
	url := srv.URL
	var seen []int64
	f := &Fetcher{Store: t.TempDir(), Progress: func(u string, done, total int64) {
		if total != int64(len(big)) {
			t.Errorf("total %d", total)
		}
		seen = append(seen, done)
	}}
	if _, err := f.Download(context.Background(), url+"/big.bin", string(HashBytes(big))); err != nil {
		t.Fatal(err)
	}
	// Reported as it goes (about every MiB; how much one read brings back
	// varies), never backwards, ending at the whole size.
	if len(seen) < 3 || !slices.IsSorted(seen) || seen[len(seen)-1] != int64(len(big)) {
		t.Errorf("progress %v", seen)
	}
	var out bytes.Buffer
	rep := &Reporter{w: &out, mode: "live", running: map[string]time.Time{}, downloads: map[string][2]int64{}}
	rep.Event(Event{Kind: "download", Message: url + "/big.bin", Bytes: 3 << 20, Size: 6 << 20})
	if !strings.Contains(out.String(), "[==========          ] 50%") {
		t.Errorf("live view: %q", out.String())
	}
}
