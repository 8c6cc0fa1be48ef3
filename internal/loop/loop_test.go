package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEvery: f runs again and again, never twice at once, and Every returns
// once the context ends.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls, running atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, time.Millisecond, func(context.Context) {
			if running.Add(1) != 1 {
				t.Error("f ran twice at once")
			}
			if calls.Add(1) == 3 {
				cancel()
			}
			running.Add(-1)
		})
	}()
	<-done
	if calls.Load() < 3 {
		t.Fatalf("%d calls", calls.Load())
	}
}
