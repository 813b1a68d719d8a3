package crawl

import (
	"container/heap"
	"context"
	"net/url"
	"sync"
	"time"
)

// job is one pair on its way through the fetcher.
type job struct {
	pair    Pair
	caption string   // cleaned
	u       *url.URL // parsed ImageURL
	origin  string   // scheme://host:port, the politeness key
	attempt int      // retries so far (429/503)
}

// hostState is one host's queue and politeness state. The scheduler's
// mutex guards it.
type hostState struct {
	origin   string
	queue    []*job // pending, FIFO; retries go to the front
	inFlight bool
	next     time.Time     // no request before this
	delay    time.Duration // spacing after each request: max(HostDelay, Crawl-delay)
	failures int           // consecutive failed requests
	parked   time.Time     // parked until then
	parkErr  error         // why, for the pairs refused meanwhile
	idx      int           // index in the ready heap, -1 when not there
	key      time.Time     // heap order: max(next, when it became ready)
	seq      uint64        // FIFO order among hosts with the same key
}

// scheduler holds the per-host queues. A host is in the ready heap when it
// has pending jobs and no request in flight; the heap orders hosts by the
// time they became eligible (the later of their next allowed request and
// the moment they got work), first come first served, so hosts take turns,
// a host with many pairs never holds more than one worker, and a stream of
// new hosts cannot starve the old ones.
type scheduler struct {
	hostDelay  time.Duration
	maxPending int

	mu        sync.Mutex
	hosts     map[string]*hostState
	ready     readyHeap
	pending   int // jobs queued
	inFlight  int // jobs handed out, not yet done
	inputDone bool
	seq       uint64
	adds      int

	wake  chan struct{} // the dispatcher re-examines the heap
	space chan struct{} // a queue slot freed up
}

func newScheduler(hostDelay time.Duration, maxPending int) *scheduler {
	return &scheduler{
		hostDelay:  hostDelay,
		maxPending: maxPending,
		hosts:      map[string]*hostState{},
		wake:       make(chan struct{}, 1),
		space:      make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// hostLocked returns the state of origin, creating it.
func (s *scheduler) hostLocked(origin string) *hostState {
	h := s.hosts[origin]
	if h == nil {
		h = &hostState{origin: origin, delay: s.hostDelay, idx: -1}
		s.hosts[origin] = h
	}
	return h
}

// add queues j, waiting while MaxPending jobs are queued. It returns the
// host's park error, without queueing, when the host is parked.
func (s *scheduler) add(ctx context.Context, j *job) (parkErr error, err error) {
	for {
		s.mu.Lock()
		if s.pending < s.maxPending {
			break
		}
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer s.mu.Unlock()
	now := time.Now()
	s.adds++
	if s.adds%4096 == 0 {
		s.sweepLocked(now)
	}
	h := s.hostLocked(j.origin)
	if now.Before(h.parked) {
		return h.parkErr, nil
	}
	h.queue = append(h.queue, j)
	s.pending++
	s.readyLocked(h)
	if s.pending < s.maxPending {
		signal(s.space) // pass the baton to another waiting add
	}
	return nil, nil
}

// readyLocked puts h in the heap if it has work and nothing in flight.
func (s *scheduler) readyLocked(h *hostState) {
	if h.idx >= 0 || h.inFlight || len(h.queue) == 0 {
		return
	}
	s.seq++
	h.seq = s.seq
	h.key = maxTime(h.next, time.Now())
	heap.Push(&s.ready, h)
	signal(s.wake)
}

// reopen readies the scheduler for a Run.
func (s *scheduler) reopen() {
	s.mu.Lock()
	s.inputDone = false
	s.mu.Unlock()
}

// reset drops every queued job after a Run, keeping what the hosts taught
// us (spacing, Crawl-delay, parking).
func (s *scheduler) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.hosts {
		h.queue = nil
		h.inFlight = false
		h.idx = -1
	}
	s.ready = nil
	s.pending, s.inFlight = 0, 0
	s.sweepLocked(time.Now())
	select {
	case <-s.wake:
	default:
	}
	select {
	case <-s.space:
	default:
	}
}

// closeInput says no more adds will come.
func (s *scheduler) closeInput() {
	s.mu.Lock()
	s.inputDone = true
	s.mu.Unlock()
	signal(s.wake)
}

// next waits for the host whose turn it is and takes its first job; ok is
// false when the input is closed and every job is done.
func (s *scheduler) next(ctx context.Context) (h *hostState, j *job, ok bool, err error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.inputDone && s.pending == 0 && s.inFlight == 0 {
			s.mu.Unlock()
			return nil, nil, false, nil
		}
		var wait time.Duration = -1
		if len(s.ready) > 0 {
			top := s.ready[0]
			wait = time.Until(top.key)
			if wait <= 0 {
				heap.Pop(&s.ready)
				j = top.queue[0]
				top.queue[0] = nil
				top.queue = top.queue[1:]
				top.inFlight = true
				s.pending--
				s.inFlight++
				s.mu.Unlock()
				signal(s.space)
				return top, j, true, nil
			}
		}
		s.mu.Unlock()
		var tc <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-s.wake:
		case <-tc:
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		}
	}
}

// result is what a worker reports when it is done with a host's turn.
type result struct {
	requested bool          // a request went to the host: space the next one
	requeue   bool          // queue the job again, first in its host's queue
	wait      time.Duration // with requeue: the host waits at least this long (Retry-After, backoff)
	failed    bool          // the host failed (network, timeout, 5xx, 429): count toward parking
	succeeded bool          // the host answered sensibly: reset the failure count
	delay     time.Duration // > 0: the host's spacing from now on (robots.txt Crawl-delay)
	park      time.Duration // > 0: park the host this long
	parkErr   error         // with park
	code      int           // HTTP status of the final answer, for the sample
}

// done ends h's turn for job j. It returns the jobs dropped because the
// host got parked (by r.park, or after failureLimit consecutive failures,
// the last being failErr) and the error to report them with.
func (s *scheduler) done(h *hostState, j *job, r result, failureLimit int, parkFor time.Duration, failErr error) ([]*job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	h.inFlight = false
	s.inFlight--
	if r.delay > 0 {
		h.delay = max(s.hostDelay, r.delay)
	}
	if r.requested {
		h.next = now.Add(h.delay)
	}
	switch {
	case r.succeeded:
		h.failures = 0
	case r.failed:
		h.failures++
	}
	if r.requeue {
		h.next = maxTime(h.next, now.Add(r.wait))
		h.queue = append([]*job{j}, h.queue...)
		s.pending++
	}
	var dropped []*job
	park, parkErr := r.park, r.parkErr
	if park <= 0 && failureLimit > 0 && h.failures >= failureLimit {
		park = parkFor
		parkErr = newError(StatusHostParked, "host %s parked for %v after %d consecutive failures (last: %v)", h.origin, parkFor, h.failures, failErr)
	}
	if park > 0 {
		h.parked = now.Add(park)
		h.parkErr = parkErr
		h.failures = 0
		dropped = h.queue
		s.pending -= len(dropped)
		h.queue = nil
		signal(s.space)
	}
	s.readyLocked(h)
	signal(s.wake)
	return dropped, h.parkErr
}

// sweepLocked forgets hosts with nothing queued or in flight whose spacing
// and parking have run out: remembering them would change nothing.
func (s *scheduler) sweepLocked(now time.Time) {
	for k, h := range s.hosts {
		if len(h.queue) == 0 && !h.inFlight && now.After(h.next) && now.After(h.parked) {
			delete(s.hosts, k)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// readyHeap orders hosts by key, then seq.
type readyHeap []*hostState

func (q readyHeap) Len() int { return len(q) }
func (q readyHeap) Less(i, j int) bool {
	if !q[i].key.Equal(q[j].key) {
		return q[i].key.Before(q[j].key)
	}
	return q[i].seq < q[j].seq
}
func (q readyHeap) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx = i
	q[j].idx = j
}
func (q *readyHeap) Push(x any) {
	h := x.(*hostState)
	h.idx = len(*q)
	*q = append(*q, h)
}
func (q *readyHeap) Pop() any {
	old := *q
	n := len(old)
	h := old[n-1]
	old[n-1] = nil
	h.idx = -1
	*q = old[:n-1]
	return h
}
