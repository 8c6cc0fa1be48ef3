package memtransport

import (
	"errors"
	"io"
	"math/bits"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Window is how many bytes a stream buffers in each direction: a writer
// blocks while its reader has that many unread, as a flow-controlled
// multiplexer's window would make it.
const Window = 256 << 10

// Errors of a stream's end, besides the network.StreamError of a reset.
var (
	ErrWriteClosed = errors.New("memtransport: write on a stream closed for writing")
	ErrReadClosed  = errors.New("memtransport: read on a stream closed for reading")
)

// pair is one stream, shared by its two ends (0 and 1): a bounded pipe in
// each direction, under one lock. Nothing runs for it: a blocked call waits
// on its wake channel, which the next change it waits for closes, or on its
// end's deadline.
type pair struct {
	mu  sync.Mutex
	dir [2]direction // dir[i] carries what end i writes to end 1-i
	// wake[waiter(end, role)] is given a token by the next change that a
	// blocked Read (role reading) or Write (role writing) of that end
	// waits for, while waiting[that] calls wait on it (a call woken
	// passes the token on to the next, which looks again too). One
	// channel for all four woke every call blocked on the stream at each
	// change, as a reader waiting for its answer at every read and
	// deadline of the other end: a goroutine woken for nothing, dozens a
	// send. A channel is made once, at its first wait, and kept: one made
	// for each wait and closed to wake it was 35 allocations a send.
	wake    [4]chan struct{}
	waiting [4]int
	// gone is called once, when both directions are over (closed at both
	// ends, or reset), to forget the stream; may be nil.
	gone func(*pair)
	done bool
}

// direction is one half of a stream.
type direction struct {
	// buf[off:] is what was written and not read yet; buf is one of
	// bufs' (held in box), given back once all of it is read, so that an
	// idle stream holds none, and the next write takes one again: a
	// buffer made for each write, as append to an empty buf did, was a
	// sixth of a send's bytes allocated.
	buf     []byte
	off     int
	box     *[]byte
	wclosed bool // the writer closed it: the reader gets EOF once drained
	rclosed bool // the reader closed it: the writer's writes fail
	reset   *reset
}

// reset is why a direction was reset: by which end, with what code.
type reset struct {
	by    int
	code  network.StreamErrorCode
	cause error // set when the connection's close reset it
}

func (r *reset) err(me int) error {
	return &network.StreamError{ErrorCode: r.code, Remote: r.by != me, TransportError: r.cause}
}

// over tells whether nothing more can pass: reset, closed at both ends, or
// closed by its writer and all read (the reader reads EOF).
func (d *direction) over() bool {
	return d.reset != nil || (d.wclosed && (d.rclosed || d.unread() == 0))
}

// unread is how many bytes were written and not read yet.
func (d *direction) unread() int { return len(d.buf) - d.off }

// add appends b (at most the room left in the window) to what is unread,
// in a buffer of bufs large enough for both.
func (d *direction) add(b []byte) {
	if cap(d.buf)-len(d.buf) < len(b) {
		box := getBuf(d.unread() + len(b))
		*box = append((*box)[:0], d.buf[d.off:]...)
		d.drop()
		d.buf, d.box = *box, box
	}
	d.buf = append(d.buf, b...)
}

// take copies what is unread to b, giving the buffer back once all is read.
func (d *direction) take(b []byte) int {
	n := copy(b, d.buf[d.off:])
	d.off += n
	if d.off == len(d.buf) {
		d.drop()
	}
	return n
}

// drop gives the buffer back to bufs, with what it held unread.
func (d *direction) drop() {
	if d.box != nil {
		*d.box = d.buf[:0]
		bufs[bits.Len(uint(cap(d.buf))-1)-minBufBits].Put(d.box)
	}
	d.buf, d.off, d.box = nil, 0, nil
}

// bufs are the directions' buffers, by size: bufs[i] holds buffers of
// 1<<(minBufBits+i) bytes, up to Window (what a direction holds at most).
var bufs [maxBufBits - minBufBits + 1]sync.Pool

const (
	minBufBits = 9
	maxBufBits = 18 // Window
)

// getBuf returns a buffer of bufs of at least n bytes (n at most Window).
func getBuf(n int) *[]byte {
	i := max(bits.Len(uint(n-1)), minBufBits) - minBufBits
	if box, ok := bufs[i].Get().(*[]byte); ok {
		return box
	}
	b := make([]byte, 0, 1<<(minBufBits+i))
	return &b
}

// newPair makes a stream and its two ends.
func newPair(gone func(*pair)) (*pair, *Stream, *Stream) {
	p := &pair{gone: gone}
	return p, &Stream{p: p, me: 0}, &Stream{p: p, me: 1}
}

// The roles of a blocked call, and the waiters' indices in pair.wake.
const (
	reading = 0
	writing = 1
)

func waiter(end, role int) int { return end*2 + role }

// The changes of a direction, as bits naming the calls they wake: what its
// writer (end i of dir[i]) did wakes the reader at the other end; what its
// reader did wakes the writer.
func wroteTo(i int) uint8  { return 1 << waiter(1-i, reading) }
func readFrom(i int) uint8 { return 1 << waiter(i, writing) }

// allWaiters are the bits of every blocked call.
const allWaiters = 0b1111

// changed wakes the waiters whose bits are set in who and forgets the stream
// once it is over; p.mu is held.
func (p *pair) changed(who uint8) {
	for i, n := range p.waiting {
		if n > 0 && who&(1<<i) != 0 {
			p.signal(i)
		}
	}
	if !p.done && p.dir[0].over() && p.dir[1].over() {
		p.done = true
		p.dir[0].drop()
		p.dir[1].drop()
		if p.gone != nil {
			p.gone(p) // with p.mu held: the owner's lock comes after it
		}
	}
}

// wait blocks the call of index i in wake (waiter) until a change wakes it
// or d passes; p.mu is held, and held again on return. Lock order:
// pair.mu, then a deadline's or the connection's; never the other way.
func (p *pair) wait(i int, d *deadline) error {
	if p.wake[i] == nil {
		p.wake[i] = make(chan struct{}, 1)
	}
	w := p.wake[i]
	p.waiting[i]++
	expired := d.expired()
	p.mu.Unlock()
	var err error
	woken := false
	select {
	case <-w:
		woken = true
	case <-expired:
		err = os.ErrDeadlineExceeded
	}
	p.mu.Lock()
	p.waiting[i]--
	switch {
	case woken && p.waiting[i] > 0:
		p.signal(i) // the others waiting look again too
	case !woken && p.waiting[i] == 0:
		select { // a token given as the deadline passed: nobody is left for it
		case <-w:
		default:
		}
	}
	return err
}

// signal wakes the calls waiting on wake[i]: one takes the token, and
// passes it on; p.mu is held.
func (p *pair) signal(i int) {
	select {
	case p.wake[i] <- struct{}{}:
	default: // a token is there already
	}
}

// resetAll resets the directions not yet over (by end by, with code and
// cause): a direction that ended well keeps its EOF; p.mu is held.
func (p *pair) resetAll(by int, code network.StreamErrorCode, cause error) {
	r := &reset{by: by, code: code, cause: cause}
	for i := range p.dir {
		d := &p.dir[i]
		if !d.over() {
			d.reset = r
			d.drop()
		}
	}
	p.changed(allWaiters)
}

// Stream is one end of an in-memory stream: a network.MuxedStream.
type Stream struct {
	p          *pair
	me         int
	rdl, wdl   deadline
	closedOnce sync.Once
}

var _ network.MuxedStream = (*Stream)(nil)

func (s *Stream) in() *direction  { return &s.p.dir[1-s.me] }
func (s *Stream) out() *direction { return &s.p.dir[s.me] }

// Read reads what the other end wrote; io.EOF once it closed for writing and
// all is read.
func (s *Stream) Read(b []byte) (int, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		d := s.in()
		switch {
		case d.reset != nil:
			return 0, d.reset.err(s.me)
		case d.rclosed:
			return 0, ErrReadClosed
		case d.unread() > 0:
			n := d.take(b)
			p.changed(readFrom(1 - s.me))
			return n, nil
		case len(b) == 0:
			return 0, nil
		case d.wclosed:
			return 0, io.EOF
		}
		if err := p.wait(waiter(s.me, reading), &s.rdl); err != nil {
			return 0, err
		}
	}
}

// Write writes b to the other end, blocking while its unread bytes fill the
// window.
func (s *Stream) Write(b []byte) (int, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for {
		d := s.out()
		switch {
		case d.reset != nil:
			return n, d.reset.err(s.me)
		case d.wclosed:
			return n, ErrWriteClosed
		case d.rclosed:
			// The reader stopped reading: as a peer's STOP_SENDING.
			return n, &network.StreamError{ErrorCode: network.StreamNoError, Remote: true}
		case n == len(b):
			return n, nil
		}
		if room := Window - d.unread(); room > 0 {
			k := min(room, len(b)-n)
			d.add(b[n : n+k])
			n += k
			p.changed(wroteTo(s.me))
			continue
		}
		if err := p.wait(waiter(s.me, writing), &s.wdl); err != nil {
			return n, err
		}
	}
}

// CloseWrite ends what this end writes: the other end reads EOF after the
// bytes before it.
func (s *Stream) CloseWrite() error {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := s.out(); d.reset == nil && !d.wclosed {
		d.wclosed = true
		p.changed(wroteTo(s.me) | 1<<waiter(s.me, writing))
	}
	return nil
}

// CloseRead ends what this end reads: unread bytes are dropped and the other
// end's writes fail.
func (s *Stream) CloseRead() error {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := s.in(); d.reset == nil && !d.rclosed {
		d.rclosed = true
		d.drop()
		p.changed(readFrom(1-s.me) | 1<<waiter(s.me, reading))
	}
	return nil
}

// Close closes both directions of this end.
func (s *Stream) Close() error {
	s.CloseWrite()
	s.CloseRead()
	s.closedOnce.Do(func() { s.rdl.set(time.Time{}); s.wdl.set(time.Time{}) })
	return nil
}

// Reset resets the stream: calls at both ends fail.
func (s *Stream) Reset() error { return s.ResetWithError(network.StreamNoError) }

// ResetWithError resets the stream with code, which the other end's errors carry.
func (s *Stream) ResetWithError(code network.StreamErrorCode) error {
	p := s.p
	p.mu.Lock()
	p.resetAll(s.me, code, nil)
	p.mu.Unlock()
	s.closedOnce.Do(func() { s.rdl.set(time.Time{}); s.wdl.set(time.Time{}) })
	return nil
}

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	s.poke()
	return nil
}

// SetReadDeadline sets when a blocked or later Read fails with os.ErrDeadlineExceeded.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	s.poke()
	return nil
}

// SetWriteDeadline sets when a blocked or later Write fails with os.ErrDeadlineExceeded.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.wdl.set(t)
	s.poke()
	return nil
}

// poke wakes this end's blocked calls to wait again on new deadlines.
func (s *Stream) poke() {
	s.p.mu.Lock()
	s.p.changed(1<<waiter(s.me, reading) | 1<<waiter(s.me, writing))
	s.p.mu.Unlock()
}

// deadline is a time after which waits fail: a channel closed when it passes
// (by a timer, which runs nothing until it fires). A deadline moved before
// it passed keeps its channel and timer (stopped, then reset): streams kept
// open set one for every round trip, and a new timer, function and channel
// each time were a tenth of a send's allocations.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer // nil, or stopped (armed false) or armed to close c
	armed bool
	c     chan struct{} // nil: no deadline; open; closed: passed
}

// set moves the deadline to t (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.timer != nil && (!d.armed || d.timer.Stop()):
		// Stopped before it fired: c stays open, and both serve again
		// (an open c and a stopped timer: no deadline, for now).
		d.armed = false
	case d.timer != nil:
		<-d.c // it fired: wait for it to close the channel
		d.timer, d.armed, d.c = nil, false, nil
	case d.c != nil:
		select {
		case <-d.c:
			d.c = nil // passed; waiters on it have woken
		default:
		}
	}
	if t.IsZero() {
		return
	}
	if d.c == nil {
		d.c = make(chan struct{})
	}
	switch wait := time.Until(t); {
	case wait <= 0:
		close(d.c)
		d.timer, d.armed = nil, false // (stopped)
	case d.timer != nil:
		d.timer.Reset(wait)
		d.armed = true
	default:
		c := d.c
		d.timer, d.armed = time.AfterFunc(wait, func() { close(c) }), true
	}
}

// expired is a channel closed once the deadline passes (nil: none set).
func (d *deadline) expired() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}
