package devnet

import (
	"context"

	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/internal/p2phost"
)

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkUp: from Up to a written manifest for a fresh devnet (the chain,
// the registrations, every node started and its address on the ledger),
// and the heap each node adds.
func BenchmarkUp(b *testing.B) {
	for _, n := range []int{12, 100, 300} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var perNode float64
			for b.Loop() {
				dir := b.TempDir()
				before := heap()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				d, err := Up(ctx, UpConfig{Dir: dir, Nodes: n})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				perNode = float64(heap()-before) / float64(n)
				d.Close()
				b.StartTimer()
			}
			b.ReportMetric(perNode/1024, "KiB-heap/node")
		})
	}
}

// BenchmarkBareHosts is the floor: n libp2p hosts built as the nodes' are,
// started, and each connected to the next.
func BenchmarkBareHosts(b *testing.B) {
	for _, n := range []int{12, 100, 300} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			var perHost float64
			for b.Loop() {
				before := heap()
				hosts := make([]host.Host, n)
				var wg sync.WaitGroup
				sem := make(chan struct{}, 8)
				for i := range hosts {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer func() { <-sem; wg.Done() }()
						h, err := p2phost.New(derive("bare", "node", i), []string{"/ip4/127.0.0.1/tcp/0"})
						if err != nil {
							b.Error(err)
							return
						}
						hosts[i] = h
					}()
				}
				wg.Wait()
				for i, h := range hosts {
					next := hosts[(i+1)%n]
					if err := h.Connect(context.Background(), peer.AddrInfo{ID: next.ID(), Addrs: next.Addrs()}); err != nil && n > 1 {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				perHost = float64(heap()-before) / float64(n)
				for _, h := range hosts {
					h.Close()
				}
				b.StartTimer()
			}
			b.ReportMetric(perHost/1024, "KiB-heap/host")
		})
	}
}
