package memtransport

import (
	"errors"
	"io"
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
// on the wake channel, which the next change of state closes, or on its
// end's deadline.
type pair struct {
	mu   sync.Mutex
	dir  [2]direction  // dir[i] carries what end i writes to end 1-i
	wake chan struct{} // nil while nobody waits
	// gone is called once, when both directions are over (closed at both
	// ends, or reset), to forget the stream; may be nil.
	gone func(*pair)
	done bool
}

// direction is one half of a stream.
type direction struct {
	buf     []byte
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
	return d.reset != nil || (d.wclosed && (d.rclosed || len(d.buf) == 0))
}

// newPair makes a stream and its two ends.
func newPair(gone func(*pair)) (*pair, *Stream, *Stream) {
	p := &pair{gone: gone}
	return p, &Stream{p: p, me: 0}, &Stream{p: p, me: 1}
}

// changed wakes every waiter and forgets the stream once it is over; p.mu is held.
func (p *pair) changed() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
	if !p.done && p.dir[0].over() && p.dir[1].over() {
		p.done = true
		p.dir[0].buf, p.dir[1].buf = nil, nil
		if p.gone != nil {
			p.gone(p) // with p.mu held: the owner's lock comes after it
		}
	}
}

// wait blocks until the stream changes or d passes; p.mu is held, and held
// again on return. Lock order: pair.mu, then a deadline's or the
// connection's; never the other way.
func (p *pair) wait(d *deadline) error {
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	w := p.wake
	expired := d.expired()
	p.mu.Unlock()
	var err error
	select {
	case <-w:
	case <-expired:
		err = os.ErrDeadlineExceeded
	}
	p.mu.Lock()
	return err
}

// resetAll resets the directions not yet over (by end by, with code and
// cause): a direction that ended well keeps its EOF; p.mu is held.
func (p *pair) resetAll(by int, code network.StreamErrorCode, cause error) {
	r := &reset{by: by, code: code, cause: cause}
	for i := range p.dir {
		d := &p.dir[i]
		if !d.over() {
			d.reset = r
			d.buf = nil
		}
	}
	p.changed()
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
		case len(d.buf) > 0:
			n := copy(b, d.buf)
			d.buf = d.buf[n:]
			if len(d.buf) == 0 {
				d.buf = nil
			}
			p.changed()
			return n, nil
		case len(b) == 0:
			return 0, nil
		case d.wclosed:
			return 0, io.EOF
		}
		if err := p.wait(&s.rdl); err != nil {
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
		if room := Window - len(d.buf); room > 0 {
			k := min(room, len(b)-n)
			d.buf = append(d.buf, b[n:n+k]...)
			n += k
			p.changed()
			continue
		}
		if err := p.wait(&s.wdl); err != nil {
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
		p.changed()
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
		d.buf = nil
		p.changed()
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

// poke wakes this stream's blocked calls to wait again on new deadlines.
func (s *Stream) poke() {
	s.p.mu.Lock()
	s.p.changed()
	s.p.mu.Unlock()
}

// deadline is a time after which waits fail: a channel closed when it passes
// (by a timer, which runs nothing until it fires).
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	c     chan struct{} // nil: no deadline; closed: passed
}

// set moves the deadline to t (zero: none).
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		if !d.timer.Stop() {
			<-d.c // it fired: wait for it to close the channel
		}
		d.timer = nil
	}
	if d.c != nil {
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
	if wait := time.Until(t); wait <= 0 {
		close(d.c)
	} else {
		c := d.c
		d.timer = time.AfterFunc(wait, func() { close(c) })
	}
}

// expired is a channel closed once the deadline passes (nil: none set).
func (d *deadline) expired() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}
