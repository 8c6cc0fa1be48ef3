package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/procstat"
	"github.com/sessionctl/sessionctl/node"

	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
)

// TestLevelEndsOnASend: a load level ends once its duration has passed and
// a send went through, not on the timer alone: a level far shorter than
// one send (as any is on a loaded machine) still measures sends.
func TestLevelEndsOnASend(t *testing.T) {
	nw := devnettest.Start(t, devnet.Config{Nodes: 4})
	lv, err := load(context.Background(), nw.LedgerURL(), 2, time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	if lv.Sends < 1 || lv.Fetches < 1 || lv.SendsPerSec <= 0 || lv.SendP50MS <= 0 {
		t.Fatalf("level %+v: want a send and a fetch measured", lv)
	}
}

// BenchmarkSend: sends and their fetches by 1, 8, then 64, clients at once on a quiet
// 12-node devnet (no blocks, no repair: only the sends' work); one op is a
// send and its fetch. It reports the process's CPU time a send
// (cpu-ms/send: clients, nodes and ledger, all cores) and the heap
// allocations a send, figures that hold better than wall time on a busy
// machine, and the voluntary context switches a send (ctxsw/send: a
// thread that went to sleep, mostly the runtime's idle processor after a
// goroutine hand-off woke it). The stores a send (stores/send: the
// members of the recipient's swarm and the sender's, 5 to 7 each, random
// at each run) move all of them: compare runs of the same stores. For a profile, and for instruction counts that do not depend
// on the machine's load at all (the difference of two runs, over the
// difference of their sends):
//
//	go test ./bench -run '^$' -bench Send -benchtime 400x -cpuprofile cpu.out
//	go test -c ./bench && GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind ./bench.test -test.run '^$' -test.bench Send/clients=8 -test.benchtime 20x
func BenchmarkSend(b *testing.B) {
	// Blocks only on demand (BlockTime 0).
	nw := devnettest.Start(b, devnet.Config{Nodes: 12,
		NodeConfig: func(_ int, c *node.Config) { c.RepairInterval = -1; c.ExpiryInterval = time.Hour }})
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchSend(b, nw, n) })
	}
}

func benchSend(b *testing.B, nw *devnet.Network, clients int) {
	ctx := context.Background()
	cs := make([]*client.Client, clients)
	for i := range cs {
		c, err := newClient(ctx, nw.LedgerURL())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	to := make([]identity.AccountID, clients)
	for i := range to {
		k, err := identity.NewAccount(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		to[i] = k.AccountID()
	}
	// Each client's first send makes its path and connections.
	for i, c := range cs {
		if _, err := c.Send(ctx, to[i], "bench"); err != nil {
			b.Fatal(err)
		}
	}
	var left, stores atomic.Int64
	left.Store(int64(b.N))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := procstat.CPUTime()
	vcs0, _ := procstat.ContextSwitches()
	b.ResetTimer()
	trace.Log(ctx, "bench", "start") // for a trace's analysis (-trace): the sends' span
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				res, err := c.Send(ctx, to[i], "bench")
				if err != nil {
					b.Error(err)
					return
				}
				stores.Add(int64(res.Stored + res.SyncStored))
				if _, _, err := c.Fetch(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	trace.Log(ctx, "bench", "stop")
	b.StopTimer()
	cpu := procstat.CPUTime() - cpu0
	vcs1, _ := procstat.ContextSwitches()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(ms(cpu)/float64(b.N), "cpu-ms/send")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/send")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/1024/float64(b.N), "KB/send")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
	b.ReportMetric(float64(vcs1-vcs0)/float64(b.N), "ctxsw/send")
	b.ReportMetric(float64(stores.Load())/float64(b.N), "stores/send")
}
