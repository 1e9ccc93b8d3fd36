package safename

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, bad := range []string{"", ".", "..", "a/b", "../x", `a\b`, "x\x00y", "tab\there", strings.Repeat("n", 256)} {
		if Name(bad) == nil {
			t.Errorf("Name(%q) accepted", bad)
		}
	}
	for _, good := range []string{"hello.elf", "..foo", "a-b_c.d", "Ünïcode"} {
		if err := Name(good); err != nil {
			t.Errorf("Name(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../x", "a/../../b", "a//b", "a/./b", "a/"} {
		if RelPath(bad) == nil {
			t.Errorf("RelPath(%q) accepted", bad)
		}
	}
	for _, good := range []string{"x.system", "example/hello/hello.system", "..foo/bar"} {
		if err := RelPath(good); err != nil {
			t.Errorf("RelPath(%q): %v", good, err)
		}
	}
	if Hex(strings.Repeat("a", 64), 64) != nil || Hex("../../x", 64) == nil || Hex(strings.Repeat("A", 64), 64) == nil {
		t.Error("Hex")
	}
}
