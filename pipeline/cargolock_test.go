package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pointsav/plinth/builder"
	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/testrepo"
	"github.com/pointsav/plinth/recipe"
)

// The Microkit tool's Cargo.lock (tool_lock) is its crates' pin as a
// component's is: each crates.io package becomes an archive source the
// tool step vendors, fetched and checked before any step runs.
func TestTheToolsLockPinsItsCrates(t *testing.T) {
	crate := testrepo.TarGz(t, map[string]string{
		"xmltree-0.12.0/Cargo.toml": "[package]\nname = \"xmltree\"\nversion = \"0.12.0\"\nlicense = \"MIT\"\n",
		"xmltree-0.12.0/src/lib.rs": "",
	})
	url, _ := serve(t, map[string][]byte{"/crates/xmltree/xmltree-0.12.0.crate": crate})
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "mk", "tool", "microkit"), 0o755)
	os.WriteFile(filepath.Join(dir, "mk", "tool", "microkit", "Cargo.lock"), []byte("version = 4\n\n[[package]]\nname = \"microkit-tool\"\nversion = \"2.0.1\"\n\n[[package]]\nname = \"xmltree\"\nversion = \"0.12.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \""+string(builder.HashBytes(crate))+"\"\n"), 0o644)
	text := "name: t\ndescription: d\nboards: [qemu_virt_aarch64]\nconfigs: [debug]\ncrates_url: " + url + "/crates\nsources:\n  mk: {path: mk}\nsdk:\n  version: 2.0.1\n  build: {microkit: mk, sel4: mk, tool: true, tool_lock: tool/microkit/Cargo.lock}\n"
	file := filepath.Join(dir, "recipe.yaml")
	os.WriteFile(file, []byte(text), 0o644)
	var d diag.List
	r := recipe.Parse(file, []byte(text), &d)
	if d.HasErrors() {
		t.Fatal(d.Err())
	}
	fetched := map[string]builder.Fetched{}
	locked, err := WithLockedCrates(context.Background(), r, fetched, &builder.Fetcher{Store: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	if got := locked.SDK.Build.ToolVendor; !slices.Equal(got, []string{"crate-xmltree-0.12.0"}) {
		t.Errorf("tool vendor %v", got)
	}
	if r.SDK.Build.ToolVendor != nil || r.Sources["crate-xmltree-0.12.0"] != nil {
		t.Error("the recipe itself was changed; a copy should carry the crates")
	}
	s := locked.Sources["crate-xmltree-0.12.0"]
	if s == nil || s.License != "MIT" || s.SHA256 != string(builder.HashBytes(crate)) {
		t.Errorf("source %+v", s)
	}
	if _, err := os.Stat(filepath.Join(fetched["crate-xmltree-0.12.0"].Dir, "Cargo.toml")); err != nil {
		t.Errorf("the crate was not fetched and unpacked: %v", err)
	}
}
