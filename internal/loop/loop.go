// Package loop runs the periodic work of sessionctl's parts (expiring
// messages and files, repairing replicas) the one way: every interval
// until the context ends, the work never overlapping itself.
package loop

import (
	"context"
	"sync"
	"time"
)

// Every calls f every d until ctx ends, then returns. f gets ctx and is
// never called twice at once; a slow f delays the next call (ticks missed
// meanwhile are dropped, not queued).
func Every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// Schedule calls f every d until ctx ends, as Every does, but holds no
// goroutine between calls: each call runs on a goroutine of its own, from
// a timer, d after the previous call ended. A process of thousands of
// nodes otherwise parks a goroutine a loop a node, each with the stack its
// work grew (a database's queries grow it deep). done is called once,
// when ctx has ended and no call runs; f is never called twice at once,
// nor after done.
func Schedule(ctx context.Context, d time.Duration, f func(context.Context), done func()) {
	s := &schedule{ctx: ctx, d: d, f: f, done: done}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = time.AfterFunc(d, s.tick)
	context.AfterFunc(ctx, s.stop)
}

type schedule struct {
	ctx  context.Context
	d    time.Duration
	f    func(context.Context)
	done func()

	mu    sync.Mutex
	t     *time.Timer
	ended bool // done was called
}

func (s *schedule) tick() {
	if s.ctx.Err() == nil {
		s.f(s.ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		s.end()
		return
	}
	s.t.Reset(s.d)
}

// stop runs when ctx ends: a call that is not running ends the schedule
// now; one that is ends it when it returns (tick).
func (s *schedule) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.t.Stop() {
		s.end()
	}
}

// end calls done, once. Called with mu held.
func (s *schedule) end() {
	if !s.ended {
		s.ended = true
		s.done()
	}
}
