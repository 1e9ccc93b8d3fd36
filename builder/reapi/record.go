package reapi

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/pointsav/plinth/builder"
)

// recordBlobs are the blobs a step's record names: its outputs and log.
func recordBlobs(record []byte) []builder.Digest {
	var rec builder.ActionRecord
	if json.Unmarshal(record, &rec) != nil {
		return nil
	}
	out := []builder.Digest{rec.Log}
	for _, o := range rec.Outputs {
		out = append(out, o.Digest)
	}
	return out
}

// uploadID names one ByteStream upload.
func uploadID() string { return uuid.NewString() }
