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
	"github.com/sessionctl/sessionctl/ledger"
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

// BenchmarkTestingRound100: one testing round of a 100-node devnet: from
// the block that draws the quorums until every member's vote on every
// target is on the ledger (2 quorums of 10 members, about 45 targets each:
// about 900 tests of the storage RPC, the onion hop and the storage test).
func BenchmarkTestingRound100(b *testing.B) {
	p := ledger.DefaultParams()
	p.RoundBlocks = 200 // room for the votes while blocks are made on demand
	nw := StartT(b, Config{Nodes: 100, Params: &p})
	ctx := context.Background()
	mineTo := func(h uint64) {
		for nw.Ledger.Info().Height < h {
			if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
				b.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond) // nodes commit and reveal between blocks
		}
	}
	var tests int
	for b.Loop() {
		b.StopTimer()
		r := p.RoundOf(nw.Ledger.Info().Height) + 1
		mineTo(r*p.RoundBlocks + p.CommitBlocks + p.RevealBlocks)
		rd, _ := nw.Ledger.RoundAt(r * p.RoundBlocks)
		want := 0
		for _, q := range rd.Quorums {
			want += len(q.Members) * len(q.Targets)
		}
		tests = want
		b.StartTimer()
		for {
			if _, err := nw.Ledger.Mine(ctx, 1); err != nil {
				b.Fatal(err)
			}
			rd, _ = nw.Ledger.RoundAt(r * p.RoundBlocks)
			if len(rd.Votes) >= want {
				break
			}
			if nw.Ledger.Info().Height >= (r+1)*p.RoundBlocks-1 {
				b.Fatalf("round %d ended with %d of %d votes", r, len(rd.Votes), want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(tests), "tests/round")
}
