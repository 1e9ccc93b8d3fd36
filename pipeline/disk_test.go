package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointsav/plinth/recipe"
)

// A disk plinth makes reads back, through util-linux's sfdisk, as the
// partitions the recipe asked for: 1 MiB-aligned, one after another, with
// their types; the image is the disk's size and the same bytes each time.
func TestDiskImageAsSfdiskReadsIt(t *testing.T) {
	d := &recipe.Disk{Size: 64 << 20, Partitions: []recipe.DiskPartition{{Size: 15 << 20}, {Size: 4096, Type: 0x0c}, {Size: 8 << 20, Type: 0xda}}}
	dir := t.TempDir()
	path := filepath.Join(dir, "disk.img")
	if err := WriteDisk(path, d); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != 64<<20 {
		t.Fatalf("size %v %v", st, err)
	}
	again := filepath.Join(dir, "again.img")
	WriteDisk(again, d)
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Error("two disks from one layout differ")
	}
	sfdisk, err := exec.LookPath("sfdisk")
	if err != nil {
		t.Skip("no sfdisk (apt-get install fdisk)")
	}
	out, err := exec.Command(sfdisk, "-J", path).Output()
	if err != nil {
		t.Fatalf("sfdisk: %v", err)
	}
	var table struct {
		PartitionTable struct {
			Label      string `json:"label"`
			Partitions []struct {
				Start, Size uint64
				Type        string
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &table); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, p := range table.PartitionTable.Partitions {
		got = append(got, fmt.Sprintf("%d/%d/%s", p.Start, p.Size, p.Type))
	}
	// 15 MiB from sector 2048 (1 MiB) to 16 MiB; 4 KiB at 16 MiB; 8 MiB from 17 MiB.
	want := "2048/30720/83 32768/8/c 34816/16384/da"
	if table.PartitionTable.Label != "dos" || strings.Join(got, " ") != want {
		t.Errorf("sfdisk reads %s %v, want dos %s", table.PartitionTable.Label, got, want)
	}
}

func TestDiskLayoutRefuses(t *testing.T) {
	for _, tc := range []struct {
		d    recipe.Disk
		want string
	}{
		{recipe.Disk{Size: 1000, Partitions: []recipe.DiskPartition{{Size: 4096}}}, "not a multiple of 512-byte sectors"},
		{recipe.Disk{Size: 4 << 20}, "an MBR holds 1 to 4 primary partitions, not 0"},
		{recipe.Disk{Size: 4 << 20, Partitions: make([]recipe.DiskPartition, 5)}, "not 5"},
		{recipe.Disk{Size: 4 << 20, Partitions: []recipe.DiskPartition{{Size: 4 << 20}}}, "partition 0 (4194304 bytes from 1048576) runs past the end of the 4194304-byte disk"},
		{recipe.Disk{Size: 4 << 20, Partitions: []recipe.DiskPartition{{Size: 1000}}}, "partition 0: size 1000 is not a multiple of 4 KiB"},
		{recipe.Disk{Size: 4 << 20, Partitions: []recipe.DiskPartition{{Size: 4096, Type: 0x100}}}, "type 0x100 is not a byte"},
	} {
		if _, err := LayoutDisk(&tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
