package image

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/u-root/u-root/pkg/dt"
)

// SignatureDTB is a device tree holding only the public key, as mkimage -K
// adds it to U-Boot's: /signature/key-NAME, required for every
// configuration ("conf"), so that U-Boot boots no FIT whose configuration
// the key did not sign. MergeSignature puts it into U-Boot's control
// device tree.
func SignatureDTB(pub crypto.PublicKey, name string) ([]byte, error) {
	node, err := keyNode(pub, name)
	if err != nil {
		return nil, err
	}
	root := dt.NewNode("", dt.WithChildren(dt.NewNode("signature", dt.WithChildren(node))))
	return write(&dt.FDT{Header: dt.Header{Magic: dt.Magic, Version: 17, LastCompVersion: 16}, RootNode: root})
}

// keyNode is the key-NAME node U-Boot verifies with: the RSA modulus and
// exponent with the Montgomery constants its verifier uses (rsa,n0-inverse
// and rsa,r-squared).
func keyNode(pub crypto.PublicKey, name string) (*dt.Node, error) {
	algo, err := Algo(pub)
	if err != nil {
		return nil, err
	}
	props := []dt.Property{
		dt.PropertyString("required", "conf"),
		dt.PropertyString("algo", algo),
		dt.PropertyString("key-name-hint", name),
	}
	if k, ok := pub.(*rsa.PublicKey); ok {
		bits := k.N.BitLen()
		// n0-inverse: -1/n modulo 2^32; r-squared: 2^(2*bits) modulo n.
		two32 := new(big.Int).Lsh(big.NewInt(1), 32)
		n0 := new(big.Int).ModInverse(new(big.Int).Mod(k.N, two32), two32)
		n0.Sub(two32, n0)
		r2 := new(big.Int).Lsh(big.NewInt(1), uint(2*bits))
		r2.Mod(r2, k.N)
		props = append(props,
			dt.PropertyU32("rsa,num-bits", uint32(bits)),
			dt.PropertyU32("rsa,n0-inverse", uint32(n0.Uint64())),
			dt.PropertyU64("rsa,exponent", uint64(k.E)),
			dt.Property{Name: "rsa,modulus", Value: k.N.FillBytes(make([]byte, bits/8))},
			dt.Property{Name: "rsa,r-squared", Value: r2.FillBytes(make([]byte, bits/8))},
		)
	}
	return dt.NewNode("key-"+name, dt.WithProperty(props...)), nil
}

// WithEventLog gives the TPM at node (a path) memory for its event log, as
// linux,sml-base and linux,sml-size: U-Boot's measured boot logs there and
// stops at its first event without it.
func WithEventLog(base []byte, node string, addr, size uint64) ([]byte, error) {
	tree, err := dt.ReadFDT(bytes.NewReader(base))
	if err != nil {
		return nil, fmt.Errorf("the device tree: %w", err)
	}
	n := tree.RootNode
	for _, part := range strings.Split(strings.Trim(node, "/"), "/") {
		c, ok := n.LookupChildByName(part)
		if !ok {
			return nil, fmt.Errorf("the device tree has no node %s", node)
		}
		n = c
	}
	n.Update(dt.PropertyU64("linux,sml-base", addr))
	n.Update(dt.PropertyU32("linux,sml-size", uint32(size)))
	return write(tree)
}

// MergeSignature puts the /signature node of sig (a build's signature.dtb)
// into the device tree base, replacing keys of the same name.
func MergeSignature(base, sig []byte) ([]byte, error) {
	from, err := dt.ReadFDT(bytes.NewReader(sig))
	if err != nil {
		return nil, fmt.Errorf("the signature's device tree: %w", err)
	}
	keys, ok := from.RootNode.LookupChildByName("signature")
	if !ok {
		return nil, fmt.Errorf("the signature's device tree has no /signature node")
	}
	tree, err := dt.ReadFDT(bytes.NewReader(base))
	if err != nil {
		return nil, fmt.Errorf("the control device tree: %w", err)
	}
	dst, ok := tree.RootNode.LookupChildByName("signature")
	if !ok {
		dst = dt.NewNode("signature")
		tree.RootNode.Children = append(tree.RootNode.Children, dst)
	}
	for _, k := range keys.Children {
		dst.Children = slices.DeleteFunc(dst.Children, func(c *dt.Node) bool { return c.Name == k.Name })
		dst.Children = append(dst.Children, k)
	}
	return write(tree)
}
