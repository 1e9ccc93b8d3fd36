package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/deployment"
)

// The minimum deployment, built from upstream sources through mirrors and
// booted together: the console's typed commands reach the vault through
// plinth's hub, its telemetry comes back, and after a restart of the vault
// its ledger is there and its chain verifies. The fleet (a console and
// three vaults) runs too; its vaults' and console's PD ELFs are the
// minimum's, byte for byte, and only their images' configuration differs. (A vault that links
// the command encoder is refused in TestADeploymentBuildsAndTheDiodeIsChecked…,
// on the stand-in SDK, with the same Rust crates.)
func TestTheFamilyRunsTogetherFromUpstreamSources(t *testing.T) {
	mirrors := os.Getenv("PLINTH_MIRRORS")
	if mirrors == "" {
		t.Skip("PLINTH_MIRRORS not set: no upstream sources to build Microkit images from (the stand-ins' deployment test runs in CI)")
	}
	cache, out := t.TempDir(), t.TempDir()
	stdout, stderr, code := plinth(t, "run", "../../deployments/minimum.yaml", "--mirror", mirrors, "--offline", "--cache-dir", cache, "-o", out)
	if code != 0 || !strings.Contains(stdout, "deployment minimum: all 13 steps passed") {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(lastLine(stdout))
	console := mustReadString(t, filepath.Join(out, "deployments", "minimum", "console", "os-console", "qemu_virt_aarch64", "debug", "logs", "run.log"))
	for _, want := range []string{"stored record 2, hash ", "ledger 3 records, head "} {
		if !strings.Contains(console, want) {
			t.Errorf("the console never printed %q", want)
		}
	}
	stdout, stderr, code = plinth(t, "run", "../../deployments/fleet.yaml", "--mirror", mirrors, "--offline", "--cache-dir", cache, "-o", out)
	if code != 0 || !strings.Contains(stdout, "deployment fleet: all 12 steps passed") {
		t.Fatalf("fleet: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Log(lastLine(stdout))
	minimum := readDeploymentManifest(t, filepath.Join(out, "deployments", "minimum"))
	fleet := readDeploymentManifest(t, filepath.Join(out, "deployments", "fleet"))
	digest := func(m deployment.Manifest, system, pd string) string {
		for _, s := range m.Systems {
			for _, p := range s.PDs {
				if s.Name == system && p.Path == pd {
					return p.SHA256
				}
			}
		}
		t.Fatalf("%s: no %s in %s", m.Deployment, pd, system)
		return ""
	}
	vault := digest(minimum, "vault", "pd-vault/vault.elf")
	for _, v := range []string{"vault-1", "vault-2", "vault-3"} {
		if got := digest(fleet, v, "pd-vault/vault.elf"); got != vault {
			t.Errorf("fleet's %s: vault.elf %s, the minimum's %s", v, got, vault)
		}
	}
	if digest(fleet, "console", "pd-console/console.elf") != digest(minimum, "console", "pd-console/console.elf") {
		t.Error("the console's ELF differs between the deployments")
	}
	// Each vault's image differs: its configuration data (its MAC address).
	images := map[string]bool{}
	for _, s := range fleet.Systems {
		images[s.Image.SHA256] = true
	}
	if len(images) != 4 {
		t.Errorf("the fleet's 4 systems have %d distinct images", len(images))
	}
}
