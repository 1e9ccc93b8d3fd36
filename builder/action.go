package builder

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"
)

// A step is an action of the Remote Execution API (REAPI v2): a Command
// (argv, environment, output paths, platform properties) and an input root
// Directory, named by the digest of the serialised Action. That digest is
// the step's cache key, locally and on any REAPI server, so keys are the
// same wherever a step ran and can be compared with other REAPI clients'.
//
// The input root holds:
//   - in/STEP/PATH: each dependency's outputs, by digest;
//   - the directories a step declares in Spec.Inputs (a recipe step's
//     sources, at src/NAME), file by file;
//   - .plinth/inputs.json: the step's Key (plinth's version, the step's
//     name and every other input: tools by identity, board facts, flags),
//     so nothing that decides the result is outside the action.
//
// A step given as one command (Spec) is an action another REAPI client
// could run. A step that is Go code, or runs several commands, has argv
// ["plinth", "step", NAME]: only plinth can run it, but it is keyed the
// same way.

// Spec says what a step is as one command, for steps that are one.
type Spec struct {
	Argv []string
	Env  map[string]string
	// Inputs maps a directory of the input root (src/app) to the local
	// directory whose files it holds.
	Inputs map[string]string
}

// Action is a step as an REAPI action.
type Action struct {
	Key  Digest // the digest of the serialised Action: the step's key
	Size int64  // its length in bytes (REAPI names a blob by both)
	// Blobs are the messages and files the action names that are not
	// outputs of other steps or files on disk: the Action, its Command,
	// every Directory of the input root and inputs.json.
	Blobs map[Digest][]byte
	// Files are the input root's files from Spec.Inputs: digest -> a
	// local path holding those bytes.
	Files map[Digest]string
}

// InputsFile is where a step's key sits in its input root.
const InputsFile = ".plinth/inputs.json"

// actionOf makes the step's action from its Key, its dependencies' outputs
// and plinth's version.
func (r *Runner) actionOf(s *Step, states map[*Step]*stepState) (*Action, error) {
	a := &Action{Blobs: map[Digest][]byte{}, Files: map[Digest]string{}}
	inputs, err := json.Marshal(map[string]any{"plinth": r.Version, "step": s.Name, "inputs": s.Key})
	if err != nil {
		return nil, err
	}
	root := newTree()
	root.addFile(InputsFile, fileNode{digest: HashBytes(inputs), size: int64(len(inputs))})
	a.Blobs[HashBytes(inputs)] = inputs
	for _, d := range s.Deps {
		for _, o := range states[d].outputs {
			root.addFile("in/"+d.Name+"/"+o.Path, fileNode{digest: o.Digest, size: o.Size, executable: o.Executable})
		}
	}
	argv := []string{"plinth", "step", s.Name}
	env := map[string]string{}
	if e, ok := s.Key["env"].(map[string]string); ok {
		env = e
	}
	if s.Spec != nil {
		argv, env = s.Spec.Argv, s.Spec.Env
		for _, at := range slices.Sorted(maps.Keys(s.Spec.Inputs)) {
			if err := root.addDir(at, s.Spec.Inputs[at], a.Files); err != nil {
				return nil, fmt.Errorf("step %s: %w", s.Name, err)
			}
		}
	}
	cmd := &repb.Command{Arguments: argv}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.EnvironmentVariables = append(cmd.EnvironmentVariables, &repb.Command_EnvironmentVariable{Name: k, Value: env[k]})
	}
	for _, o := range slices.Sorted(slices.Values(s.Outputs)) {
		cmd.OutputPaths = append(cmd.OutputPaths, "out/"+o)
	}
	cmd.Platform = platformOf(r.Version, s.Key)
	cmdDigest, err := a.add(cmd)
	if err != nil {
		return nil, err
	}
	rootDigest, err := root.digest(a)
	if err != nil {
		return nil, err
	}
	action := &repb.Action{CommandDigest: cmdDigest, InputRootDigest: rootDigest, Platform: cmd.Platform}
	ad, err := a.add(action)
	if err != nil {
		return nil, err
	}
	a.Key, a.Size = Digest(ad.Hash), ad.SizeBytes
	return a, nil
}

// platformOf names the toolchain: plinth's version and each tool's
// identity, sorted by name as REAPI asks.
func platformOf(version string, key map[string]any) *repb.Platform {
	props := map[string]string{"plinth": version}
	if tools, ok := key["tools"].([]Tool); ok {
		for _, t := range tools {
			props["tool:"+t.Name] = t.Version + " sha256:" + string(t.Digest)
		}
	}
	p := &repb.Platform{}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		p.Properties = append(p.Properties, &repb.Platform_Property{Name: k, Value: props[k]})
	}
	return p
}

// add serialises a message deterministically and keeps it as a blob.
func (a *Action) add(m proto.Message) (*repb.Digest, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	d := HashBytes(b)
	a.Blobs[d] = b
	return &repb.Digest{Hash: string(d), SizeBytes: int64(len(b))}, nil
}

// Message reads one of the action's messages back (for tools that show
// what a step is).
func (a *Action) Message(d Digest, m proto.Message) error {
	b, ok := a.Blobs[d]
	if !ok {
		return fmt.Errorf("the action holds no blob %s", d)
	}
	return proto.Unmarshal(b, m)
}

type fileNode struct {
	digest     Digest
	size       int64
	executable bool
}

// tree is an input root being assembled.
type tree struct {
	files map[string]fileNode
	links map[string]string
	dirs  map[string]*tree
}

func newTree() *tree {
	return &tree{files: map[string]fileNode{}, links: map[string]string{}, dirs: map[string]*tree{}}
}

func (t *tree) sub(name string) *tree {
	if t.dirs[name] == nil {
		t.dirs[name] = newTree()
	}
	return t.dirs[name]
}

func (t *tree) at(p string) (*tree, string) {
	parts := strings.Split(path.Clean(p), "/")
	for _, d := range parts[:len(parts)-1] {
		t = t.sub(d)
	}
	return t, parts[len(parts)-1]
}

func (t *tree) mkdir(p string) {
	for _, d := range strings.Split(path.Clean(p), "/") {
		t = t.sub(d)
	}
}

func (t *tree) addFile(p string, f fileNode) {
	dir, name := t.at(p)
	dir.files[name] = f
}

// addDir adds every file and symlink under local at p (.git left out,
// as source digests leave it out).
func (t *tree) addDir(p, local string, files map[Digest]string) error {
	return filepath.WalkDir(local, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, fp)
		at := path.Join(p, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			if d.Name() == ".git" && fp != local {
				return filepath.SkipDir
			}
			t.mkdir(at) // an empty directory is part of the tree too
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(fp)
			if err != nil {
				return err
			}
			dir, name := t.at(at)
			dir.links[name] = target
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			dg, n, err := hashFileMemo(fp, info)
			if err != nil {
				return err
			}
			files[dg] = fp
			t.addFile(at, fileNode{digest: dg, size: n, executable: info.Mode()&0o111 != 0})
		default:
			return fmt.Errorf("%s: not a file, directory or symlink", fp)
		}
		return nil
	})
}

// fileDigests remembers, for this process, the digests of input files by
// path, size and modification time: a source's files are hashed once per
// run, not once per board and step that reads them.
var fileDigests sync.Map

type fileStamp struct {
	path  string
	size  int64
	mtime int64
}

func hashFileMemo(p string, info fs.FileInfo) (Digest, int64, error) {
	stamp := fileStamp{p, info.Size(), info.ModTime().UnixNano()}
	if d, ok := fileDigests.Load(stamp); ok {
		return d.(Digest), info.Size(), nil
	}
	d, n, err := HashFile(p)
	if err == nil && n == info.Size() {
		fileDigests.Store(stamp, d)
	}
	return d, n, err
}

// digest serialises the tree bottom-up as REAPI Directory messages (each
// list sorted by name) and returns the root's digest.
func (t *tree) digest(a *Action) (*repb.Digest, error) {
	dir := &repb.Directory{}
	for _, name := range slices.Sorted(maps.Keys(t.files)) {
		f := t.files[name]
		dir.Files = append(dir.Files, &repb.FileNode{Name: name, Digest: &repb.Digest{Hash: string(f.digest), SizeBytes: f.size}, IsExecutable: f.executable})
	}
	for _, name := range slices.Sorted(maps.Keys(t.links)) {
		dir.Symlinks = append(dir.Symlinks, &repb.SymlinkNode{Name: name, Target: t.links[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(t.dirs)) {
		d, err := t.dirs[name].digest(a)
		if err != nil {
			return nil, err
		}
		dir.Directories = append(dir.Directories, &repb.DirectoryNode{Name: name, Digest: d})
	}
	return a.add(dir)
}
