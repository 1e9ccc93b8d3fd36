package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pointsav/plinth/internal/testcert"
)

// secureRegistry starts a registry that speaks TLS only, with a
// certificate of its own CA (caFile), and takes only user:password.
func secureRegistry(t testing.TB, user, password string) (addr, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caFile, keyFile := testcert.SelfSigned(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o644)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mustRead(t, caFile))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	reg := newRegistryWith(t, fmt.Sprintf(", tls: {certificate: %s, key: %s}", caFile, keyFile),
		fmt.Sprintf("auth: {htpasswd: {realm: plinth-test, path: %s}}\n", htpasswd), client)
	return reg.addr, caFile
}

// The same publish, channel and fetch against a registry that speaks TLS
// only and asks for a password: it works with the CA and the credentials
// from the environment, and fails clearly without them.
func TestARegistryWithTLSAndBasicAuth(t *testing.T) {
	t.Parallel() // no emulator: it overlaps the other tests that have none
	addr, ca := secureRegistry(t, "fleet", "s3cret")
	rs := builtReleases(t)
	keys := newChannelKeys(t)
	env := maps.Clone(keys.env)
	maps.Copy(env, map[string]string{"PLINTH_REGISTRY_CA": ca, "PLINTH_REGISTRY_USERNAME": "fleet", "PLINTH_REGISTRY_PASSWORD": "s3cret"})
	repo := addr + "/fleet/hello"
	t.Log(strings.TrimSpace(plinthOK(t, env, "publish", rs.v2, "--to", repo+":v2", "--bundle", rs.full, "--bundle", rs.delta)))
	root := filepath.Join(t.TempDir(), "root.json")
	plinthOK(t, env, "release", "init", "--to", repo, "--channel", "stable", "--role", "root="+keys.root1, "--role", "targets="+keys.targets,
		"--role", "snapshot="+keys.online, "--role", "timestamp="+keys.online, "--root-out", root)
	plinthOK(t, env, "release", "add", "--to", repo+":v2", "--channel", "stable", "--sign", keys.targets, "--sign", keys.online)

	disk := provisioned(t, rs.v1, root)
	fetch := func(env map[string]string) (string, string, int) {
		return plinthWith(t, env, "update", "fetch", "--from", repo, "--channel", "stable", "--target", disk, "--key", rs.pub)
	}
	for name, c := range map[string]struct {
		drop  []string
		wrong string
		want  string
	}{
		"no CA":          {drop: []string{"PLINTH_REGISTRY_CA"}, want: "certificate signed by unknown authority"},
		"no credentials": {drop: []string{"PLINTH_REGISTRY_USERNAME", "PLINTH_REGISTRY_PASSWORD"}, want: "the registry asks for credentials"},
		"wrong password": {wrong: "PLINTH_REGISTRY_PASSWORD", want: "401"},
	} {
		bad := maps.Clone(env)
		for _, k := range c.drop {
			delete(bad, k)
		}
		if c.wrong != "" {
			bad[c.wrong] = "guess"
		}
		before := fileSum(t, disk)
		stdout, stderr, code := fetch(bad)
		if code != 1 || !strings.Contains(stderr, c.want) || fileSum(t, disk) != before {
			t.Errorf("%s: exit %d, want 1 and %q, the disk unchanged:\n%s%s", name, code, c.want, stdout, stderr)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(stderr))
	}
	stdout, stderr, code := fetch(env)
	if code != 0 || !strings.Contains(stdout, "installed version 2 in slot b") {
		t.Fatalf("with TLS and credentials: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(strings.TrimSpace(stdout))
}
