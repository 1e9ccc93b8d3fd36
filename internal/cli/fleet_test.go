package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pointsav/plinth/channel"
	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/sign"
	"github.com/pointsav/plinth/update"
)

// sparseCopy writes a disk image's non-zero blocks only: a fleet of
// hundreds of disks takes little room.
func sparseCopy(t testing.TB, data []byte, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const block = 64 << 10
	for off := 0; off < len(data); off += block {
		chunk := data[off:min(len(data), off+block)]
		if !bytes.Equal(chunk, make([]byte, len(chunk))) {
			f.WriteAt(chunk, int64(off))
		}
	}
	f.Truncate(int64(len(data)))
}

// fleetDevice is one device's outcome.
type fleetDevice struct {
	disk     string
	group    string // which build it runs: "v1" (a delta fits) or "v1-other" (a full bundle)
	kind     string
	bytes    int
	requests int
	err      error
}

// fleet is N devices, each a disk of its own, half running the build the
// delta was made from and half another build of the same version.
type fleet struct {
	key      string // the bundles' public key
	devices  []*fleetDevice
	want     string // the new slot's sha256
	releases string // the release's reference
}

// run fetches and installs on every device at once, one goroutine each,
// and waits; after is called once half the devices are done.
func (f *fleet) run(t testing.TB, after func()) time.Duration {
	pub, err := sign.LoadPublicKey(f.key)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	start := time.Now()
	for _, d := range f.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.err = installOn(d, f.releases, pub)
			mu.Lock()
			done++
			if done == len(f.devices)/2 && after != nil {
				after()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func installOn(d *fleetDevice, ref string, pub any) error {
	tg, err := update.OpenTarget(d.disk, true)
	if err != nil {
		return err
	}
	defer tg.Close()
	st, _, err := tg.State()
	if err != nil {
		return err
	}
	trust, copyNo, err := tg.Trust()
	if err != nil {
		return err
	}
	var have channel.Trusted
	if err := json.Unmarshal(trust.Channels["stable"], &have); err != nil {
		return err
	}
	repo, err := publish.Open(publish.Target{Reference: ref, PlainHTTP: true})
	if err != nil {
		return err
	}
	active := st.Slots[st.Active]
	got, err := channel.Fetch(context.Background(), repo, "stable", have, publish.Device{Board: st.Board, Microkit: st.Microkit, Installed: active.Version, Slot: active.SHA256}, time.Now(), 6)
	d.requests = repo.Requests()
	if err != nil {
		return err
	}
	if got.Bundle == nil {
		return fmt.Errorf("the channel offers nothing")
	}
	d.kind, d.bytes = got.Offer.Kind, len(got.Bundle)
	if _, err = update.Apply(bytes.NewReader(got.Bundle), tg, update.ApplyOptions{Key: pub, Now: time.Now()}); err != nil {
		return err
	}
	trust.Channels["stable"], _ = json.Marshal(got.Trusted)
	return tg.WriteTrust(copyNo, trust)
}

// check holds every device to the rule: it installed the right slot (on
// trial) or kept its old one whole, and a device that did not install says
// why. It returns how many installed.
func (f *fleet) check(t testing.TB) (installed int) {
	t.Helper()
	for i, d := range f.devices {
		tg, err := update.OpenTarget(d.disk, false)
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := tg.State()
		tg.Close()
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		slot, version := bootsIntact(t, d.disk)
		switch {
		case d.err == nil && slot == update.SlotB && version == 2 && st.Slots[update.SlotB].SHA256 == f.want:
			installed++
		case d.err != nil && slot == update.SlotA && version == 1 && st.Trial == "":
		default:
			t.Errorf("device %d (%s): boots slot %s version %d, error %v: neither installed right nor left as it was", i, d.group, slot, version, d.err)
		}
	}
	return installed
}

// newFleet builds v1, another v1 and v2, publishes v2 with a full bundle
// and a delta from v1 to a real registry (behind a counting proxy), and
// makes n devices.
func newFleet(t testing.TB, n int, swapDelta bool) (*fleet, *registry) {
	reg := newRegistry(t)
	rs := publishedReleases(t, reg.addr)
	v1, v1other, v2, pub, delta := rs.v1, rs.v1other, rs.v2, rs.pub, rs.delta
	nb, err := update.LoadBuild(v2)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &faultyProxy{}
	if swapDelta {
		proxy.swapOnly = "sha256:" + fileSumBytes(mustRead(t, delta))
	}
	// The channel names v2's bundles; every device trusts its first root.
	keys := newChannelKeys(t)
	rootFile := keys.initChannel(t, reg.addr+"/fleet/hello", "stable")
	plinthOK(t, keys.env, "release", "add", "--to", reg.addr+"/fleet/hello:stable", "--channel", "stable", "--plain-http", "--sign", keys.targets, "--sign", keys.online)
	trusted, _ := json.Marshal(channel.Trusted{Root: mustRead(t, rootFile)})
	f := &fleet{key: pub, want: fileSumBytes(nb.Slot), releases: proxy.start(t, reg.addr) + "/fleet/hello"}
	images := map[string][]byte{"v1": mustRead(t, filepath.Join(v1, "boot-uboot", "disk.img")), "v1-other": mustRead(t, filepath.Join(v1other, "boot-uboot", "disk.img"))}
	dir := t.TempDir()
	for i := range n {
		group := []string{"v1", "v1-other"}[i%2]
		d := &fleetDevice{disk: filepath.Join(dir, strconv.Itoa(i)+".img"), group: group}
		sparseCopy(t, images[group], d.disk)
		trustChannel(t, d.disk, trusted)
		f.devices = append(f.devices, d)
	}
	return f, reg
}

// figures summarises a run per group: devices, bytes each, requests each.
func (f *fleet) figures() string {
	type sum struct{ devices, bytes, requests, failed int }
	groups := map[string]*sum{}
	for _, d := range f.devices {
		g := groups[d.group+" ("+orDash(d.kind)+")"]
		if g == nil {
			g = &sum{}
			groups[d.group+" ("+orDash(d.kind)+")"] = g
		}
		g.devices++
		g.bytes += d.bytes
		g.requests += d.requests
		if d.err != nil {
			g.failed++
		}
	}
	var lines []string
	for name, g := range groups {
		lines = append(lines, fmt.Sprintf("%s: %d devices, %d bundle bytes each, %.1f requests each, %d kept their old slot", name, g.devices, g.bytes/g.devices, float64(g.requests)/float64(g.devices), g.failed))
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// A fleet fetches one release from a real registry at once: every device
// installs the right bundle (a delta where its base is installed, else
// the full one), none is left unbootable. Then, with the registry killed
// and restarted half way and the delta's blob swapped by the proxy: every
// device installs the right bundle or keeps its old slot, and says why.
func TestAFleetInstallsOneRelease(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	if testing.Short() {
		t.Skip("a fleet")
	}
	n := 16
	f, _ := newFleet(t, n, false)
	took := f.run(t, nil)
	if got := f.check(t); got != n {
		t.Errorf("%d of %d devices installed", got, n)
	}
	t.Logf("%d devices in %s: %s", n, took.Round(time.Millisecond), f.figures())

	g, reg := newFleet(t, n, true)
	took = g.run(t, func() {
		reg.stop()
		time.Sleep(300 * time.Millisecond)
		reg.start()
	})
	installed := g.check(t)
	reasons := map[string]int{}
	for _, d := range g.devices {
		if d.err != nil {
			reasons[d.err.Error()[:min(60, len(d.err.Error()))]]++
		}
	}
	t.Logf("with a restart half way and the delta swapped: %d of %d installed in %s; the others said %v", installed, n, took.Round(time.Millisecond), reasons)
	for _, d := range g.devices {
		if d.group == "v1" && d.err == nil {
			t.Errorf("a device installed a swapped delta")
		}
	}
}

// BenchmarkFleet: N devices (PLINTH_FLEET_N, 200 by default) fetch one
// release from a real registry at once.
func BenchmarkFleet(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("PLINTH_FLEET_N")); err == nil && v > 0 {
		n = v
	}
	var total time.Duration
	var f *fleet
	for range b.N {
		b.StopTimer()
		f, _ = newFleet(b, n, false)
		b.StartTimer()
		total += f.run(b, nil)
		b.StopTimer()
		if got := f.check(b); got != n {
			b.Errorf("%d of %d devices installed", got, n)
		}
		b.StartTimer()
	}
	b.Logf("%d devices: %s", n, f.figures())
	b.ReportMetric(total.Seconds()/float64(b.N), "fleet-s")
	b.ReportMetric(float64(n), "devices")
	var reqs int
	for _, d := range f.devices {
		reqs += d.requests
	}
	b.ReportMetric(float64(reqs), "registry-requests")
}

// releases are stand-in builds (v1, another build of v1, v2), v2's full
// bundle and its delta from v1, signed by key (pub verifies).
type releases struct {
	v1, v1other, v2, full, delta, key, pub string
	pw                                     map[string]string
}

// publishedReleases builds the releases and publishes v2 with both
// bundles to the registry at addr as fleet/hello:stable.
func publishedReleases(t testing.TB, addr string) releases {
	t.Helper()
	rs := builtReleases(t)
	if _, stderr, code := plinth(t, "publish", rs.v2, "--to", addr+"/fleet/hello:stable", "--plain-http", "--bundle", rs.full, "--bundle", rs.delta); code != 0 {
		t.Fatal(stderr)
	}
	return rs
}

// builtReleases builds the releases and v2's bundles.
func builtReleases(t testing.TB) releases {
	t.Helper()
	sdk := updateSDK(t)
	var rs releases
	rs.key, rs.pub, rs.pw = releaseKey(t)
	cache := t.TempDir()
	rs.v1 = updateRelease(t, sdk, rs.key, cache, 1, rs.pw)
	rs.v1other = updateReleaseText(t, sdk, rs.key, cache, 1, "plinth payload v1, another build", rs.pw)
	rs.v2 = updateRelease(t, sdk, rs.key, cache, 2, rs.pw)
	create := bundleMaker(t, rs.key, rs.pw)
	rs.full, rs.delta = create("full.plb", rs.v2), create("delta.plb", rs.v2, "--from", rs.v1)
	return rs
}

// trustChannel provisions a disk with the stable channel's root, as
// plinth update trust does.
func trustChannel(t testing.TB, disk string, trusted []byte) {
	t.Helper()
	tg, err := update.OpenTarget(disk, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	trust, copyNo, err := tg.Trust()
	if err == nil {
		trust.Channels["stable"] = trusted
		err = tg.WriteTrust(copyNo, trust)
	}
	if err != nil {
		t.Fatal(err)
	}
}
