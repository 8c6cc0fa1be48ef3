// Package streampool keeps libp2p streams open between requests, for the
// protocols whose requests and answers are framed ([u32 big-endian
// length][bytes], WriteFrame and ReadFrame) so that one stream carries one
// after another. A new stream costs a yamux stream's set-up at both ends,
// a protocol negotiation and a handler goroutine: a request on a new
// stream took 50-55 us of CPU on an in-memory connection, one on a stream
// kept open 14-15 us.
//
// A Pool belongs to one host (a node's: one pool for all its outgoing
// requests); RoundTrip takes an idle stream to the peer for the protocol,
// or opens one, sends the request and reads the answer, and puts the
// stream back for the next. A peer that does not speak the framed
// protocol is asked on the fallback protocol instead, one request on a
// stream of its own, as before (NewStream negotiates whichever the peer
// has).
//
//	p := streampool.New(h)
//	defer p.Close()
//	answer, err := p.RoundTrip(ctx, peer, framed, fallback, request, limit, oneShot)
package streampool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Bounds of a pool: idle streams per peer and protocol, and in all; how
// long a stream stays idle before it is closed (each idle stream holds its
// handler's goroutine at the peer: a 200-node devnet kept 60 a node with
// 10 s and 4 a peer, 0.6 MB). A handler closes a stream idle for
// ServerIdle, longer, so a pooled stream is closed by its pool first.
//
// Past MaxIdlePerPeer (or MaxIdle), a stream that was in use at once with
// others to the same peer stays idle too, up to BurstIdlePerPeer a peer
// and MaxBurstIdle in all, but for BurstIdleFor only: a busy peer's next
// burst finds them open (64 clients on 12 nodes opened and closed 1.7
// streams a send with 2 a peer, and a request on a new stream took 20-30
// ms longer under that load), and a quiet one holds no more than before.
const (
	MaxIdlePerPeer   = 2
	MaxIdle          = 64
	IdleFor          = 3 * time.Second
	BurstIdlePerPeer = 8
	MaxBurstIdle     = 192
	BurstIdleFor     = 500 * time.Millisecond
	ServerIdle       = 10 * time.Second
)

// ErrFrame is a frame over its limit.
var ErrFrame = errors.New("streampool: frame over its limit")

// WriteFrame writes the parts, one after another, as one frame, in one
// Write. The frame is put together in a buffer kept for the next (a
// stream's Write copies what it is given before it returns).
func WriteFrame(w io.Writer, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	bp := frameBufs.Get().(*[]byte)
	buf := append((*bp)[:0], 0, 0, 0, 0)
	binary.BigEndian.PutUint32(buf, uint32(n))
	for _, p := range parts {
		buf = append(buf, p...)
	}
	_, err := w.Write(buf)
	if cap(buf) <= maxKeptFrame {
		*bp = buf
		frameBufs.Put(bp)
	}
	return err
}

// frameBufs are WriteFrame's buffers, and those of answers read pooled;
// one over maxKeptFrame (an attachment's) is left to the collector.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxKeptFrame = 64 << 10

// ReadFrameLen reads a frame's length, refusing one over limit.
func ReadFrameLen(r io.Reader, limit int) (int, error) {
	// Read into one of heads: an array of its own, which a Read through
	// an interface makes escape, was an allocation a frame.
	h := heads.Get().(*[4]byte)
	_, err := io.ReadFull(r, h[:])
	n := binary.BigEndian.Uint32(h[:])
	heads.Put(h)
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(limit) {
		return 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrFrame, n, limit)
	}
	return int(n), nil
}

// heads are ReadFrameLen's buffers.
var heads = sync.Pool{New: func() any { return new([4]byte) }}

// ReadFrame reads one frame of at most limit bytes.
func ReadFrame(r io.Reader, limit int) ([]byte, error) {
	n, err := ReadFrameLen(r, limit)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// readFramePooled is ReadFrame into a buffer of frameBufs, held in the box
// it returns (Release gives it back).
func readFramePooled(r io.Reader, limit int) ([]byte, *[]byte, error) {
	n, err := ReadFrameLen(r, limit)
	if err != nil {
		return nil, nil, err
	}
	box := frameBufs.Get().(*[]byte)
	if cap(*box) < n {
		*box = make([]byte, n)
	}
	buf := (*box)[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		Release(box)
		return nil, nil, err
	}
	return buf, box, nil
}

// Release gives back the buffer of an answer read pooled (box, from
// RoundTripHeadPooled or Call.AnswerPooled; nil: none), once nothing uses
// the answer any more.
func Release(box *[]byte) {
	if box != nil && cap(*box) <= maxKeptFrame {
		*box = (*box)[:0]
		frameBufs.Put(box)
	}
}

// Host is a host with a stream pool: callers that are handed one
// (storagerpc.RoundTrip, onion.Send) send framed requests through it.
type Host interface {
	host.Host
	StreamPool() *Pool
}

type key struct {
	peer  peer.ID
	proto protocol.ID
}

type idle struct {
	s     network.Stream
	dl    time.Time // the deadline s has (zero: none)
	until time.Time // when it is closed if nobody took it
	burst bool      // kept past MaxIdlePerPeer or MaxIdle, for BurstIdleFor
}

// Pool keeps a host's streams open between requests. Safe for concurrent
// use; Close closes the idle streams, and RoundTrip then opens no more
// idle ones.
type Pool struct {
	h host.Host

	now func() time.Time // the clock; time.Now but in tests
	// after runs f once d has passed and returns what cancels it
	// (time.AfterFunc's; tests replace it): the sweep of the streams idle
	// past their time, when the first is due.
	after func(d time.Duration, f func()) (stop func() bool)

	mu        sync.Mutex
	idle      map[key][]idle // newest last
	count     int            // idle streams kept for IdleFor
	bursts    int            // idle streams kept for BurstIdleFor
	swept     time.Time      // when put last closed the streams idle too long
	sweepAt   time.Time      // when the timed sweep runs (zero: none is due)
	stopSweep func() bool    // cancels it
	closed    bool
}

// New returns the pool of host h.
func New(h host.Host) *Pool {
	return &Pool{h: h, idle: map[key][]idle{}, now: time.Now, after: func(d time.Duration, f func()) func() bool {
		return time.AfterFunc(d, f).Stop
	}}
}

// RoundTrip sends req to p and returns the answer: on a stream of framed
// (kept open, taken from the pool or opened) as a frame, the answer a
// frame of at most limit bytes; or, when p speaks only fallback, by
// oneShot on a stream of its own (which it must close or reset).
func (pl *Pool) RoundTrip(ctx context.Context, p peer.ID, framed, fallback protocol.ID, req []byte, limit int,
	oneShot func(s network.Stream) ([]byte, error)) ([]byte, error) {
	return pl.RoundTripHead(ctx, p, framed, fallback, nil, req, limit, oneShot)
}

// RoundTripHead is RoundTrip of a request made of head then req, sent as
// one frame without copying the two into one first (onion.Send's hop
// number before its layer).
func (pl *Pool) RoundTripHead(ctx context.Context, p peer.ID, framed, fallback protocol.ID, head, req []byte, limit int,
	oneShot func(s network.Stream) ([]byte, error)) ([]byte, error) {
	answer, _, err := pl.roundTrip(ctx, p, framed, fallback, head, req, limit, oneShot, false)
	return answer, err
}

// RoundTripHeadPooled is RoundTripHead whose answer may be read into a
// buffer of a pool, held in box (nil when it is not): Release(box) gives
// it back once nothing uses the answer (a relay's, written on as soon as
// it is read).
func (pl *Pool) RoundTripHeadPooled(ctx context.Context, p peer.ID, framed, fallback protocol.ID, head, req []byte, limit int,
	oneShot func(s network.Stream) ([]byte, error)) (answer []byte, box *[]byte, err error) {
	return pl.roundTrip(ctx, p, framed, fallback, head, req, limit, oneShot, true)
}

func (pl *Pool) roundTrip(ctx context.Context, p peer.ID, framed, fallback protocol.ID, head, req []byte, limit int,
	oneShot func(s network.Stream) ([]byte, error), pooled bool) ([]byte, *[]byte, error) {
	k := key{p, framed}
	s, dl := pl.take(k)
	if s == nil {
		var err error
		if s, err = pl.h.NewStream(network.WithAllowLimitedConn(ctx, "streampool"), p, framed, fallback); err != nil {
			return nil, nil, fmt.Errorf("open stream to %s: %w", p.ShortString(), err)
		}
		if s.Protocol() != framed {
			setDeadline(ctx, s)
			answer, err := oneShot(s)
			return answer, nil, err
		}
	}
	c, err := pl.send(ctx, k, s, dl, head, req)
	if err != nil {
		return nil, nil, err
	}
	if pooled {
		return c.AnswerPooled(limit)
	}
	answer, err := c.Answer(limit)
	return answer, nil, err
}

// Call is a request sent on a pooled stream whose answer is not read yet:
// Answer reads it. Requests to several peers sent one after another by
// SendIdle, then their answers read in turn, travel at once as
// RoundTrips on a goroutine each would, without those goroutines (each
// one made and woken is a hand-off that wakes an idle processor).
type Call struct {
	pl *Pool
	k  key
	s  network.Stream
	dl time.Time // s's deadline
}

// SendIdle sends head then req to p as RoundTripHead does, if the pool
// holds an idle stream of framed to p: nothing in it blocks but the
// write (as a RoundTrip's). ok is false, and nothing is sent, when it
// holds none: the caller makes a RoundTrip then, which opens a stream
// (that may dial, or find that p speaks only the fallback protocol).
// When ok and err is nil, Answer must be called: it reads the answer and
// puts the stream back. A failed send has reset the stream.
func (pl *Pool) SendIdle(ctx context.Context, p peer.ID, framed protocol.ID, head, req []byte) (c Call, ok bool, err error) {
	k := key{p, framed}
	s, dl := pl.take(k)
	if s == nil {
		return Call{}, false, nil
	}
	c, err = pl.send(ctx, k, s, dl, head, req)
	return c, true, err
}

// send writes the request on s, a stream of k's framed protocol whose
// deadline is dl, under ctx's deadline (30 s without; see keepDeadline).
func (pl *Pool) send(ctx context.Context, k key, s network.Stream, dl time.Time, head, req []byte) (Call, error) {
	dl = keepDeadline(ctx, s, dl)
	if err := WriteFrame(s, head, req); err != nil {
		s.Reset()
		return Call{}, fmt.Errorf("send to %s: %w", k.peer.ShortString(), err)
	}
	return Call{pl, k, s, dl}, nil
}

// DeadlineSlack is how much later than its request's deadline a pooled
// stream's may be (at most a 32nd of the time the request has): a
// request's deadline is set on its stream that much later, and a stream
// whose deadline is already within that of the request's keeps it. A
// stream's deadline set for each request (and cleared after it), on
// streams that carry one after another, was a dozen deadline changes a
// send, each a timer stopped and started again (in yamux, a new timer
// each).
const DeadlineSlack = 100 * time.Millisecond

// keepDeadline bounds a request under ctx (30 s without a deadline) on s,
// whose deadline is held: held when it is no sooner than the request's
// and at most its slack later, else one set that slack later. It returns
// s's deadline.
func keepDeadline(ctx context.Context, s network.Stream, held time.Time) time.Time {
	now := time.Now()
	want, ok := ctx.Deadline()
	if !ok {
		want = now.Add(30 * time.Second)
	}
	slack := max(min(DeadlineSlack, want.Sub(now)/32), 0)
	if !held.IsZero() && !held.Before(want) && !held.After(want.Add(slack)) {
		return held
	}
	at := want.Add(slack)
	s.SetDeadline(at)
	return at
}

// Answer reads the answer to c, a frame of at most limit bytes (by the
// deadline of the context it was sent under), and puts the stream back
// for the next request.
func (c Call) Answer(limit int) ([]byte, error) {
	answer, err := ReadFrame(c.s, limit)
	if err != nil {
		c.s.Reset()
		return nil, fmt.Errorf("read from %s: %w", c.k.peer.ShortString(), err)
	}
	c.pl.put(c.k, c.s, c.dl)
	return answer, nil
}

// AnswerPooled is Answer into a buffer of a pool, held in box: Release(box)
// gives it back once nothing uses the answer.
func (c Call) AnswerPooled(limit int) (answer []byte, box *[]byte, err error) {
	answer, box, err = readFramePooled(c.s, limit)
	if err != nil {
		c.s.Reset()
		return nil, nil, fmt.Errorf("read from %s: %w", c.k.peer.ShortString(), err)
	}
	c.pl.put(c.k, c.s, c.dl)
	return answer, box, nil
}

func setDeadline(ctx context.Context, s network.Stream) {
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	} else {
		s.SetDeadline(time.Now().Add(30 * time.Second))
	}
}

// take returns an idle stream for k that is still usable, and its
// deadline, closing those idle too long or on a closed connection; nil
// when there is none.
func (pl *Pool) take(k key) (network.Stream, time.Time) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	now := pl.now()
	for l := pl.idle[k]; len(l) > 0; l = pl.idle[k] {
		e := l[len(l)-1]
		if len(l) == 1 {
			delete(pl.idle, k)
		} else {
			pl.idle[k] = l[:len(l)-1]
		}
		pl.forget(e)
		if now.Before(e.until) && !e.s.Conn().IsClosed() {
			return e.s, e.dl
		}
		closeIdle(e.s)
	}
	return nil, time.Time{}
}

// closeIdle closes a stream put back, with its deadline cleared first (a
// deadline's timer, as yamux's, would hold the stream until it fires).
func closeIdle(s network.Stream) {
	s.SetDeadline(time.Time{})
	s.Close()
}

// forget uncounts e, taken out of idle. Called with mu held.
func (pl *Pool) forget(e idle) {
	if e.burst {
		pl.bursts--
	} else {
		pl.count--
	}
}

// put keeps s, whose deadline is dl, for the next request to k, or closes
// it when the pool is full or closed.
func (pl *Pool) put(k key, s network.Stream, dl time.Time) {
	pl.mu.Lock()
	now := pl.now()
	if now.Sub(pl.swept) >= BurstIdleFor {
		pl.swept = now
		pl.sweepLocked(now)
	}
	n := len(pl.idle[k])
	e := idle{s: s, dl: dl, until: now.Add(IdleFor)}
	switch {
	case pl.closed || n >= BurstIdlePerPeer:
		pl.mu.Unlock()
		closeIdle(s)
		return
	case n < MaxIdlePerPeer && pl.count < MaxIdle:
		pl.count++
	case pl.bursts < MaxBurstIdle:
		e.until, e.burst = now.Add(BurstIdleFor), true
		pl.bursts++
	default:
		pl.mu.Unlock()
		closeIdle(s)
		return
	}
	pl.idle[k] = append(pl.idle[k], e)
	pl.sweepByLocked(e.until)
	pl.mu.Unlock()
}

// sweepByLocked has a timed sweep run by at, unless one runs by then
// already: a pool's idle streams are closed on time although nobody uses
// the pool (a quiet node's: each holds libp2p's state of a stream, and
// the handler goroutine at the peer, until the peer's ServerIdle), with a
// timer, and no goroutine, while they wait. Called with mu held.
func (pl *Pool) sweepByLocked(at time.Time) {
	if pl.after == nil || pl.closed || !pl.sweepAt.IsZero() && !at.Before(pl.sweepAt) {
		return
	}
	if pl.stopSweep != nil {
		pl.stopSweep()
	}
	pl.sweepAt = at
	pl.stopSweep = pl.after(at.Sub(pl.now()), pl.timedSweep)
}

// timedSweep closes the streams idle past their time, and has the next
// sweep run when the first of those left is due.
func (pl *Pool) timedSweep() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.sweepAt, pl.stopSweep = time.Time{}, nil
	if pl.closed {
		return
	}
	pl.sweepLocked(pl.now())
	var first time.Time
	for _, l := range pl.idle {
		for _, e := range l {
			if first.IsZero() || e.until.Before(first) {
				first = e.until
			}
		}
	}
	if !first.IsZero() {
		pl.sweepByLocked(first)
	}
}

// Idle is how many streams the pool holds idle.
func (pl *Pool) Idle() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.count + pl.bursts
}

// Sweep closes the streams idle past their time (IdleFor, or BurstIdleFor)
// (put does, every BurstIdleFor, take drops them too, and a timer set by
// put when the first is due).
func (pl *Pool) Sweep() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.sweepLocked(pl.now())
}

func (pl *Pool) sweepLocked(now time.Time) {
	for k, l := range pl.idle {
		kept := l[:0]
		for _, e := range l {
			if now.Before(e.until) && !e.s.Conn().IsClosed() {
				kept = append(kept, e)
			} else {
				closeIdle(e.s)
				pl.forget(e)
			}
		}
		if len(kept) == 0 {
			delete(pl.idle, k)
		} else {
			pl.idle[k] = kept
		}
	}
}

// Close closes the idle streams; later ones are closed when put back.
func (pl *Pool) Close() {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.closed = true
	if pl.stopSweep != nil {
		pl.stopSweep()
		pl.sweepAt, pl.stopSweep = time.Time{}, nil
	}
	for _, l := range pl.idle {
		for _, e := range l {
			closeIdle(e.s)
		}
	}
	pl.idle, pl.count, pl.bursts = map[key][]idle{}, 0, 0
}
