// Package publish puts a build or an update bundle into an OCI registry
// as an OCI 1.1 artifact: one manifest whose layers are the release's
// files, and referrers (manifests whose subject is it) for the SBOM, the
// provenance and each signature, as cosign and registry UIs list them.
// Everything is content-addressed: a blob or manifest the registry holds
// is not sent again, so publishing the same release twice uploads nothing.
package publish
