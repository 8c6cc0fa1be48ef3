package memtransport

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

func streams(t *testing.T) (*pair, *Stream, *Stream, *int) {
	t.Helper()
	gone := 0
	p, a, b := newPair(func(*pair) { gone++ })
	return p, a, b, &gone
}

func TestStreamHalfClose(t *testing.T) {
	_, a, b, gone := streams(t)
	if _, err := a.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	a.CloseWrite()
	if _, err := a.Write([]byte("more")); !errors.Is(err, ErrWriteClosed) {
		t.Fatalf("write after CloseWrite: %v", err)
	}
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "request" {
		t.Fatalf("read: %q, %v", got, err)
	}
	// The other direction still works after the first closed.
	if _, err := b.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if *gone != 0 {
		t.Fatal("the stream was forgotten with bytes unread")
	}
	got, err = io.ReadAll(a)
	if err != nil || string(got) != "response" {
		t.Fatalf("read back: %q, %v", got, err)
	}
	// Both directions ended (closed and read to EOF): nothing more can
	// pass, and the stream is forgotten.
	if *gone != 1 {
		t.Fatalf("gone called %d times after both directions ended", *gone)
	}
	a.Close()
	// A reset after a stream ended well changes nothing.
	a.Reset()
	if n, err := b.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read of a closed end: %d, %v", n, err)
	}
	if *gone != 1 {
		t.Fatalf("gone called %d times", *gone)
	}
}

func TestStreamCloseRead(t *testing.T) {
	_, a, b, _ := streams(t)
	a.Write([]byte("unread"))
	b.CloseRead()
	if _, err := b.Read(make([]byte, 8)); !errors.Is(err, ErrReadClosed) {
		t.Fatalf("read after CloseRead: %v", err)
	}
	var se *network.StreamError
	if _, err := a.Write([]byte("x")); !errors.As(err, &se) || !se.Remote {
		t.Fatalf("write to a stream closed for reading: %v", err)
	}
	// b can still write.
	b.Write([]byte("still"))
	b.CloseWrite()
	if got, err := io.ReadAll(a); err != nil || string(got) != "still" {
		t.Fatalf("read: %q, %v", got, err)
	}
}

func TestStreamReset(t *testing.T) {
	_, a, b, gone := streams(t)
	b.Write([]byte("pending"))
	read := make(chan error, 1)
	go func() { _, err := b.Read(make([]byte, 8)); read <- err }()
	a.ResetWithError(network.StreamProtocolViolation)
	var se *network.StreamError
	if err := <-read; !errors.As(err, &se) || !se.Remote || se.ErrorCode != network.StreamProtocolViolation {
		t.Fatalf("the other end's blocked read: %v", err)
	}
	if !errors.Is(se, network.ErrReset) {
		t.Fatal("a reset is not network.ErrReset")
	}
	if _, err := b.Write([]byte("x")); !errors.As(err, &se) || !se.Remote {
		t.Fatalf("the other end's write: %v", err)
	}
	if _, err := a.Read(make([]byte, 8)); !errors.As(err, &se) || se.Remote {
		t.Fatalf("the resetting end's read: %v (pending bytes must be dropped)", err)
	}
	if _, err := a.Write([]byte("x")); !errors.As(err, &se) || se.Remote {
		t.Fatalf("the resetting end's write: %v", err)
	}
	if *gone != 1 {
		t.Fatalf("gone called %d times after a reset", *gone)
	}
	b.Close()
	a.Reset()
	if *gone != 1 {
		t.Fatalf("gone called %d times", *gone)
	}
}

// Reading all and then resetting (a handler's deferred Reset) keeps the
// other end's EOF on what it wrote and closed.
func TestStreamResetAfterEOF(t *testing.T) {
	_, a, b, _ := streams(t)
	b.Write([]byte("reply"))
	b.CloseWrite()
	if got, _ := io.ReadAll(a); string(got) != "reply" {
		t.Fatalf("read %q", got)
	}
	a.Write([]byte("x"))
	a.Reset()
	var se *network.StreamError
	if _, err := b.Read(make([]byte, 1)); !errors.As(err, &se) {
		t.Fatalf("the unfinished direction: %v", err)
	}
	if _, err := a.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the finished direction: %v", err)
	}
}

func TestStreamDeadlines(t *testing.T) {
	_, a, b, _ := streams(t)
	// A deadline passed: reads fail at once, and work again once cleared.
	a.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	b.Write([]byte("y"))
	if n, err := a.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing: %d, %v", n, err)
	}
	// A blocked read wakes when a deadline is set that has passed.
	read := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 1)); read <- err }()
	a.SetDeadline(time.Now().Add(-time.Second))
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked read: %v", err)
	}
	// A deadline in the future passes while blocked (a timer, not a poll).
	a.SetDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	// Moving a future deadline later keeps the wait going; then data comes.
	a.SetDeadline(time.Now().Add(time.Hour))
	a.SetDeadline(time.Now().Add(2 * time.Hour))
	go b.Write([]byte("z"))
	if n, err := a.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	a.Close()
	b.Close()
}

// A deadline's timer serves again once moved or cleared before it passed,
// and a cleared one can be set again (a stopped timer is not waited for).
func TestDeadlineReused(t *testing.T) {
	_, a, b, _ := streams(t)
	defer b.Close()
	for range 3 {
		a.SetReadDeadline(time.Now().Add(time.Hour))
		a.SetReadDeadline(time.Time{})
	}
	a.SetReadDeadline(time.Now().Add(time.Hour))
	timer := a.rdl.timer
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if a.rdl.timer != timer {
		t.Fatal("a deadline moved before it passed made a new timer")
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	// Passed: the next deadline starts afresh, and clearing it works.
	a.SetReadDeadline(time.Now().Add(time.Hour))
	a.SetReadDeadline(time.Time{})
	go b.Write([]byte("x"))
	if n, err := a.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read: %d, %v", n, err)
	}
	a.Close()
}

// A blocked read wakes for what its direction's writer does, not for the
// other end reading what it was sent, nor for the other end's deadlines.
func TestStreamWakesOnlyItsWaiter(t *testing.T) {
	p, a, b, _ := streams(t)
	defer a.Close()
	defer b.Close()
	if _, err := a.Write([]byte("request")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, _ := a.Read(buf)
		got <- string(buf[:n])
	}()
	waiting := func() (chan struct{}, int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		i := waiter(0, reading)
		return p.wake[i], p.waiting[i]
	}
	for _, n := waiting(); n == 0; _, n = waiting() { // until a's read waits
		time.Sleep(time.Millisecond)
	}
	w, _ := waiting()
	if _, err := b.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	b.SetDeadline(time.Now().Add(time.Hour))
	b.SetReadDeadline(time.Time{})
	if len(w) != 0 {
		t.Fatal("a's blocked read was woken by b's read or deadlines")
	}
	if _, err := b.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "answer" {
		t.Fatalf("read %q", s)
	}
}

// A writer blocks while the reader holds a full window, and a write
// deadline ends the wait with what was written.
func TestStreamFlowControl(t *testing.T) {
	_, a, b, _ := streams(t)
	big := make([]byte, 3*Window)
	rand.Read(big)
	a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := a.Write(big)
	if n != Window || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a full window: %d, %v", n, err)
	}
	a.SetWriteDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := a.Write(big[n:])
		a.CloseWrite()
		done <- err
	}()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Both ends write and read at once, in odd sizes (run with -race).
func TestStreamConcurrent(t *testing.T) {
	_, a, b, gone := streams(t)
	data := [2][]byte{make([]byte, 1<<20+7), make([]byte, 3<<19+1)}
	rand.Read(data[0])
	rand.Read(data[1])
	ends := [2]*Stream{a, b}
	var wg sync.WaitGroup
	got := [2][]byte{}
	errs := make(chan error, 4)
	for i, s := range ends {
		wg.Add(2)
		go func() {
			defer wg.Done()
			rest := data[i]
			for len(rest) > 0 {
				k := min(len(rest), 1+len(rest)%9973)
				if _, err := s.Write(rest[:k]); err != nil {
					errs <- err
					return
				}
				rest = rest[k:]
			}
			s.CloseWrite()
		}()
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			_, err := io.CopyBuffer(&buf, s, make([]byte, 4093))
			if err != nil {
				errs <- err
			}
			got[i] = buf.Bytes()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1], data[0]) || !bytes.Equal(got[0], data[1]) {
		t.Fatal("the bytes differ")
	}
	a.Close()
	b.Close()
	if *gone != 1 {
		t.Fatalf("gone %d", *gone)
	}
}

// A connection's close resets its streams: blocked reads and writes wake.
func TestStreamResetByConnection(t *testing.T) {
	p, a, b, _ := streams(t)
	a.Write(make([]byte, Window))
	errs := make(chan error, 2)
	go func() { _, err := a.Write([]byte("blocked")); errs <- err }()
	go func() { _, err := a.Read(make([]byte, 1)); errs <- err }()
	cause := errors.New("connection closed")
	p.mu.Lock()
	p.resetAll(0, network.StreamNoError, cause)
	p.mu.Unlock()
	for range 2 {
		if err := <-errs; !errors.Is(err, cause) || !errors.Is(err, network.ErrReset) {
			t.Fatalf("blocked call: %v", err)
		}
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, cause) {
		t.Fatalf("read: %v", err)
	}
}

// A write's bytes are copied (the caller may reuse them once Write
// returns); a direction drained, or grown past its buffer, holds only
// what is unread, and gives its buffer back once all is read.
func TestStreamBuffers(t *testing.T) {
	p, a, b, _ := streams(t)
	msg := []byte("hello")
	a.Write(msg)
	copy(msg, "XXXXX") // the caller reuses its buffer: the stream must hold its own copy
	big := make([]byte, 3000)
	rand.Read(big)
	a.Write(big) // past the first buffer's 512 bytes, with 5 unread
	got := make([]byte, 3)
	if n, err := b.Read(got); n != 3 || err != nil || string(got) != "hel" {
		t.Fatalf("read %q, %v", got[:n], err)
	}
	rest := make([]byte, 4000)
	n, err := b.Read(rest)
	if err != nil || !bytes.Equal(rest[:n], append([]byte("lo"), big...)) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if d := &p.dir[0]; d.buf != nil || d.box != nil || d.off != 0 {
		t.Fatalf("drained direction holds %d bytes", cap(d.buf))
	}
}

// Calls blocked on one end at once all wake for the change they wait for
// (one token, passed on), and a deadline ends only its own call's wait.
func TestStreamManyWaiters(t *testing.T) {
	p, a, b, _ := streams(t)
	defer a.Close()
	defer b.Close()
	const readers = 4
	got := make(chan string, readers)
	for range readers {
		go func() {
			buf := make([]byte, 1)
			n, err := a.Read(buf)
			if err != nil {
				got <- err.Error()
				return
			}
			got <- string(buf[:n])
		}()
	}
	for { // until all four wait: one write then wakes them all
		p.mu.Lock()
		n := p.waiting[waiter(0, reading)]
		p.mu.Unlock()
		if n == readers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.Write([]byte("abcd"))
	seen := map[string]bool{}
	for range readers {
		seen[<-got] = true
	}
	if len(seen) != readers {
		t.Fatalf("reads got %v", seen)
	}
	// A read past its deadline fails; the next one still wakes for data.
	a.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	go b.Write([]byte("z"))
	buf := make([]byte, 1)
	if n, err := a.Read(buf); n != 1 || err != nil || buf[0] != 'z' {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}
