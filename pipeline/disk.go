package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pointsav/plinth/builder"

	"github.com/pointsav/plinth/recipe"
)

// Disk geometry: 512-byte sectors, partitions on 1 MiB boundaries from
// 1 MiB on (as fdisk places them), so every start is also a multiple of
// sDDF's 4 KiB transfer, which its block virtualiser requires.
const (
	sectorBytes    = 512
	partitionAlign = 1 << 20
	defaultMBRType = 0x83
)

// MBRPartition is a partition as it lands in the table.
type MBRPartition struct {
	Type           byte
	Start, Sectors uint32 // in sectors
}

// LayoutDisk places the partitions one after another from 1 MiB, each on
// a 1 MiB boundary, and checks they fit the disk and the MBR's limits.
func LayoutDisk(d *recipe.Disk) ([]MBRPartition, error) {
	size := uint64(d.Size)
	if size%sectorBytes != 0 {
		return nil, fmt.Errorf("disk size %d is not a multiple of %d-byte sectors", size, sectorBytes)
	}
	if size/sectorBytes > 0xffffffff {
		return nil, fmt.Errorf("disk size %d is beyond what an MBR addresses (2 TiB)", size)
	}
	if len(d.Partitions) == 0 || len(d.Partitions) > 4 {
		return nil, fmt.Errorf("an MBR holds 1 to 4 primary partitions, not %d", len(d.Partitions))
	}
	var out []MBRPartition
	at := uint64(partitionAlign)
	for i, p := range d.Partitions {
		if uint64(p.Size)%0x1000 != 0 {
			return nil, fmt.Errorf("partition %d: size %d is not a multiple of 4 KiB", i, p.Size)
		}
		typ := p.Type
		if typ == 0 {
			typ = defaultMBRType
		}
		if typ < 1 || typ > 0xff {
			return nil, fmt.Errorf("partition %d: type %#x is not a byte from 0x01 to 0xff", i, typ)
		}
		end := at + uint64(p.Size)
		if end > size {
			return nil, fmt.Errorf("partition %d (%d bytes from %d) runs past the end of the %d-byte disk", i, p.Size, at, size)
		}
		out = append(out, MBRPartition{Type: byte(typ), Start: uint32(at / sectorBytes), Sectors: uint32(uint64(p.Size) / sectorBytes)})
		at = (end + partitionAlign - 1) / partitionAlign * partitionAlign
	}
	return out, nil
}

// MBR is the first sector of a disk with these partitions: no boot code,
// no disk identifier (so the image depends on the layout alone), LBA
// addresses with the CHS fields marked unusable, the 0x55AA signature.
func MBR(parts []MBRPartition) []byte {
	sector := make([]byte, sectorBytes)
	for i, p := range parts {
		e := sector[446+16*i : 446+16*(i+1)]
		copy(e[1:4], []byte{0xfe, 0xff, 0xff})
		e[4] = p.Type
		copy(e[5:8], []byte{0xfe, 0xff, 0xff})
		binary.LittleEndian.PutUint32(e[8:], p.Start)
		binary.LittleEndian.PutUint32(e[12:], p.Sectors)
	}
	sector[510], sector[511] = 0x55, 0xaa
	return sector
}

// WriteDisk writes a zero-filled disk image of the recipe's size with its
// partition table (sparse where the file system allows).
func WriteDisk(path string, d *recipe.Disk) error {
	parts, err := LayoutDisk(d)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(MBR(parts)); err != nil {
		f.Close()
		return err
	}
	if err := f.Truncate(int64(d.Size)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// diskStep makes the recipe's disk image, disk.img.
func diskStep(d *recipe.Disk) *builder.Step {
	st := &builder.Step{Name: "disk", Outputs: []string{"disk.img"}}
	st.Key = map[string]any{"kind": "disk", "disk": d}
	st.Run = func(ctx context.Context, sc *builder.StepContext) error {
		return WriteDisk(filepath.Join(sc.Out, "disk.img"), d)
	}
	return st
}
