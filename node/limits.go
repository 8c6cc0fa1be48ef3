package node

import (
	"sync"
	"time"
)

// limiter is a token bucket per client (a libp2p peer, an HTTPS client's
// address: clientKey) (SPEC 4: mainnet allows a burst of 600 requests and
// 300 a second).
type limiter struct {
	burst float64
	rate  float64

	mu      sync.Mutex
	buckets map[clientKey]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, perSecond float64) *limiter {
	return &limiter{burst: float64(burst), rate: perSecond, buckets: map[clientKey]*bucket{}}
}

// allow takes a token from client's bucket, reporting whether there was one.
func (l *limiter) allow(client clientKey, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweepLocked(now)
			if len(l.buckets) >= maxBuckets {
				return false // a flood of new peers: refuse until buckets refill
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[client] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// maxBuckets bounds the clients tracked at once. A bucket is forgotten once
// full again (2 s after its last request at the mainnet rate), so only a
// flood of new peer IDs reaches it.
const maxBuckets = 50_000

// sweep forgets clients whose buckets are full again.
func (l *limiter) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
}

func (l *limiter) sweepLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// replayCache remembers the signatures of accepted signed writes for
// twice the signature window, so a captured write cannot be replayed while
// its timestamp is still acceptable.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // signature -> when it may be forgotten
}

func newReplayCache() *replayCache { return &replayCache{seen: map[string]time.Time{}} }

const replayMemory = 2 * time.Minute

// maxReplay bounds the cache: at the rate limit a client signs 300
// requests a second, so this holds about 2 minutes of 3 busy clients (a
// few MB). Past it, signed writes are refused (503) rather than letting
// an old signature be forgotten early and replayed.
const maxReplay = 100_000

type replayVerdict int

const (
	replayFirst replayVerdict = iota
	replaySeen
	replayFull
)

// first records sig and says whether it was seen before, or whether the
// cache is full.
func (c *replayCache) first(sig string, now time.Time) replayVerdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[sig]; ok && now.Before(until) {
		return replaySeen
	}
	if len(c.seen) >= maxReplay {
		c.sweepLocked(now)
		if len(c.seen) >= maxReplay {
			return replayFull
		}
	}
	c.seen[sig] = now.Add(replayMemory)
	return replayFirst
}

func (c *replayCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(now)
}

func (c *replayCache) sweepLocked(now time.Time) {
	for k, until := range c.seen {
		if !now.Before(until) {
			delete(c.seen, k)
		}
	}
}
