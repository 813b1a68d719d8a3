package trainer

import (
	"encoding/json"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/clipstream/clipstream/fixtures"
	"github.com/clipstream/clipstream/internal/datasettest"
	"github.com/clipstream/clipstream/internal/s3test"
	"github.com/clipstream/clipstream/shardwriter"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m, s3test.ToxiproxyLeaks()...)
}

var corpus = sync.OnceValues(fixtures.Corpus)

// split returns the fixture corpus as training and held-out items: of
// every heldEvery-th emoji concept the Twitter drawing is held out, so no
// held-out image is trained on, while the concept (its caption, and the
// Google drawing of it) is.
func split(t testing.TB, heldEvery int) (train, held []fixtures.Item) {
	t.Helper()
	items, err := corpus()
	if err != nil {
		t.Fatal(err)
	}
	concept := map[string]int{}
	for _, it := range items {
		c, ok := concept[it.Unified]
		if !ok {
			c = len(concept)
			concept[it.Unified] = c
		}
		if heldEvery > 0 && c%heldEvery == heldEvery-1 && it.Vendor == "twitter" {
			held = append(held, it)
		} else {
			train = append(train, it)
		}
	}
	return train, held
}

// writeDataset writes items as a committed dataset at url (PNG images,
// metadata with category, vendor and id), perShard samples a shard.
func writeDataset(t testing.TB, url string, items []fixtures.Item, perShard int, caption func(fixtures.Item) string) {
	t.Helper()
	var samples []shardwriter.Sample
	for i, it := range items {
		meta, _ := json.Marshal(map[string]any{"category": it.Category, "vendor": it.Vendor, "id": it.ID, "i": i})
		c := it.Caption
		if caption != nil {
			c = caption(it)
		}
		samples = append(samples, shardwriter.Sample{Image: it.Image, ImageExt: "png", Caption: c, Meta: meta})
	}
	datasettest.Write(t, url, samples, perShard)
}

// datasets caches the training and held-out fixture datasets per test
// binary, on the local disk.
var datasets = struct {
	sync.Mutex
	dir string
}{}

func fixtureData(t testing.TB) (train, held string) {
	t.Helper()
	datasets.Lock()
	defer datasets.Unlock()
	if datasets.dir == "" {
		dir, err := os.MkdirTemp("", "clipstream-trainer-data-")
		if err != nil {
			t.Fatal(err)
		}
		tr, he := split(t, 4)
		writeDataset(t, dir+"/train", tr, 64, nil)
		writeDataset(t, dir+"/held", he, 64, nil)
		datasets.dir = dir
	}
	return datasets.dir + "/train", datasets.dir + "/held"
}
