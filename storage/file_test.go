package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipstream/clipstream/storage"
	"github.com/clipstream/clipstream/storage/storagetest"
)

func newFileStore(t *testing.T) storage.Store {
	s, err := storage.Open(context.Background(), "file://"+t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileConformance(t *testing.T) {
	storagetest.Run(t, newFileStore)
}

func TestFileNoTempLeftovers(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	storagetest.Run(t, func(t *testing.T) storage.Store {
		dir := filepath.Join(root, fmt.Sprint(len(dirs)))
		dirs = append(dirs, dir)
		s, err := storage.Open(context.Background(), dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	for _, dir := range dirs {
		entries, err := os.ReadDir(filepath.Join(dir, ".clipstream-tmp"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Fatalf("%s: %d temporary files left behind, e.g. %s", dir, len(entries), entries[0].Name())
		}
	}
}
