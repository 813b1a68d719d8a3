package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// diskCache keeps verified shard objects in a local directory, evicting the
// least recently used ones to stay under a byte limit. Entries are named by
// a hash of (source URL, shard, SHA-256) and re-verified against the sidecar
// when read, so a stale or damaged file is never trusted. Files are written
// to a temporary name and renamed, so a crash leaves no partial entry. The
// limit is kept per process: processes sharing a directory stay correct but
// may together exceed it.
type diskCache struct {
	dir   string
	limit int64

	mu    sync.Mutex
	clock int64
	used  int64
	ents  map[string]*cacheEnt
}

type cacheEnt struct {
	size int64
	used int64 // clock of the last access
}

const cacheExt = ".shard"

func openDiskCache(dir string, limit int64) (*diskCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("loader: cache dir: %w", err)
	}
	c := &diskCache{dir: dir, limit: limit, ents: map[string]*cacheEnt{}}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("loader: cache dir: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") {
			_ = os.Remove(filepath.Join(dir, name)) // left by a crash
			continue
		}
		if !strings.HasSuffix(name, cacheExt) || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		c.clock++
		c.ents[name] = &cacheEnt{size: info.Size(), used: c.clock}
		c.used += info.Size()
	}
	c.mu.Lock()
	c.evictLocked("")
	c.mu.Unlock()
	return c, nil
}

func (c *diskCache) get(name string) ([]byte, bool) {
	c.mu.Lock()
	e, ok := c.ents[name]
	if ok {
		c.clock++
		e.used = c.clock
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.remove(name)
		}
		return nil, false
	}
	return b, true
}

// put stores b under name; errors only cost the cache entry.
func (c *diskCache) put(name string, b []byte) {
	size := int64(len(b))
	if size > c.limit {
		return
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		_ = os.Remove(f.Name())
		return
	}
	if err := os.Rename(f.Name(), filepath.Join(c.dir, name)); err != nil {
		_ = os.Remove(f.Name())
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.ents[name]; ok {
		c.used -= old.size
	}
	c.clock++
	c.ents[name] = &cacheEnt{size: size, used: c.clock}
	c.used += size
	c.evictLocked(name)
}

func (c *diskCache) remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.ents[name]; ok {
		c.used -= e.size
		delete(c.ents, name)
		_ = os.Remove(filepath.Join(c.dir, name))
	}
}

// evictLocked removes least recently used entries, other than keep, until
// the cache fits its limit.
func (c *diskCache) evictLocked(keep string) {
	for c.used > c.limit {
		victim := ""
		var oldest int64
		for name, e := range c.ents {
			if name != keep && (victim == "" || e.used < oldest || e.used == oldest && name < victim) {
				victim, oldest = name, e.used
			}
		}
		if victim == "" {
			return
		}
		c.used -= c.ents[victim].size
		delete(c.ents, victim)
		_ = os.Remove(filepath.Join(c.dir, victim))
	}
}

// size is the bytes the cache holds (for tests and metrics).
func (c *diskCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
