package loader

import (
	"testing"

	"github.com/clipstream/clipstream/internal/s3test"
)

func requireS3(t testing.TB) string { return s3test.Require(t) }
func newBucket(t testing.TB) string { return s3test.NewBucket(t) }

func TestS3Epoch(t *testing.T) {
	bucket := newBucket(t)
	s3url := "s3://" + bucket + "/ds"
	d := writeDataset(t, s3url, "w0", "s", sizes50, 40, 30, nil)
	st := State{Seed: 21, Epoch: 1}
	var all []got
	var l0 *Loader
	for rank := range 2 {
		cfg := testConfig(t, 4, d.url)
		cfg.World, cfg.Rank = 2, rank
		l := newLoader(t, cfg)
		if rank == 0 {
			l0 = l
		}
		all = append(all, run(t, l, st, -1)...)
	}
	checkExactlyOnce(t, all, expectKeys(t, l0, []*dataset{d}, st, 0, 50))
	if m := l0.Metrics(); m.ShardsFetched != int64(len(sizes50)) || m.ShardsSkipped != 0 {
		t.Fatalf("metrics %+v", m)
	}
}
