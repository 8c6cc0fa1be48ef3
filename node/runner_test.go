package node

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRunner: a wake runs the work; wakes while it runs make it run once
// more, not once each; after the context ends, a wake does nothing; the
// wait group counts the goroutine while it runs.
func TestRunner(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var r runner
	var wg sync.WaitGroup
	var calls atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	work := func() {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	r.wake(ctx, &wg, work)
	<-entered
	for range 5 {
		r.wake(ctx, &wg, work)
	}
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 2 {
		t.Fatalf("%d runs, want 2 (the first and one more for the wakes meanwhile)", got)
	}
	r.wake(ctx, &wg, work)
	wg.Wait()
	if got := calls.Load(); got != 3 {
		t.Fatalf("%d runs after a wake while idle, want 3", got)
	}
	cancel()
	r.wake(ctx, &wg, work)
	wg.Wait()
	if got := calls.Load(); got != 3 {
		t.Fatalf("a wake after the context ended ran the work (%d runs)", got)
	}
}
