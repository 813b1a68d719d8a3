package crawl

import (
	"context"
	"sync"
)

// pgJob is one page to fetch.
type pgJob struct {
	url   string
	host  string // URL authority, the unit of politeness
	depth int    // links followed from a seed
}

// pgHost holds the jobs waiting for one host.
type pgHost struct {
	jobs     []pgJob
	inflight int
}

// pgFrontier is the bounded queue of pages a crawl has yet to fetch. Pop
// hands out jobs round-robin over hosts, never more than perHost at once for
// one host, so that workers are not all held by one slow or rate-limited
// site. It ends (pop returns false) when no job is queued or in flight, or
// when its context is done.
type pgFrontier struct {
	mu       sync.Mutex
	cond     *sync.Cond
	hosts    map[string]*pgHost
	order    []string // hosts with queued jobs, in round-robin order
	next     int      // index in order to look at first
	queued   int
	inflight int
	maxQueue int
	perHost  int
	closed   bool
	stop     func() bool
}

func newPGFrontier(ctx context.Context, maxQueue, perHost int) *pgFrontier {
	f := &pgFrontier{hosts: map[string]*pgHost{}, maxQueue: maxQueue, perHost: perHost}
	f.cond = sync.NewCond(&f.mu)
	f.stop = context.AfterFunc(ctx, f.close)
	return f
}

// close ends the frontier: pop returns false from now on.
func (f *pgFrontier) close() {
	f.mu.Lock()
	f.closed = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// release frees what the frontier holds on its context.
func (f *pgFrontier) release() { f.stop() }

// push queues a job; it reports false when the queue is full or closed.
func (f *pgFrontier) push(j pgJob) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.queued >= f.maxQueue {
		return false
	}
	h := f.hosts[j.host]
	if h == nil {
		h = &pgHost{}
		f.hosts[j.host] = h
	}
	if len(h.jobs) == 0 {
		f.order = append(f.order, j.host)
	}
	h.jobs = append(h.jobs, j)
	f.queued++
	f.cond.Signal()
	return true
}

// pop waits for a job that may start now.
func (f *pgFrontier) pop() (pgJob, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.closed {
			return pgJob{}, false
		}
		for k := 0; k < len(f.order); k++ {
			i := (f.next + k) % len(f.order)
			name := f.order[i]
			h := f.hosts[name]
			if h.inflight >= f.perHost {
				continue
			}
			j := h.jobs[0]
			h.jobs[0] = pgJob{}
			h.jobs = h.jobs[1:]
			if len(h.jobs) == 0 {
				h.jobs = nil
				f.order = append(f.order[:i], f.order[i+1:]...)
				if len(f.order) > 0 {
					f.next = i % len(f.order)
				} else {
					f.next = 0
				}
			} else {
				f.next = (i + 1) % len(f.order)
			}
			h.inflight++
			f.queued--
			f.inflight++
			return j, true
		}
		if f.queued == 0 && f.inflight == 0 {
			f.closed = true
			f.cond.Broadcast()
			return pgJob{}, false
		}
		f.cond.Wait()
	}
}

// done marks a popped job finished.
func (f *pgFrontier) done(j pgJob) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[j.host]
	h.inflight--
	if h.inflight == 0 && len(h.jobs) == 0 {
		delete(f.hosts, j.host)
	}
	f.inflight--
	f.cond.Broadcast()
}
