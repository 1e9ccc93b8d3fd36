package image

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/u-root/u-root/pkg/dt"
)

// FIT describes a Flattened Image Tree holding one bootable image (and
// optionally the device tree it boots with) in one configuration.
type FIT struct {
	Description string
	// Arch is U-Boot's name for the architecture: arm64, riscv, x86_64.
	Arch string
	// Kernel is the image U-Boot loads at Load and starts at Entry. Its
	// os is "u-boot": bootm starts it as it starts a standalone program
	// (as the go command does, which is how Microkit's manual boots a
	// raw image), with no Linux image header wanted, after measuring it as
	// "linux" into PCR 8 (CONFIG_MEASURED_BOOT) like any OS image.
	Kernel      []byte
	Load, Entry uint64
	// OS is the image's os: "u-boot" (the default) or "linux".
	OS string
	// FDT, when not nil, is the device tree the configuration passes.
	FDT []byte
	// Time is the FIT's timestamp (SOURCE_DATE_EPOCH).
	Time int64
}

// Node names inside the FIT, as mkimage's examples name them.
const (
	kernelNode = "kernel-1"
	fdtNode    = "fdt-1"
	ConfigNode = "conf-1"
)

// Key signs a FIT's configuration. Name becomes key-name-hint: U-Boot looks
// for /signature/key-NAME in its control device tree.
type Key struct {
	Name   string
	Signer crypto.Signer
}

// Algo is the FIT algorithm name of a key: sha256,rsa2048 and the like.
// U-Boot verifies RSA in software; ECDSA only through a hardware verifier
// (UCLASS_ECDSA) on a few SoCs, and its host tools only from a key file, so
// plinth signs FITs with RSA keys (in a file or held by a TPM).
func Algo(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); bits {
		case 2048, 3072, 4096:
			return fmt.Sprintf("sha256,rsa%d", bits), nil
		default:
			return "", fmt.Errorf("RSA-%d: U-Boot verifies RSA-2048, 3072 and 4096", bits)
		}
	case *ecdsa.PublicKey:
		return "", fmt.Errorf("an ECDSA key: U-Boot verifies a FIT's signature with RSA in software (ECDSA only with a hardware verifier some SoCs have); sign boot images with an RSA key (plinth keygen --type rsa-3072, or a TPM-held RSA key)")
	}
	return "", fmt.Errorf("a %T key: U-Boot verifies FIT signatures made with RSA-2048, 3072 or 4096", pub)
}

// Build writes the FIT: each image with a sha256 hash node, and, with a
// key, the configuration signed over the image nodes and their hashes as
// U-Boot checks it (so required = "conf" in the control device tree makes
// bootm refuse any other).
func (f FIT) Build(key *Key) ([]byte, error) {
	if f.Arch == "" || len(f.Kernel) == 0 {
		return nil, fmt.Errorf("a FIT needs an architecture and an image")
	}
	addr := func(name string, v uint64) dt.Property {
		if v > 0xffffffff {
			return dt.PropertyU64(name, v)
		}
		return dt.PropertyU32(name, uint32(v))
	}
	cells := uint32(1)
	if f.Load > 0xffffffff || f.Entry > 0xffffffff {
		cells = 2
	}
	hash := func(data []byte) *dt.Node {
		sum := sha256.Sum256(data)
		return dt.NewNode("hash-1", dt.WithProperty(
			dt.Property{Name: "value", Value: sum[:]},
			dt.PropertyString("algo", "sha256"),
		))
	}
	kernel := dt.NewNode(kernelNode, dt.WithProperty(
		dt.PropertyString("description", f.Description),
		dt.Property{Name: "data", Value: f.Kernel},
		dt.PropertyString("type", "kernel"),
		dt.PropertyString("arch", f.Arch),
		dt.PropertyString("os", cmp.Or(f.OS, "u-boot")),
		dt.PropertyString("compression", "none"),
		addr("load", f.Load),
		addr("entry", f.Entry),
	), dt.WithChildren(hash(f.Kernel)))
	images := dt.NewNode("images", dt.WithChildren(kernel))
	signed := []string{kernelNode}
	conf := dt.NewNode(ConfigNode, dt.WithProperty(
		dt.PropertyString("description", f.Description),
		dt.PropertyString("kernel", kernelNode),
	))
	if f.FDT != nil {
		images.Children = append(images.Children, dt.NewNode(fdtNode, dt.WithProperty(
			dt.PropertyString("description", "device tree"),
			dt.Property{Name: "data", Value: f.FDT},
			dt.PropertyString("type", "flat_dt"),
			dt.PropertyString("arch", f.Arch),
			dt.PropertyString("compression", "none"),
		), dt.WithChildren(hash(f.FDT))))
		conf.Properties = append(conf.Properties, dt.PropertyString("fdt", fdtNode))
		signed = append(signed, fdtNode)
	}
	root := dt.NewNode("", dt.WithProperty(
		dt.PropertyString("description", f.Description),
		dt.PropertyU32("timestamp", uint32(f.Time)),
		dt.PropertyU32("#address-cells", cells),
	), dt.WithChildren(images, dt.NewNode("configurations", dt.WithProperty(
		dt.PropertyString("default", ConfigNode),
	), dt.WithChildren(conf))))

	var sig *dt.Node
	var algo string
	var nodes []string
	if key != nil {
		var err error
		if algo, err = Algo(key.Signer.Public()); err != nil {
			return nil, err
		}
		// What U-Boot hashes: the root, the configuration, and each image
		// it names with its hash node.
		nodes = []string{"/", "/configurations/" + ConfigNode}
		for _, img := range signed {
			nodes = append(nodes, "/images/"+img, "/images/"+img+"/hash-1")
		}
		// The value's length is fixed by the algorithm, so the blob can be
		// laid out once, hashed, and the value written in place.
		sig = dt.NewNode("signature-1", dt.WithProperty(
			dt.Property{Name: "value", Value: make([]byte, signatureLen(key.Signer.Public()))},
			dt.PropertyString("algo", algo),
			dt.PropertyString("key-name-hint", key.Name),
			dt.Property{Name: "sign-images", Value: stringList(signed)},
			dt.PropertyString("signer-name", "plinth"),
			dt.PropertyU32("timestamp", uint32(f.Time)),
			dt.Property{Name: "hashed-nodes", Value: stringList(nodes)},
			dt.PropertyU32Array("hashed-strings", []uint32{0, 0}), // set below
		))
		conf.Children = append(conf.Children, sig)
	}
	tree := &dt.FDT{Header: dt.Header{Magic: dt.Magic, Version: 17, LastCompVersion: 16}, RootNode: root}
	blob, err := write(tree)
	if err != nil || key == nil {
		return blob, err
	}
	// Every name in the strings block is covered, the signature's own
	// too: the block is final before the value is written.
	strOff, strSize := binary.BigEndian.Uint32(blob[12:]), binary.BigEndian.Uint32(blob[32:])
	sig.UpdateProperty("hashed-strings", u32s(0, strSize))
	if blob, err = write(tree); err != nil {
		return nil, err
	}
	hashed, err := signedData(blob, nodes, int(strOff), int(strSize))
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(hashed)
	value, err := key.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing the FIT's configuration: %w", err)
	}
	sig.UpdateProperty("value", value)
	return write(tree)
}

func write(tree *dt.FDT) ([]byte, error) {
	var b bytes.Buffer
	if _, err := tree.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// signatureLen is how long an RSA signature is.
func signatureLen(pub crypto.PublicKey) int {
	return (pub.(*rsa.PublicKey).N.BitLen() + 7) / 8
}

func stringList(items []string) []byte {
	var b []byte
	for _, s := range items {
		b = append(append(b, s...), 0)
	}
	return b
}

func u32s(v ...uint32) []byte {
	p := dt.PropertyU32Array("", v)
	return p.Value
}
