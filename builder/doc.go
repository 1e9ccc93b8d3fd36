// Package builder is plinth's build engine, and only that: pinned sources
// fetched once into a shared store (through mirrors when air-gapped, and
// copied into mirror directories for machines without the network),
// archives unpacked safely, a graph of named steps — each data: a key of
// every input, declared outputs, a body — run with bounded parallelism in
// private hermetic work directories, a content-addressed cache shared
// through a bazel-remote server, tool identities, and progress for people
// and machines. What the steps are (Microkit, sDDF) lives in package
// pipeline; what a build says about itself in package attest. A test keeps
// it from importing either.
package builder
