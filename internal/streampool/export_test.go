package streampool

import "time"

// SetClock makes p read the time from now, with no timed sweeps (a test
// calls Sweep; SetTimer gives it the timers).
func SetClock(p *Pool, now func() time.Time) { p.now, p.after = now, nil }

// SetTimer makes p set its sweeps' timers with after.
func SetTimer(p *Pool, after func(d time.Duration, f func()) (stop func() bool)) { p.after = after }
