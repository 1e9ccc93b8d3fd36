// Package boards holds plinth's knowledge of hardware as data: one YAML file
// per seL4 Microkit board in this directory, embedded in the binary, and the
// code that loads, inherits and validates them. Users add or override boards
// with files of their own (plinth --boards-dir DIR) and need no Go change;
// no board name appears in plinth's Go code outside tests.
//
// A file may inherit from another (inherits: NAME). Mappings merge key by
// key; scalars and lists in the inheriting file replace the inherited ones.
// Files with abstract: true hold shared facts and are not boards themselves.
package boards

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/pointsav/plinth/internal/diag"
	"github.com/pointsav/plinth/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml base/*.yaml
var embedded embed.FS

// Source is a set of board files: a file system, and the prefix under which
// its files are named in diagnostics.
type Source struct {
	FS     fs.FS
	Prefix string
}

// Embedded is the set of board files compiled into plinth.
func Embedded() Source {
	return Source{FS: embedded, Prefix: "boards/"}
}

// Dir is a directory of board files on disk.
func Dir(fsys fs.FS, display string) Source {
	return Source{FS: fsys, Prefix: strings.TrimSuffix(display, "/") + "/"}
}

// Set is a loaded set of boards.
type Set struct {
	boards map[string]*Board
	// available names every board file, loaded or not (Select loads only
	// some); unknown-board messages suggest from it.
	available []string
}

// Names lists the (non-abstract) boards, sorted.
func (s *Set) Names() []string {
	var names []string
	for n := range s.boards {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// All returns every board, sorted by name.
func (s *Set) All() []*Board {
	var out []*Board
	for _, n := range s.Names() {
		out = append(out, s.boards[n])
	}
	return out
}

// Get returns a board by name.
func (s *Set) Get(name string) (*Board, bool) {
	b, ok := s.boards[name]
	return b, ok
}

type entry struct {
	name     string
	file     string
	root     *yaml.Node
	nameNode *yaml.Node
	parent   string
	parentAt *yaml.Node
	abstract bool
	dir      string // base/ files are found by inheritance only
}

// Load reads every board file of the given sources; later sources override
// earlier ones board by board. Problems go to diags; boards with errors are
// left out of the set, the rest are usable.
func Load(diags *diag.List, sources ...Source) *Set {
	entries := map[string]*entry{}
	for _, src := range sources {
		own := map[string]*entry{}
		files, err := yamlFiles(src.FS)
		if err != nil {
			diags.Errorf(diag.Pos{File: src.Prefix}, "cannot read board files: %v", err)
			continue
		}
		for _, f := range files {
			e := readEntry(src, f, diags)
			if e == nil {
				continue
			}
			if prev, dup := own[e.name]; dup {
				diags.Errorf(pos(e.file, e.nameNode), "board %q is also defined in %s", e.name, prev.file)
				continue
			}
			own[e.name] = e
		}
		for n, e := range own {
			entries[n] = e
		}
	}
	set := &Set{boards: map[string]*Board{}}
	var names []string
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := entries[n]
		// Every file is checked on its own, so mistakes in a base file are
		// found even when no board inherits from it.
		var own Board
		dec := &strictyaml.Decoder{File: e.file, Partial: true, Diags: diags}
		dec.Decode(e.root, &own)
		if e.abstract {
			chainOf(e, entries, diags)
			continue
		}
		if b := resolve(e, entries, diags); b != nil {
			set.boards[n] = b
		}
	}
	return set
}

// Select loads only the named boards and the files they inherit from: what
// a command about a few boards needs, without the cost of reading and
// checking every board. A board's file is found by its name (the file name
// must equal it). Unknown names are simply absent from the set.
func Select(diags *diag.List, names []string, sources ...Source) *Set {
	type location struct {
		src  Source
		path string
	}
	index := map[string]location{}
	var available []string
	for _, src := range sources {
		files, err := yamlFiles(src.FS)
		if err != nil {
			diags.Errorf(diag.Pos{File: src.Prefix}, "cannot read board files: %v", err)
			continue
		}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimSuffix(path.Base(f), ".yaml"), ".yml")
			if _, seen := index[name]; !seen && !strings.HasPrefix(f, "base/") {
				available = append(available, name)
			}
			index[name] = location{src, f}
		}
	}
	sort.Strings(available)
	entries := map[string]*entry{}
	var read func(name string)
	read = func(name string) {
		if _, done := entries[name]; done {
			return
		}
		l, ok := index[name]
		if !ok {
			return
		}
		e := readEntry(l.src, l.path, diags)
		if e == nil {
			return
		}
		entries[name] = e
		if e.parent != "" {
			read(e.parent)
		}
	}
	for _, n := range names {
		read(n)
	}
	set := &Set{boards: map[string]*Board{}, available: available}
	for _, n := range names {
		if e, ok := entries[n]; ok && !e.abstract {
			if b := resolve(e, entries, diags); b != nil {
				set.boards[n] = b
			}
		}
	}
	return set
}

func yamlFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func pos(file string, n *yaml.Node) diag.Pos {
	return diag.Pos{File: file, Line: n.Line, Col: n.Column}
}

func readEntry(src Source, p string, diags *diag.List) *entry {
	file := src.Prefix + p
	data, err := fs.ReadFile(src.FS, p)
	if err != nil {
		diags.Errorf(diag.Pos{File: file}, "%v", err)
		return nil
	}
	root := strictyaml.Parse(file, data, diags)
	if root == nil {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		diags.Errorf(pos(file, root), "a board file must be a mapping of keys to values")
		return nil
	}
	e := &entry{file: file, root: root, dir: path.Dir(p)}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			e.name, e.nameNode = v.Value, v
		case "inherits":
			e.parent, e.parentAt = v.Value, v
		case "abstract":
			e.abstract = v.Value == "true"
		}
	}
	if e.nameNode == nil {
		diags.Errorf(pos(file, root), "missing required key \"name\"")
		return nil
	}
	want := strings.TrimSuffix(strings.TrimSuffix(path.Base(p), ".yaml"), ".yml")
	if e.name != want {
		diags.Errorf(pos(file, e.nameNode), "name %q does not match the file name %q", e.name, path.Base(p))
	}
	return e
}

// chainOf returns e followed by every file it inherits from, nearest first,
// or nil after reporting an unknown parent or a cycle.
func chainOf(e *entry, entries map[string]*entry, diags *diag.List) []*entry {
	chain := []*entry{e}
	seen := map[string]bool{e.name: true}
	for cur := e; cur.parent != ""; {
		p, ok := entries[cur.parent]
		if !ok {
			msg := fmt.Sprintf("inherits from unknown board or base %q", cur.parent)
			var names []string
			for n := range entries {
				names = append(names, n)
			}
			if s, ok := diag.Closest(cur.parent, names); ok {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			diags.Errorf(pos(cur.file, cur.parentAt), "%s", msg)
			return nil
		}
		if seen[p.name] {
			reportCycle(chain, p, diags)
			return nil
		}
		seen[p.name] = true
		chain = append(chain, p)
		cur = p
	}
	return chain
}

// reportCycle reports the cycle that chain runs into at p once, however
// many files lead into it: it is written from its alphabetically first
// member, at that member's inherits key.
func reportCycle(chain []*entry, p *entry, diags *diag.List) {
	var cycle []*entry
	for i, c := range chain {
		if c == p {
			cycle = chain[i:]
			break
		}
	}
	first := 0
	for i, c := range cycle {
		if c.name < cycle[first].name {
			first = i
		}
	}
	cycle = append(cycle[first:], cycle[:first]...)
	var names []string
	for _, c := range cycle {
		names = append(names, c.name)
	}
	names = append(names, cycle[0].name)
	diags.Errorf(pos(cycle[0].file, cycle[0].parentAt), "inheritance cycle: %s", strings.Join(names, " -> "))
}

// resolve merges e with the files it inherits from and decodes the result.
func resolve(e *entry, entries map[string]*entry, diags *diag.List) *Board {
	chain := chainOf(e, entries, diags)
	if chain == nil {
		return nil
	}
	nodeFile := map[*yaml.Node]string{}
	// Start from the root ancestor and lay each descendant over it.
	merged := chain[len(chain)-1].root
	for i := len(chain) - 2; i >= 0; i-- {
		merged = merge(merged, chain[i].root, chain[i].file, nodeFile, "")
	}
	for _, c := range chain {
		markFile(c.root, c.file, nodeFile)
	}
	var b Board
	errsBefore := diags.ErrorCount()
	local := &diag.List{}
	dec := &strictyaml.Decoder{File: e.file, NodeFile: nodeFile, Diags: local}
	dec.Decode(merged, &b)
	diags.Add(local)
	b.File = e.file
	b.Abstract = false
	for _, c := range chain[1:] {
		b.Chain = append(b.Chain, c.name)
	}
	validate(&b, diags)
	if diags.ErrorCount() > errsBefore || local.HasErrors() {
		return nil
	}
	b.ConfigList = b.configInfos()
	return &b
}

// markFile records the file of every node of a tree not yet claimed by a
// merged node.
func markFile(n *yaml.Node, file string, nodeFile map[*yaml.Node]string) {
	if _, ok := nodeFile[n]; !ok {
		nodeFile[n] = file
	}
	for _, c := range n.Content {
		markFile(c, file, nodeFile)
	}
}

// merge lays child over parent: mappings merge key by key, anything else
// in child replaces parent, and a key whose value is null in child is
// removed. Under refs, the sources of both files are kept. At the top
// level, the parent's abstract and inherits keys are not inherited.
func merge(parent, child *yaml.Node, childFile string, nodeFile map[*yaml.Node]string, path string) *yaml.Node {
	if strings.HasPrefix(path, "refs.") && strings.Count(path, ".") == 2 {
		return appendRefs(parent, child, childFile, nodeFile)
	}
	if parent.Kind != yaml.MappingNode || child.Kind != yaml.MappingNode {
		return child
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: child.Tag, Line: child.Line, Column: child.Column}
	nodeFile[out] = childFile
	childVal := map[string]*yaml.Node{}
	for i := 0; i+1 < len(child.Content); i += 2 {
		childVal[child.Content[i].Value] = child.Content[i+1]
	}
	used := map[string]bool{}
	for i := 0; i+1 < len(parent.Content); i += 2 {
		k, v := parent.Content[i], parent.Content[i+1]
		if path == "" && (k.Value == "abstract" || k.Value == "inherits") {
			continue
		}
		cv, ok := childVal[k.Value]
		if !ok {
			out.Content = append(out.Content, k, v)
			continue
		}
		if used[k.Value] {
			continue
		}
		used[k.Value] = true
		if isNull(cv) {
			continue
		}
		out.Content = append(out.Content, keyNode(child, k.Value), merge(v, cv, childFile, nodeFile, path+k.Value+"."))
	}
	for i := 0; i+1 < len(child.Content); i += 2 {
		k, v := child.Content[i], child.Content[i+1]
		if !used[k.Value] && !isNull(v) {
			out.Content = append(out.Content, k, v)
		}
	}
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// appendRefs joins the sources a base and an inheriting file give for one fact.
func appendRefs(parent, child *yaml.Node, childFile string, nodeFile map[*yaml.Node]string) *yaml.Node {
	items := func(n *yaml.Node) []*yaml.Node {
		if n.Kind == yaml.SequenceNode {
			return n.Content
		}
		return []*yaml.Node{n}
	}
	if isNull(child) {
		return child
	}
	out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: child.Line, Column: child.Column}
	nodeFile[out] = childFile
	out.Content = append(append(out.Content, items(parent)...), items(child)...)
	return out
}

func keyNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// UnknownError words the message for an unknown board name, with a
// suggestion when the name looks like a typo.
func (s *Set) UnknownError(name string) string {
	msg := fmt.Sprintf("unknown board %q", name)
	names := s.available
	if names == nil {
		names = s.Names()
	}
	if sug, ok := diag.Closest(name, names); ok {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	return msg + "; `plinth boards` lists them"
}
