package image

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// MiB is the unit of partition sizes and their alignment.
const MiB = 1 << 20

// Partition numbers of a plinth disk, as U-Boot counts them (from 1).
const (
	BootPartition  = 1
	SlotAPartition = 2
	SlotBPartition = 3
	StatePartition = 4
)

// Disk is a bootable disk image for SD cards, eMMC and USB sticks: an MBR
// with four partitions on 1 MiB boundaries from 1 MiB on: the boot
// partition (FAT, marked bootable) with the boot script and the board's
// firmware files, two slots (FAT, labelled SLOT_A and SLOT_B) each holding
// one release's image files, and a small state partition (zeros) for the
// updater. Slot B starts empty; an update fills it.
type Disk struct {
	BootFiles map[string][]byte
	SlotFiles map[string][]byte
	// Sizes in MiB.
	BootMiB, SlotMiB, StateMiB int
	// FirstMiB is where the first partition starts (1 when zero): boot
	// ROMs that read a boot loader from fixed places before it need room.
	FirstMiB int
	// Time stamps every file and directory (SOURCE_DATE_EPOCH).
	Time int64
}

// epochMu serialises disk creation: go-diskfs takes the time stamps of a
// reproducible file system from the process's SOURCE_DATE_EPOCH.
var epochMu sync.Mutex

// Write makes the disk image at path (a new file).
func (d Disk) Write(path string) error {
	if d.BootMiB < 8 || d.SlotMiB < 8 || d.StateMiB < 1 {
		return fmt.Errorf("a disk's boot partition and slots need 8 MiB or more each, its state partition 1 MiB")
	}
	sizes := []int{d.BootMiB, d.SlotMiB, d.SlotMiB, d.StateMiB}
	total := max(1, d.FirstMiB)
	for _, s := range sizes {
		total += s
	}
	for name, files := range map[string]map[string][]byte{"boot partition": d.BootFiles, "slot": d.SlotFiles} {
		need := 0
		for _, data := range files {
			need += len(data) + 64*1024 // a cluster's slack and the directory entry, generously
		}
		limit := d.BootMiB
		if name == "slot" {
			limit = d.SlotMiB
		}
		if need > limit*MiB*9/10 {
			return fmt.Errorf("the %s's files need about %d MiB; it has %d", name, (need+MiB-1)/MiB, limit)
		}
	}
	epochMu.Lock()
	defer epochMu.Unlock()
	old, had := os.LookupEnv("SOURCE_DATE_EPOCH")
	os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(d.Time, 10))
	defer func() {
		if had {
			os.Setenv("SOURCE_DATE_EPOCH", old)
		} else {
			os.Unsetenv("SOURCE_DATE_EPOCH")
		}
	}()

	table, err := d.create(path, sizes, total)
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := freeLeakedCluster(path, int64(table.Partitions[i].Start)*512); err != nil {
			return fmt.Errorf("partition %d: %w", i+1, err)
		}
	}
	return nil
}

func (d Disk) create(path string, sizes []int, total int) (*mbr.Table, error) {
	dk, err := diskfs.Create(path, int64(total)*MiB, diskfs.SectorSize512)
	if err != nil {
		return nil, err
	}
	defer dk.Close()
	table := &mbr.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512}
	start := uint32(max(1, d.FirstMiB) * MiB / 512)
	types := []mbr.Type{mbr.Fat16bLBA, mbr.Fat16bLBA, mbr.Fat16bLBA, mbr.Linux}
	for i, s := range sizes {
		sectors := uint32(s * MiB / 512)
		table.Partitions = append(table.Partitions, &mbr.Partition{Index: i + 1, Bootable: i == 0, Type: types[i], Start: start, Size: sectors})
		start += sectors
	}
	if err := dk.Partition(table); err != nil {
		return nil, fmt.Errorf("the partition table: %w", err)
	}
	for _, p := range []struct {
		index int
		label string
		files map[string][]byte
	}{{BootPartition, "BOOT", d.BootFiles}, {SlotAPartition, "SLOT_A", d.SlotFiles}, {SlotBPartition, "SLOT_B", nil}} {
		fs, err := dk.CreateFilesystem(disk.FilesystemSpec{Partition: p.index, FSType: filesystem.TypeFat16, VolumeLabel: p.label, Reproducible: true})
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", p.index, err)
		}
		for _, name := range slices.Sorted(maps.Keys(p.files)) {
			if err := writeFile(fs, "/"+name, p.files[name]); err != nil {
				return nil, fmt.Errorf("partition %d: %s: %w", p.index, name, err)
			}
		}
	}
	return table, nil
}

// freeLeakedCluster frees cluster 2 of a FAT16 file system go-diskfs
// (v1.9.4) made: it marks it used as if the root directory lived there (as
// on FAT32), where FAT16 keeps its root directory apart, so fsck.fat finds
// a lost cluster. Only a cluster nothing refers to is freed.
func freeLeakedCluster(path string, offset int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	bpb := make([]byte, 512)
	if _, err := f.ReadAt(bpb, offset); err != nil {
		return err
	}
	le := binary.LittleEndian
	bps, reserved, fats := int64(le.Uint16(bpb[11:])), int64(le.Uint16(bpb[14:])), int64(bpb[16])
	rootEntries, fatSectors := int64(le.Uint16(bpb[17:])), int64(le.Uint16(bpb[22:]))
	if rootEntries == 0 || bps == 0 {
		return nil // not FAT16
	}
	fatBytes := fatSectors * bps
	fat := make([]byte, fatBytes)
	if _, err := f.ReadAt(fat, offset+reserved*bps); err != nil {
		return err
	}
	if le.Uint16(fat[4:]) < 0xfff8 {
		return nil // free, or part of a chain
	}
	for c := int64(2); c < fatBytes/2; c++ {
		if le.Uint16(fat[2*c:]) == 2 {
			return nil // a chain leads to it
		}
	}
	root := make([]byte, rootEntries*32)
	if _, err := f.ReadAt(root, offset+(reserved+fats*fatSectors)*bps); err != nil {
		return err
	}
	for e := 0; e < len(root); e += 32 {
		if root[e] != 0 && root[e] != 0xe5 && le.Uint16(root[e+26:]) == 2 {
			return nil // a file starts there
		}
	}
	for i := range fats {
		if _, err := f.WriteAt([]byte{0, 0}, offset+reserved*bps+i*fatBytes+4); err != nil {
			return err
		}
	}
	return f.Close()
}

func writeFile(fs filesystem.FileSystem, name string, data []byte) error {
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadFile reads a file from a partition of a disk image.
func ReadFile(path string, partition int, name string) ([]byte, error) {
	dk, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, err
	}
	defer dk.Close()
	fs, err := dk.GetFilesystem(partition)
	if err != nil {
		return nil, err
	}
	f, err := fs.OpenFile("/"+name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
