package builder

import (
	"os"
	"path/filepath"
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
)

// A step's key is its REAPI Action's digest: the same sources in another
// directory give the same key; a changed source byte, a dependency's
// output or the step's inputs give another.
func TestTheKeyIsTheActionDigest(t *testing.T) {
	src := func(text string) string {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "sub", "empty"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "main.c"), []byte(text), 0o644)
		return dir
	}
	dep := &Step{Name: "dep"}
	key := func(dir string, depOut Digest, flags string) *Action {
		s := &Step{Name: "compile", Deps: []*Step{dep}, Outputs: []string{"b.o", "a.o"}, Key: map[string]any{"flags": flags},
			Spec: &Spec{Argv: []string{"cc", "-c"}, Env: map[string]string{"TZ": "UTC"}, Inputs: map[string]string{"src/app": dir}}}
		states := map[*Step]*stepState{dep: {outputs: []Output{{Path: "lib/x.a", Digest: depOut, Size: 3}}}}
		a, err := (&Runner{Version: "test"}).actionOf(s, states)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	out := HashBytes([]byte("lib"))
	a := key(src("int x;\n"), out, "-O2")
	if HashBytes(a.Blobs[a.Key]) != a.Key || int64(len(a.Blobs[a.Key])) != a.Size {
		t.Fatal("the key is not the digest of the serialised Action")
	}
	var action repb.Action
	var cmd repb.Command
	if err := a.Message(a.Key, &action); err != nil {
		t.Fatal(err)
	}
	if err := a.Message(Digest(action.GetCommandDigest().GetHash()), &cmd); err != nil {
		t.Fatal(err)
	}
	if got := cmd.GetOutputPaths(); len(got) != 2 || got[0] != "out/a.o" || got[1] != "out/b.o" {
		t.Errorf("output paths %v: want sorted, under out/", got)
	}
	if p := cmd.GetPlatform().GetProperties(); len(p) != 1 || p[0].GetName() != "plinth" || p[0].GetValue() != "test" {
		t.Errorf("platform %v", p)
	}
	if key(src("int x;\n"), out, "-O2").Key != a.Key {
		t.Error("the same sources elsewhere give another key")
	}
	for what, other := range map[string]*Action{
		"a source byte":       key(src("int y;\n"), out, "-O2"),
		"a dependency output": key(src("int x;\n"), HashBytes([]byte("lib2")), "-O2"),
		"an input":            key(src("int x;\n"), out, "-O3"),
	} {
		if other.Key == a.Key {
			t.Errorf("%s changed and the key did not", what)
		}
	}
}
