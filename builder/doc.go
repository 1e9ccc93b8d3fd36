// Package builder is plinth's build engine: pinned sources fetched once into
// a shared store (through mirrors when air-gapped), a graph of named steps
// run with bounded parallelism in hermetic work directories, a
// content-addressed cache keyed by a hash of every input of a step — shared
// through a bazel-remote server — and progress for people and machines.
package builder
