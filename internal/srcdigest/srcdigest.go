// Package srcdigest hashes a package's embedded Go source, so that plinth's
// identity in cache keys follows the code that makes steps, not the bytes of
// the binary (which change with how it was built).
package srcdigest

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sort"
	"strings"
)

// Of is a hash of every .go file at the top of src, tests left out, in name
// order.
func Of(src fs.FS) string {
	names, _ := fs.Glob(src, "*.go")
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		b, err := fs.ReadFile(src, n)
		if err != nil {
			panic("srcdigest: embedded " + n + " unreadable: " + err.Error())
		}
		h.Write([]byte(n + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
