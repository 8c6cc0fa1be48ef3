//go:build unix

package memtransport_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/p2phost"
)

// BenchmarkRing connects 200 hosts of one process in a ring, in memory,
// with an echo round trip on each connection, and reports what a
// connection's end costs: goroutines and live heap (issue 35).
func BenchmarkRing(b *testing.B) {
	const n = 200
	for range b.N {
		hosts := make([]host.Host, n)
		for i := range hosts {
			h, err := p2phost.New(key(byte(i)), []string{"/ip4/127.0.0.1/tcp/0"})
			if err != nil {
				b.Fatal(err)
			}
			h.SetStreamHandler("/echo", func(s network.Stream) { io.Copy(s, s); s.Close() })
			hosts[i] = h
		}
		g0, h0, s0 := settle()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, h := range hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = echoOnce(h, hosts[(i+1)%n])
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		g1, h1, s1 := settle()
		ends := float64(2 * n)
		b.ReportMetric(float64(g1-g0)/ends, "goroutines/end")
		b.ReportMetric(float64(int64(h1)-int64(h0))/ends, "heap-B/end")
		b.ReportMetric(float64(int64(s1)-int64(s0))/ends, "stack-B/end")
		for _, h := range hosts {
			h.Close()
		}
	}
}

// BenchmarkConnect measures the CPU a new in-memory connection between two
// hosts costs with its first stream's round trip.
func BenchmarkConnect(b *testing.B) {
	a := newHostB(b, 201)
	o := newHostB(b, 202)
	o.SetStreamHandler("/echo", func(s network.Stream) { io.Copy(s, s); s.Close() })
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for range b.N {
		if err := echoOnce(a, o); err != nil {
			b.Fatal(err)
		}
		a.Network().ClosePeer(o.ID())
	}
	b.StopTimer()
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds()), "cpu-us/op")
}

func newHostB(b *testing.B, k byte) host.Host {
	h, err := p2phost.New(key(k), []string{"/ip4/127.0.0.1/tcp/0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

func echoOnce(h, o host.Host) error {
	a, err := memtransport.Addr(o.ID())
	if err != nil {
		return err
	}
	// Only the in-memory address, as a node dials a peer of its process
	// (identify adds the TCP one).
	h.Peerstore().ClearAddrs(o.ID())
	h.Peerstore().AddAddr(o.ID(), a, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, o.ID(), "/echo")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("ping")); err != nil {
		return err
	}
	s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "ping" {
		return fmt.Errorf("echo: %q, %v", got, err)
	}
	return nil
}

// settle waits for the goroutines of finished streams to end and returns
// the goroutine count, the live heap after a collection and the stacks.
func settle() (int, uint64, uint64) {
	var g int
	for range 50 {
		runtime.GC()
		g = runtime.NumGoroutine()
		time.Sleep(20 * time.Millisecond)
		if runtime.NumGoroutine() == g {
			break
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc, m.StackInuse
}
