package channel

import (
	"context"
	"fmt"
	"regexp"

	"github.com/pointsav/plinth/publish"
)

// Remote is where a channel's metadata files are kept.
type Remote interface {
	// Get reads a file, at most limit bytes; a file that is not there is
	// an error that wraps publish.ErrNotFound.
	Get(ctx context.Context, name string, limit int64) ([]byte, error)
	Put(ctx context.Context, name string, data []byte) error
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// CheckName says whether a channel's name is one plinth takes (it becomes
// part of a tag).
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("channel %q: a channel's name is 1 to 40 of a-z, 0-9 and -, starting with a letter or digit", name)
	}
	return nil
}

// InRegistry keeps the channel's files in a repository, each under the tag
// tuf.CHANNEL.FILE.
func InRegistry(r *publish.Repo, name string) (Remote, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return registryRemote{r, name}, nil
}

type registryRemote struct {
	r    *publish.Repo
	name string
}

func (g registryRemote) tag(file string) string { return "tuf." + g.name + "." + file }

func (g registryRemote) Get(ctx context.Context, file string, limit int64) ([]byte, error) {
	return g.r.GetFile(ctx, g.tag(file), limit)
}

func (g registryRemote) Put(ctx context.Context, file string, data []byte) error {
	return g.r.PutFile(ctx, g.tag(file), file, data)
}
