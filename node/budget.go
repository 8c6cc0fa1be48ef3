package node

import (
	"errors"
	"io"
	"sync"
)

// Budget bounds the bytes of request bodies held in memory at once, in total
// and per client (a libp2p peer, an HTTPS client's address: the rate
// limit's clientKey). Nodes of one devnet share one (Config.Budget), so a
// flood of large requests costs the process a fixed amount however many
// nodes it hits.
// A request that would go over is refused at once (503), not after it was
// read whole. Safe for concurrent use.
type Budget struct {
	total, perPeer int64

	mu     sync.Mutex
	used   int64
	byPeer map[clientKey]int64 // only clients holding bytes now: bounded by the requests open
}

// NewBudget returns a budget of total bytes, at most perPeer of them for one client.
func NewBudget(total, perPeer int64) *Budget {
	return &Budget{total: total, perPeer: perPeer, byPeer: map[clientKey]int64{}}
}

// The default budget: a node on its own may hold 64 MiB of requests, 16
// MiB from one client (one maximal request and change).
const (
	defaultBudget        = 64 << 20
	defaultBudgetPerPeer = 16 << 20
)

func (b *Budget) acquire(p clientKey, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.total || b.byPeer[p]+n > b.perPeer {
		return false
	}
	b.used += n
	b.byPeer[p] += n
	return true
}

func (b *Budget) release(p clientKey, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.byPeer[p] -= n; b.byPeer[p] <= 0 {
		delete(b.byPeer, p)
	}
}

// Used returns the bytes held now (for tests and the soak benchmark).
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

var (
	errTooLarge = errors.New("request over the size limit")
	errBusy     = errors.New("too many large requests at once")
)

// readChunk is how much of a body is read, and accounted for, first; the
// buffer then doubles. Most requests are a few hundred bytes: a first
// buffer of 64 KiB, zeroed for each, was 80% of the bytes a store
// allocated.
const readChunk = 4 << 10

// firstChunks are the first chunks of bodies, reused: a request's body is
// in one, most of the time, and a node reads tens of thousands a second.
var firstChunks = sync.Pool{New: func() any { return new([readChunk]byte) }}

// read reads all of r, at most limit bytes, holding them against the budget
// for client p. It returns the body and the function that gives its bytes back
// (call it once the body is no longer used: the body's memory is then
// reused, so nothing may keep it, or a slice of it, past that). Over limit
// it stops at once with errTooLarge; over the budget, with errBusy.
func (b *Budget) read(r io.Reader, p clientKey, limit int) ([]byte, func(), error) {
	h := new(bodyHold)
	body, err := b.readInto(h, r, p, limit)
	if err != nil {
		return nil, func() {}, err
	}
	return body, h.release, nil
}

// bodyHold is what a body read holds against the budget (readInto): give
// it back with release, once the body is no longer used.
type bodyHold struct {
	b     *Budget
	p     clientKey
	held  int64
	chunk *[readChunk]byte // the pooled first chunk, while the body uses it
}

// release gives the body's bytes back (again: nothing).
func (h *bodyHold) release() {
	if h.b == nil {
		return
	}
	h.b.release(h.p, h.held)
	h.held = 0
	if h.chunk != nil {
		firstChunks.Put(h.chunk)
		h.chunk = nil
	}
}

// readInto is read, holding the body's bytes in h, which the caller
// provides (a request's admission holds it with its turn: one allocation
// for both) and gives back with h.release. On an error h holds nothing.
func (b *Budget) readInto(h *bodyHold, r io.Reader, p clientKey, limit int) ([]byte, error) {
	*h = bodyHold{b: b, p: p}
	var buf []byte
	for {
		if len(buf) > limit {
			h.release()
			return nil, errTooLarge
		}
		if len(buf) == cap(buf) {
			// Grow by doubling (bounded by the limit); what is held is
			// the capacity, so the accounting is what memory holds.
			grow := int64(max(cap(buf), readChunk))
			grow = min(grow, int64(limit+1-cap(buf)+readChunk))
			if !b.acquire(p, grow) {
				h.release()
				return nil, errBusy
			}
			h.held += grow
			if buf == nil && grow == readChunk {
				h.chunk = firstChunks.Get().(*[readChunk]byte)
				buf = h.chunk[:0:readChunk]
			} else {
				nb := make([]byte, len(buf), cap(buf)+int(grow))
				copy(nb, buf)
				buf = nb
				if h.chunk != nil { // copied out: the chunk is free again
					firstChunks.Put(h.chunk)
					h.chunk = nil
				}
			}
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if errors.Is(err, io.EOF) {
			if len(buf) > limit {
				h.release()
				return nil, errTooLarge
			}
			return buf, nil
		}
		if err != nil {
			h.release()
			return nil, err
		}
	}
}

// drain discards what the peer still sends of a refused request (up to
// limit bytes), so it reads the refusal instead of a reset; nothing is kept.
func drain(r io.Reader, limit int) {
	io.CopyN(io.Discard, r, int64(limit))
}
