package node

import (
	"context"
	"sync"
)

// runner runs a part of a node's work on a goroutine of its own when
// woken, once more if woken while it runs, and holds no goroutine while
// idle. A loop that waits on a channel is a goroutine a node, with the
// stack its work grew, however rarely it is woken: thousands in a process
// of thousands of nodes.
type runner struct {
	mu      sync.Mutex
	running bool
	again   bool // woken while running
}

// wake runs f on a goroutine counted in wg, unless it runs already (it
// then runs once more when it returns); once ctx has ended it does
// nothing. Callers of wake are counted in wg themselves, so that wg never
// grows from zero while the node's Close waits on it.
func (r *runner) wake(ctx context.Context, wg *sync.WaitGroup, f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if r.running {
		r.again = true
		return
	}
	r.running = true
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			f()
			r.mu.Lock()
			again := r.again && ctx.Err() == nil
			r.again, r.running = false, again
			r.mu.Unlock()
			if !again {
				return
			}
		}
	}()
}
