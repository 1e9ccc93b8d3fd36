package builder

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine knows nothing of Microkit, sDDF, recipes or signing: it runs
// steps that are data. Nothing it imports may be those packages.
func TestTheEngineImportsNoPipeline(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"/pipeline", "/attest", "/sddf", "/sdf", "/sign", "/measure", "/recipe", "/boards", "/internal/cli"} {
			if strings.HasPrefix(dep, "github.com/pointsav/plinth") && strings.HasSuffix(dep, banned) {
				t.Errorf("the engine depends on %s", dep)
			}
		}
	}
}
