package streampool

import "time"

// SetClock makes p read the time from now.
func SetClock(p *Pool, now func() time.Time) { p.now = now }
