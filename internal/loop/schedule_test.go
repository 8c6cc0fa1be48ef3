package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSchedule: f runs again and again, never twice at once; once the
// context ends, done is called once, after the call under way returns,
// and f is not called again.
func TestSchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls, running, afterDone atomic.Int32
	var ended atomic.Bool
	done := make(chan struct{})
	inThird := make(chan struct{})
	release := make(chan struct{})
	Schedule(ctx, time.Millisecond, func(context.Context) {
		if ended.Load() {
			afterDone.Add(1)
		}
		if running.Add(1) != 1 {
			t.Error("f ran twice at once")
		}
		if calls.Add(1) == 3 {
			close(inThird)
			<-release // the context ends while this call runs
		}
		running.Add(-1)
	}, func() {
		if ended.Swap(true) {
			t.Error("done called twice")
		}
		if running.Load() != 0 {
			t.Error("done called while f runs")
		}
		close(done)
	})
	<-inThird
	cancel()
	select { // (a window for a done too early to show; done checks it too)
	case <-done:
		t.Fatal("done before the call under way returned")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-done
	if calls.Load() != 3 || afterDone.Load() != 0 {
		t.Fatalf("%d calls, %d after done", calls.Load(), afterDone.Load())
	}
}

// TestScheduleEndsBetweenCalls: a context that ends between calls (or
// before the first) ends the schedule at once.
func TestScheduleEndsBetweenCalls(t *testing.T) {
	for _, d := range []time.Duration{time.Hour, 0} {
		ctx, cancel := context.WithCancel(context.Background())
		if d == 0 {
			cancel() // ended before it starts
			d = time.Hour
		}
		done := make(chan struct{})
		Schedule(ctx, d, func(context.Context) { t.Error("f called") }, func() { close(done) })
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("done not called")
		}
	}
}
