// Package loop runs the periodic work of sessionctl's parts (expiring
// messages and files, repairing replicas) the one way: every interval
// until the context ends, the work never overlapping itself.
package loop

import (
	"context"
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
