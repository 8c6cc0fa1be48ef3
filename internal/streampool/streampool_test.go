package streampool_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/streampool"
	"go.uber.org/goleak"
)

const framed, fallback = "/test/framed/2.0.0", "/test/plain/1.0.0"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair starts two hosts, the second reachable from the first in memory.
func pair(t *testing.T) (a, b host.Host) {
	t.Helper()
	var hs [2]host.Host
	for i := range hs {
		seed := make([]byte, 32)
		seed[0] = byte(i + 1)
		h, err := p2phost.New(ed25519.NewKeyFromSeed(seed), []string{"/ip4/127.0.0.1/tcp/0"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hs[i] = h
	}
	mem, err := memtransport.Addr(hs[1].ID())
	if err != nil {
		t.Fatal(err)
	}
	hs[0].Peerstore().AddAddr(hs[1].ID(), mem, time.Hour)
	return hs[0], hs[1]
}

// echoFramed serves framed: each request frame is answered with itself,
// reversed; streams counts the streams it was given.
func echoFramed(h host.Host, streams *atomic.Int64) {
	h.SetStreamHandler(framed, func(s network.Stream) {
		streams.Add(1)
		for {
			req, err := streampool.ReadFrame(s, 1<<20)
			if err != nil {
				s.Close()
				return
			}
			out := bytes.Clone(req)
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
			if streampool.WriteFrame(s, out) != nil {
				s.Reset()
				return
			}
		}
	})
}

func oneShot(t *testing.T) func(network.Stream) ([]byte, error) {
	return func(s network.Stream) ([]byte, error) {
		t.Error("fallback used for a peer that speaks the framed protocol")
		s.Reset()
		return nil, errors.New("fallback")
	}
}

// TestReuse: requests one after another go on one stream, each answered.
func TestReuse(t *testing.T) {
	a, b := pair(t)
	var streams atomic.Int64
	echoFramed(b, &streams)
	p := streampool.New(a)
	defer p.Close()
	ctx := context.Background()
	for _, req := range []string{"abc", "hello", "x"} {
		got, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte(req), 100, oneShot(t))
		if err != nil {
			t.Fatal(err)
		}
		want := []byte(req)
		for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
			want[i], want[j] = want[j], want[i]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if n := streams.Load(); n != 1 {
		t.Fatalf("%d streams for 3 requests one after another, want 1", n)
	}
}

// TestPooledAnswers: answers read into pooled buffers are whole, in
// buffers of their own until released, and one over its limit fails.
func TestPooledAnswers(t *testing.T) {
	a, b := pair(t)
	var streams atomic.Int64
	echoFramed(b, &streams)
	p := streampool.New(a)
	defer p.Close()
	ctx := context.Background()
	big := bytes.Repeat([]byte("ab"), 5000) // over a pooled buffer's first 4 KiB
	got1, box1, err := p.RoundTripHeadPooled(ctx, b.ID(), framed, fallback, []byte("x"), []byte("yz"), 100, oneShot(t))
	if err != nil || string(got1) != "zyx" || box1 == nil {
		t.Fatalf("answer %q, box %v, %v", got1, box1 != nil, err)
	}
	got2, box2, err := p.RoundTripHeadPooled(ctx, b.ID(), framed, fallback, nil, big, len(big), oneShot(t))
	if err != nil || len(got2) != len(big) || string(got2[:4]) != "baba" {
		t.Fatalf("answer of %d bytes, %v", len(got2), err)
	}
	if string(got1) != "zyx" {
		t.Fatalf("the first answer, held, became %q", got1)
	}
	streampool.Release(box1)
	streampool.Release(box2)
	if _, _, err := p.RoundTripHeadPooled(ctx, b.ID(), framed, fallback, nil, big, 10, oneShot(t)); !errors.Is(err, streampool.ErrFrame) {
		t.Fatalf("an answer over its limit: %v, want ErrFrame", err)
	}
	streampool.Release(nil)
}

// TestFallback: a peer that speaks only the fallback protocol is asked
// on a stream of its own.
func TestFallback(t *testing.T) {
	a, b := pair(t)
	b.SetStreamHandler(fallback, func(s network.Stream) {
		req, _ := io.ReadAll(s)
		s.Write(append([]byte("plain "), req...))
		s.Close()
	})
	p := streampool.New(a)
	defer p.Close()
	got, err := p.RoundTrip(context.Background(), b.ID(), framed, fallback, []byte("hi"), 100, func(s network.Stream) ([]byte, error) {
		defer s.Close()
		if s.Protocol() != fallback {
			t.Errorf("one-shot stream of %s", s.Protocol())
		}
		s.Write([]byte("hi"))
		s.CloseWrite()
		return io.ReadAll(s)
	})
	if err != nil || string(got) != "plain hi" {
		t.Fatalf("answer %q, %v; want %q", got, err, "plain hi")
	}
}

// TestBounds: an answer over the limit fails and its stream is not kept;
// of streams used at once, at most BurstIdlePerPeer stay idle, and past
// BurstIdleFor only MaxIdlePerPeer, until IdleFor.
func TestBounds(t *testing.T) {
	a, b := pair(t)
	var streams atomic.Int64
	echoFramed(b, &streams)
	p := streampool.New(a)
	defer p.Close()
	ctx := context.Background()
	if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, make([]byte, 101), 100, oneShot(t)); !errors.Is(err, streampool.ErrFrame) {
		t.Fatalf("an answer of 101 bytes with a limit of 100: %v, want ErrFrame", err)
	}
	if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte("ok"), 100, oneShot(t)); err != nil {
		t.Fatal(err)
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2: the one over the limit is not reused", n)
	}
	// 12 at once, each on a stream of its own (the handler answers none
	// until all have arrived): BurstIdlePerPeer are kept, for a while.
	q := streampool.New(a)
	defer q.Close()
	now := time.Now()
	streampool.SetClock(q, func() time.Time { return now })
	arrived, release := make(chan struct{}), make(chan struct{})
	b.SetStreamHandler(framed, func(s network.Stream) {
		for {
			req, err := streampool.ReadFrame(s, 1<<20)
			if err != nil {
				s.Close()
				return
			}
			arrived <- struct{}{}
			<-release
			streampool.WriteFrame(s, req)
		}
	})
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := q.RoundTrip(ctx, b.ID(), framed, fallback, []byte("x"), 100, oneShot(t)); err != nil {
				t.Error(err)
			}
		})
	}
	for range 12 {
		<-arrived
	}
	close(release)
	wg.Wait()
	if n := q.Idle(); n != streampool.BurstIdlePerPeer {
		t.Fatalf("%d streams idle after 12 at once, want %d", n, streampool.BurstIdlePerPeer)
	}
	now = now.Add(streampool.BurstIdleFor)
	q.Sweep()
	if n := q.Idle(); n != streampool.MaxIdlePerPeer {
		t.Fatalf("%d streams idle past BurstIdleFor, want %d", n, streampool.MaxIdlePerPeer)
	}
	now = now.Add(streampool.IdleFor)
	q.Sweep()
	if n := q.Idle(); n != 0 {
		t.Fatalf("%d streams idle past IdleFor, want 0", n)
	}
	// Closed, the pool keeps none.
	q.Close()
	if n := q.Idle(); n != 0 {
		t.Fatalf("%d idle after Close", n)
	}
}

// TestClosedConnection: a stream whose connection closed is not used again.
func TestClosedConnection(t *testing.T) {
	a, b := pair(t)
	var streams atomic.Int64
	echoFramed(b, &streams)
	p := streampool.New(a)
	defer p.Close()
	ctx := context.Background()
	if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte("1"), 100, oneShot(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.Network().ClosePeer(b.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte("2"), 100, oneShot(t)); err != nil {
		t.Fatalf("after the connection closed: %v", err)
	}
	if n := streams.Load(); n != 2 {
		t.Fatalf("%d streams, want 2", n)
	}
}

// TestTimedSweep: a stream put back idle is closed when its time is up
// by a timer the pool set (nobody using the pool meanwhile), and Close
// cancels a timer that is due.
func TestTimedSweep(t *testing.T) {
	a, b := pair(t)
	var streams atomic.Int64
	echoFramed(b, &streams)
	p := streampool.New(a)
	defer p.Close()
	now := time.Now()
	streampool.SetClock(p, func() time.Time { return now })
	type timer struct {
		d       time.Duration
		f       func()
		stopped bool
	}
	var timers []*timer
	streampool.SetTimer(p, func(d time.Duration, f func()) func() bool {
		tm := &timer{d: d, f: f}
		timers = append(timers, tm)
		return func() bool { tm.stopped = true; return true }
	})
	ctx := context.Background()
	for range 2 { // the second takes the first's stream: one timer, still due
		if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte("x"), 100, oneShot(t)); err != nil {
			t.Fatal(err)
		}
	}
	if len(timers) != 1 || timers[0].d != streampool.IdleFor || p.Idle() != 1 {
		t.Fatalf("timers %+v, %d idle; want one of IdleFor for the idle stream", timers, p.Idle())
	}
	now = now.Add(streampool.IdleFor)
	timers[0].f()
	if n := p.Idle(); n != 0 || len(timers) != 1 {
		t.Fatalf("after the timed sweep: %d idle, %d timers; want 0 and no new one", n, len(timers))
	}
	if _, err := p.RoundTrip(ctx, b.ID(), framed, fallback, []byte("x"), 100, oneShot(t)); err != nil {
		t.Fatal(err)
	}
	if len(timers) != 2 {
		t.Fatalf("%d timers, want a second for the new idle stream", len(timers))
	}
	p.Close()
	if !timers[1].stopped {
		t.Fatal("Close left the due sweep's timer running")
	}
}

// TestSendIdle: SendIdle sends only on an idle stream (nothing, and no
// stream opened, without one); requests to two peers sent one after the
// other are answered in turn, their streams put back; an answer over the
// limit, or past the deadline, fails and its stream is not kept.
func TestSendIdle(t *testing.T) {
	a, b := pair(t)
	seed := make([]byte, 32)
	seed[0] = 3
	c, err := p2phost.New(ed25519.NewKeyFromSeed(seed), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mem, err := memtransport.Addr(c.ID())
	if err != nil {
		t.Fatal(err)
	}
	a.Peerstore().AddAddr(c.ID(), mem, time.Hour)
	var streams atomic.Int64
	echoFramed(b, &streams)
	echoFramed(c, &streams)
	p := streampool.New(a)
	defer p.Close()
	ctx := context.Background()
	if _, ok, err := p.SendIdle(ctx, b.ID(), framed, nil, []byte("x")); ok || err != nil {
		t.Fatalf("SendIdle without an idle stream: ok %v, %v; want false, nil", ok, err)
	}
	if n := streams.Load(); n != 0 {
		t.Fatalf("%d streams opened by SendIdle, want 0", n)
	}
	for _, h := range []host.Host{b, c} {
		if _, err := p.RoundTrip(ctx, h.ID(), framed, fallback, []byte("x"), 100, oneShot(t)); err != nil {
			t.Fatal(err)
		}
	}
	cb, ok, err := p.SendIdle(ctx, b.ID(), framed, []byte("a"), []byte("bc"))
	if !ok || err != nil {
		t.Fatalf("SendIdle to b: ok %v, %v", ok, err)
	}
	cc, ok, err := p.SendIdle(ctx, c.ID(), framed, nil, []byte("hello"))
	if !ok || err != nil {
		t.Fatalf("SendIdle to c: ok %v, %v", ok, err)
	}
	if n := p.Idle(); n != 0 {
		t.Fatalf("%d idle while both wait for their answers, want 0", n)
	}
	for _, w := range []struct {
		c    streampool.Call
		want string
	}{{cb, "cba"}, {cc, "olleh"}} {
		got, err := w.c.Answer(100)
		if err != nil || string(got) != w.want {
			t.Fatalf("answer %q, %v; want %q", got, err, w.want)
		}
	}
	if n, s := p.Idle(), streams.Load(); n != 2 || s != 2 {
		t.Fatalf("%d idle, %d streams; want both streams back, and no other", n, s)
	}
	// Over the limit: an error, and the stream dropped.
	cb, ok, err = p.SendIdle(ctx, b.ID(), framed, nil, []byte("hello"))
	if !ok || err != nil {
		t.Fatalf("SendIdle to b: ok %v, %v", ok, err)
	}
	if _, err := cb.Answer(3); !errors.Is(err, streampool.ErrFrame) {
		t.Fatalf("an answer of 5 bytes with a limit of 3: %v, want ErrFrame", err)
	}
	if n := p.Idle(); n != 1 {
		t.Fatalf("%d idle, want 1: the stream over the limit is not kept", n)
	}
	// Past the deadline (c answers nothing more): the deadline's error.
	c.SetStreamHandler(framed, func(s network.Stream) {
		streampool.ReadFrame(s, 1<<20)
		streampool.WriteFrame(s, []byte("first"))
		io.Copy(io.Discard, s)
		s.Close()
	})
	q := streampool.New(a) // a stream of its own, to that handler
	defer q.Close()
	if _, err := q.RoundTrip(ctx, c.ID(), framed, fallback, []byte("x"), 100, oneShot(t)); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	cc, ok, err = q.SendIdle(dctx, c.ID(), framed, nil, []byte("x"))
	if !ok || err != nil {
		t.Fatalf("SendIdle to c: ok %v, %v", ok, err)
	}
	if _, err := cc.Answer(100); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an answer past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if n := q.Idle(); n != 0 {
		t.Fatalf("%d idle, want 0: the stream past its deadline is not kept", n)
	}
}
