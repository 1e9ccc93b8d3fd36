package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The picture of an sDDF system: a region pair's queue halves and data as
// one labelled line between two PDs, drivers and virtualisers clustered by
// class, real line breaks in the DOT, laid out by Graphviz where it is
// installed; and nothing written when the system has errors.
func TestGraphOfAnSDDFSystem(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "net.system")
	os.WriteFile(sys, []byte(`<system>
  <memory_region name="eth@1/net/queue/driver/virt/free" size="0x1000" />
  <memory_region name="eth@1/net/queue/driver/virt/active" size="0x1000" />
  <memory_region name="eth@1/net/data/driver/virt" size="0x200000" />
  <protection_domain name="driver" priority="101">
    <program_image path="driver.elf" />
    <map mr="eth@1/net/queue/driver/virt/free" vaddr="0x2000000" perms="rw" />
    <map mr="eth@1/net/queue/driver/virt/active" vaddr="0x2001000" perms="rw" />
    <map mr="eth@1/net/data/driver/virt" vaddr="0x2200000" perms="rw" />
  </protection_domain>
  <protection_domain name="virt" priority="100">
    <program_image path="virt.elf" />
    <map mr="eth@1/net/queue/driver/virt/free" vaddr="0x2000000" perms="rw" />
    <map mr="eth@1/net/queue/driver/virt/active" vaddr="0x2001000" perms="rw" />
    <map mr="eth@1/net/data/driver/virt" vaddr="0x2200000" perms="r" />
  </protection_domain>
  <protection_domain name="client" priority="99">
    <program_image path="client.elf" />
  </protection_domain>
  <channel><end pd="driver" id="0" /><end pd="virt" id="0" /></channel>
  <channel><end pd="virt" id="1" /><end pd="client" id="0" /></channel>
</system>
`), 0o644)
	dot, stderr, code := plinth(t, "sdf", "graph", sys, "--format", "dot")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{`subgraph cluster_0 {`, `label="network"`, `"driver" -> "virt" [dir=both, color="#2e8b57", penwidth=1.5, label="net/queue\nnet/data\n2056 KiB · rw ↔ r/rw"]`} {
		if !strings.Contains(dot, want) {
			t.Errorf("the DOT lacks %s:\n%s", want, dot)
		}
	}
	if strings.Contains(dot, `\\n`) {
		t.Errorf("a literal \\n in the DOT:\n%s", dot)
	}
	if strings.Count(dot, `"mr:`) != 0 {
		t.Errorf("a region two PDs share drawn as a node:\n%s", dot)
	}
	if _, err := exec.LookPath("dot"); err == nil {
		png := filepath.Join(dir, "net.png")
		if _, stderr, code := plinth(t, "sdf", "graph", sys, "-o", png); code != 0 {
			t.Fatalf("png: exit %d\n%s", code, stderr)
		}
		if b, _ := os.ReadFile(png); len(b) < 8 || string(b[1:4]) != "PNG" {
			t.Errorf("not a PNG: %d bytes", len(b))
		}
	}
	// With an error in the system, nothing is drawn and -o is not written.
	os.WriteFile(sys, []byte(`<system><protection_domain name="a" priority="999"><program_image path="a.elf" /></protection_domain></system>`), 0o644)
	out := filepath.Join(dir, "bad.svg")
	if _, _, code := plinth(t, "sdf", "graph", sys, "-o", out); code != 1 {
		t.Errorf("exit %d", code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a picture of a system with errors was written")
	}
}
