package cli

import (
	"context"
	"crypto"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/pointsav/plinth/channel"
	"github.com/pointsav/plinth/internal/swtpm"
	"github.com/pointsav/plinth/publish"
	"github.com/pointsav/plinth/sign"
)

// channelKeys are a channel's keys: two root keys (both must sign), one
// targets key, one online key for snapshot and timestamp.
type channelKeys struct {
	root1, root2, targets, online string
	env                           map[string]string
}

func newChannelKeys(t testing.TB) channelKeys {
	t.Helper()
	dir := t.TempDir()
	k := channelKeys{env: map[string]string{"PLINTH_PASSWORD": "pw"}}
	for _, p := range []*string{&k.root1, &k.root2, &k.targets, &k.online} {
		prefix := filepath.Join(dir, strings.Repeat("k", len(*p)+1)+time.Now().Format("150405.000000000"))
		if _, stderr, code := plinthWith(t, k.env, "keygen", "-o", prefix); code != 0 {
			t.Fatal(stderr)
		}
		*p = prefix + ".key"
	}
	return k
}

// initChannel makes channel NAME in repo and returns the root to provision
// devices with.
func (k channelKeys) initChannel(t testing.TB, repo, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root.json")
	stdout, stderr, code := plinthWith(t, k.env, "release", "init", "--to", repo, "--channel", name, "--plain-http",
		"--role", "root="+k.root1, "--role", "root="+k.root2, "--threshold", "root=2", "--role", "targets="+k.targets,
		"--role", "snapshot="+k.online, "--role", "timestamp="+k.online, "--root-out", root)
	if code != 0 {
		t.Fatalf("release init: %s%s", stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	return root
}

// plinthOK runs plinth and fails the test unless it exits 0.
func plinthOK(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	stdout, stderr, code := plinthWith(t, env, args...)
	if code != 0 {
		t.Fatalf("plinth %s: exit %d\n%s%s", strings.Join(args[:2], " "), code, stdout, stderr)
	}
	return stdout
}

// provisioned is a copy of a build's disk that trusts the channel's root.
func provisioned(t testing.TB, build, root string) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.img")
	sparseCopy(t, mustRead(t, filepath.Join(build, "boot-uboot", "disk.img")), disk)
	plinthOK(t, nil, "update", "trust", "--target", disk, "--channel", "stable", root)
	return disk
}

// A channel's metadata in a real registry says what devices install:
// publish, release init and add, update trust, update fetch --channel.
// Then each fault the issue names is refused with its check named, the
// disk unchanged.
func TestAChannelSaysWhatDevicesInstall(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	addr := startRegistry(t)
	rs := publishedReleases(t, addr)
	keys := newChannelKeys(t)
	repo := addr + "/fleet/hello"
	root := keys.initChannel(t, repo, "stable")
	env := keys.env
	oldTimestamp := readTag(t, repo, "tuf.stable.timestamp.json")
	t.Log(strings.TrimSpace(plinthOK(t, env, "release", "add", "--to", repo+":stable", "--channel", "stable", "--plain-http", "--sign", keys.targets, "--sign", keys.online)))
	show := plinthOK(t, nil, "release", "show", "--from", repo, "--channel", "stable", "--plain-http")
	if !strings.Contains(strings.Join(strings.Fields(show), " "), "root keys 2 of") || strings.Count(show, "target v2/") != 2 {
		t.Errorf("release show:\n%s", show)
	}
	fetch := func(from, disk string, more ...string) (string, string, int) {
		return plinthWith(t, env, append([]string{"update", "fetch", "--from", from, "--channel", "stable", "--plain-http", "--target", disk, "--key", rs.pub}, more...)...)
	}

	device := provisioned(t, rs.v1, root)
	stdout, stderr, code := fetch(repo, device)
	if code != 0 || !strings.Contains(stdout, "root 1, timestamp 2, snapshot 2, targets 2 verified") || !strings.Contains(stdout, "delta") || !strings.Contains(stdout, "installed version 2 in slot b") {
		t.Fatalf("a v1 device: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
	if stdout, stderr, code := fetch(repo, device); code != 0 || !strings.Contains(stdout, "up to date") {
		t.Errorf("fetching again: exit %d\n%s%s", code, stdout, stderr)
	}
	if stdout, stderr, code := fetch(repo, provisioned(t, rs.v1other, root)); code != 0 || !strings.Contains(stdout, "version 2, full") {
		t.Errorf("another v1 build: exit %d\n%s%s", code, stdout, stderr)
	}
	cutter := &faultyProxy{cut: 5000} // the bundle's blob (metadata blobs are smaller)
	if stdout, stderr, code := fetch(cutter.start(t, addr)+"/fleet/hello", provisioned(t, rs.v1other, root)); code != 0 || !strings.Contains(stdout, "resumed 1 times") || cutter.cutsDone.Load() == 0 {
		t.Errorf("a cut download: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := plinthWith(t, env, "update", "fetch", "--from", repo, "--channel", "canary", "--plain-http", "--target", provisioned(t, rs.v1, root), "--key", rs.pub); code != 1 || !strings.Contains(stderr, "trusts no root for channel canary") {
		t.Errorf("a channel the device does not trust: %s", stderr)
	}

	refused := func(name, disk, want string, run func() (string, string, int)) {
		t.Helper()
		before := fileSum(t, disk)
		stdout, stderr, code := run()
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 1 and %q:\n%s%s", name, code, want, stdout, stderr)
		}
		if fileSum(t, disk) != before {
			t.Errorf("%s: the disk changed", name)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(stderr))
	}

	// An expired timestamp (a frozen channel): refused; a fresh one heals.
	plinthOK(t, env, "release", "timestamp", "--to", repo, "--channel", "stable", "--plain-http", "--sign", keys.online, "--issued", "2020-01-01T00:00:00Z")
	fresh := provisioned(t, rs.v1, root)
	refused("expired timestamp", fresh, "refused, nothing written: expiry check failed: timestamp.json", func() (string, string, int) { return fetch(repo, fresh) })
	// Without a clock the device judges expiry by the latest issue time it
	// has taken: none yet, so it installs; then the bundle's issue time is
	// its clock, and the same stale timestamp is refused.
	if stdout, stderr, code := fetch(repo, fresh, "--no-clock"); code != 0 || !strings.Contains(stdout, "installed version 2") {
		t.Errorf("--no-clock on a device that has taken nothing: exit %d\n%s%s", code, stdout, stderr)
	}
	refused("expired timestamp, no clock", fresh, "expiry check failed: timestamp.json", func() (string, string, int) { return fetch(repo, fresh, "--no-clock") })
	plinthOK(t, env, "release", "timestamp", "--to", repo, "--channel", "stable", "--plain-http", "--sign", keys.online)

	// The registry serves the first timestamp again (and the snapshot it
	// names): a device that took newer ones refuses the rollback.
	current := readTag(t, repo, "tuf.stable.timestamp.json")
	writeTag(t, repo, "tuf.stable.timestamp.json", oldTimestamp)
	refused("rolled-back timestamp and snapshot", device, "rollback check failed: timestamp.json: new timestamp version 1 must be >= 2", func() (string, string, int) { return fetch(repo, device) })
	writeTag(t, repo, "tuf.stable.timestamp.json", current)

	// The bundle's bytes differ from what the targets name.
	swapper := &faultyProxy{swapOnly: "sha256:" + fileSumBytes(mustRead(t, rs.delta))}
	swapped := provisioned(t, rs.v1, root)
	refused("swapped bundle", swapped, "target check failed: the bundle downloaded for v2/delta-", func() (string, string, int) {
		return fetch(swapper.start(t, addr)+"/fleet/hello", swapped)
	})

	// A registry that answers 404 (no channel there) and 500 (always).
	nowhere := provisioned(t, rs.v1, root)
	refused("404", nowhere, "metadata check failed: the channel has no timestamp.json", func() (string, string, int) { return fetch(addr+"/fleet/elsewhere", nowhere) })
	unwell := &faultyProxy{always: 500}
	refused("500", nowhere, "500", func() (string, string, int) {
		return fetch(unwell.start(t, addr)+"/fleet/hello", nowhere, "--attempts", "3")
	})
	if n := unwell.requests.Load(); n > 12 {
		t.Errorf("a registry answering 500 got %d requests: the retries are not bounded", n)
	}

	// The release's tag moves to another build: a fetch through the tag
	// refuses; through the channel alone it installs what the targets name.
	if _, stderr, code := plinth(t, "publish", rs.v1other, "--to", repo+":stable", "--plain-http"); code != 0 {
		t.Fatal(stderr)
	}
	moved := provisioned(t, rs.v1, root)
	refused("moved tag", moved, "tag check failed: channel stable's v2/delta-", func() (string, string, int) { return fetch(repo+":stable", moved) })
	if stdout, stderr, code := fetch(repo, moved); code != 0 || !strings.Contains(stdout, "installed version 2") {
		t.Errorf("the channel alone, after the tag moved: exit %d\n%s%s", code, stdout, stderr)
	}

	// The targets key is revoked (a new root, signed by both old root
	// keys); targets the revoked key signs after that are refused.
	newTargets := filepath.Join(t.TempDir(), "targets2")
	plinthOK(t, env, "keygen", "-o", newTargets)
	out := plinthOK(t, env, "release", "rotate", "--to", repo, "--channel", "stable", "--plain-http", "--role", "targets="+newTargets+".key",
		"--sign", keys.root1, "--sign", keys.root2, "--sign", keys.online)
	t.Log(strings.TrimSpace(out))
	late := provisioned(t, rs.v1, root)
	if stdout, stderr, code := fetch(repo, late); code != 0 || !strings.Contains(stdout, "root 2,") {
		t.Fatalf("after the rotation: exit %d\n%s%s", code, stdout, stderr)
	}
	revokedTargets(t, repo, keys)
	refused("targets signed by a revoked key", late, "signature check failed: 4.targets.json is not signed by enough of the targets keys", func() (string, string, int) { return fetch(repo, late) })
}

// revokedTargets pushes new targets, snapshot and timestamp as someone
// holding the revoked targets key (and the online key) would.
func revokedTargets(t testing.TB, repo string, keys channelKeys) {
	t.Helper()
	r, err := publish.Open(publish.Target{Reference: repo, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	remote, _ := channel.InRegistry(r, "stable")
	s, err := channel.Load(context.Background(), remote, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.AddTargets(nil)
	signerOf := func(path string) signature.Signer {
		k, err := sign.LoadPrivateKey(path, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		sv, err := signature.LoadSigner(k, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sv
	}
	if _, err := s.Targets.Sign(signerOf(keys.targets)); err != nil {
		t.Fatal(err)
	}
	online, _ := sign.LoadPrivateKey(keys.online, []byte("pw"))
	if _, err := s.Sign(online); err != nil {
		t.Fatal(err)
	}
	names, files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := remote.Put(context.Background(), n, files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if s.Targets.Signed.Version != 4 {
		t.Fatalf("targets version %d", s.Targets.Signed.Version)
	}
}

// readTag and writeTag read and replace a metadata file under a tag, as a
// registry an attacker controls would serve it.
func readTag(t testing.TB, repo, tag string) []byte {
	t.Helper()
	r, err := publish.Open(publish.Target{Reference: repo, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.GetFile(context.Background(), tag, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTag(t testing.TB, repo, tag string, data []byte) {
	t.Helper()
	r, err := publish.Open(publish.Target{Reference: repo, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PutFile(context.Background(), tag, "timestamp.json", data); err != nil {
		t.Fatal(err)
	}
}

// Keys held elsewhere: the root is rotated to a TPM-held timestamp key and
// a threshold of two root keys, staged, signed by the second root key in
// a separate step (as on an offline machine), and pushed; the TPM key then
// signs the timestamp; a device walks to the new root.
func TestAStagedRootIsSignedOfflineAndAKeyInATPMSigns(t *testing.T) {
	t.Parallel()
	addr := startRegistry(t)
	keys := newChannelKeys(t)
	env := keys.env
	repo := addr + "/fleet/staged"
	root := filepath.Join(t.TempDir(), "root.json")
	plinthOK(t, env, "release", "init", "--to", repo, "--channel", "stable", "--plain-http", "--role", "root="+keys.root1,
		"--role", "targets="+keys.targets, "--role", "snapshot="+keys.online, "--role", "timestamp="+keys.online, "--root-out", root)
	tpmKey := filepath.Join(t.TempDir(), "tpm")
	plinthOK(t, nil, "keygen", "--tpm", swtpm.Start(t), "-o", tpmKey)
	pub2 := strings.TrimSuffix(keys.root2, ".key") + ".pub"
	stage := filepath.Join(t.TempDir(), "stage")
	out := plinthOK(t, env, "release", "rotate", "--to", repo, "--channel", "stable", "--plain-http", "--role", "root="+keys.root1, "--role", "root="+pub2,
		"--threshold", "root=2", "--role", "timestamp="+tpmKey+".tpmkey", "--stage", stage)
	if !strings.Contains(out, "still to sign: 2.root.json: needs 2 signatures") {
		t.Fatalf("rotate --stage:\n%s", out)
	}
	if _, stderr, code := plinthWith(t, env, "release", "push", stage, "--to", repo, "--channel", "stable", "--plain-http"); code != 1 || !strings.Contains(stderr, "not enough signatures, nothing pushed") {
		t.Errorf("pushing a set short of signatures: exit %d %s", code, stderr)
	}
	out = plinthOK(t, env, "release", "sign", stage, "--sign", keys.root2)
	if strings.Contains(out, "still to sign") {
		t.Fatalf("release sign:\n%s", out)
	}
	t.Log(strings.TrimSpace(plinthOK(t, env, "release", "push", stage, "--to", repo, "--channel", "stable", "--plain-http")))
	t.Log(strings.TrimSpace(plinthOK(t, env, "release", "timestamp", "--to", repo, "--channel", "stable", "--plain-http", "--sign", tpmKey+".tpmkey")))

	r, err := publish.Open(publish.Target{Reference: repo, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	remote, _ := channel.InRegistry(r, "stable")
	got, err := channel.Refresh(context.Background(), remote, channel.Trusted{Root: mustRead(t, root)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Root.Signed.Version != 2 || got.Root.Signed.Roles["root"].Threshold != 2 || got.Versions["timestamp"] != 3 {
		t.Errorf("a device took root %d (threshold %d), timestamp %d", got.Root.Signed.Version, got.Root.Signed.Roles["root"].Threshold, got.Versions["timestamp"])
	}
}
