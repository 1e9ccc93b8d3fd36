// Package attest is what a build says about itself: the manifest (every
// pin, tool, part and output digest), the protection domains' footprint,
// and the SPDX SBOM and SLSA provenance as in-toto statements about the
// image — each a function of the manifest, so a verifier can derive them
// again from a signed manifest. Signing them is package sign's.
package attest
