package devnet

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/procstat"
)

// upSizes are the devnet sizes BenchmarkUp measures; BENCH_UP_NODES
// (comma-separated) picks others.
func upSizes() []int {
	v := os.Getenv("BENCH_UP_NODES")
	if v == "" {
		return []int{12, 100, 1000, 2000}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// settleMemory collects garbage and returns what it can to the OS, so that
// the RSS read next is what is live.
func settleMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// BenchmarkUp: from Up to a written manifest for a fresh devnet (the chain,
// the registrations, every node started and its address on the ledger),
// beside the floor measured in the same run: as many bare libp2p hosts,
// built as the nodes' are, each connected to 6 others (bareHosts). It
// reports time to ready, the RSS and open files the devnet adds, per node
// too, and the ratio of its time to the floor's. The process runs with the
// memory limit `devnet up` sets (3 GiB). Not a timed test:
//
//	go test ./devnet -run '^$' -bench Up -benchtime 1x -timeout 30m
//	BENCH_UP_NODES=12,100 go test ./devnet -run '^$' -bench Up -benchtime 1x
func BenchmarkUp(b *testing.B) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	for _, n := range upSizes() {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var ready, floor time.Duration
			var rss, files float64
			for b.Loop() {
				b.StopTimer()
				floor = bareHosts(b, n)
				settleMemory()
				rss0, fd0 := rssMB(), openFiles()
				b.StartTimer()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				d, err := Up(ctx, UpConfig{Dir: b.TempDir(), Nodes: n, BlockTime: BlockTimeManual})
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				ready = time.Since(start)
				b.StopTimer()
				rss, files = rssMB()-rss0, float64(openFiles()-fd0)
				d.Close()
				settleMemory()
				b.StartTimer()
			}
			b.ReportMetric(ready.Seconds(), "s-ready")
			b.ReportMetric(floor.Seconds(), "s-bare-hosts")
			b.ReportMetric(ready.Seconds()/floor.Seconds(), "ratio-to-bare")
			b.ReportMetric(rss, "MB-RSS")
			b.ReportMetric(rss*1024/float64(n), "KB-RSS/node")
			b.ReportMetric(files, "files")
			b.ReportMetric(files/float64(n), "files/node")
		})
	}
}

// bareHosts is the floor of BenchmarkUp (p2phost.Floor).
func bareHosts(b *testing.B, n int) time.Duration {
	d, err := p2phost.Floor(context.Background(), n)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkTestingRound100: one testing round of a 100-node devnet: from
// the block that draws the quorums until every member's vote on every
// target is on the ledger (2 quorums of 10 members, about 45 targets each:
// about 900 tests of the storage RPC, the onion hop and the storage test).
func BenchmarkTestingRound100(b *testing.B) {
	p := chain.DefaultParams()
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

// BenchmarkStartStop: Up of a fresh 12-node devnet as `sessionctl bench`
// starts it (default block time, no clients), then its Close, again and
// again: what a profile of the start reads (-cpuprofile, -trace). It
// reports time to ready and the process's CPU time over it (the medians
// of the runs: their ratio says how much of the start's wall time the
// CPUs were busy), beside Close's time; and the least time to ready, the
// figure that holds best on a machine shared with other work.
//
//	go test ./devnet -run '^$' -bench StartStop -benchtime 30x -cpuprofile up.prof
func BenchmarkStartStop(b *testing.B) {
	var ready, cpu, closing []time.Duration
	for b.Loop() {
		start, cpu0 := time.Now(), procstat.CPUTime()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		d, err := Up(ctx, UpConfig{Dir: b.TempDir(), Nodes: 12, Clients: []string{}})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		ready = append(ready, time.Since(start))
		cpu = append(cpu, procstat.CPUTime()-cpu0)
		start = time.Now()
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		closing = append(closing, time.Since(start))
	}
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000
	}
	b.ReportMetric(float64(slices.Min(ready).Microseconds())/1000, "ms-ready-min")
	b.ReportMetric(median(ready), "ms-ready-p50")
	b.ReportMetric(median(cpu), "cpu-ms-ready-p50")
	b.ReportMetric(median(closing), "ms-close-p50")
}
