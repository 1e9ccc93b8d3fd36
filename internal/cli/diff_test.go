package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// plinth diff exits 1 when two builds differ, as diff(1) does, and says how
// in text or JSON; 0 for the same build.
func TestDiffExitsOneWhenBuildsDiffer(t *testing.T) {
	a := fakeBuildOf(t, "qemu_virt_aarch64", bytes.Repeat([]byte("one "), 100))
	b := fakeBuildOf(t, "qemu_virt_aarch64", bytes.Repeat([]byte("two "), 100))
	if out, stderr, code := plinth(t, "diff", a, a); code != 0 || !strings.Contains(out, "the builds are the same") {
		t.Errorf("same: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code := plinth(t, "diff", a, b)
	if code != 1 || !strings.Contains(out, "~ output image/loader.img") {
		t.Errorf("different: exit %d\n%s%s", code, out, stderr)
	}
	out, _, code = plinth(t, "diff", a, b, "--json")
	var got struct {
		Same    bool
		Outputs []struct{ Path, Change string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 || got.Same || len(got.Outputs) != 1 || got.Outputs[0].Path != "image/loader.img" || got.Outputs[0].Change != "changed" {
		t.Errorf("--json: exit %d, %v\n%s", code, err, out)
	}
}
