package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/p2phost"
	"github.com/sessionctl/sessionctl/internal/procstat"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/storagerpc"
)

func openFiles() int { return procstat.OpenFiles() }

func rssMB() float64 { return procstat.RSSMB() }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSoak keeps a devnet under traffic (the devnet's own --traffic and
// SOAK_SENDERS clients sending and fetching as fast as they can) for
// SOAK_DURATION (default 3m) with SOAK_NODES nodes (default 100), and
// reports open files and RSS at the start and the end, per node too: they
// must plateau, not grow; at the end, what the RSS is made of per node (the
// live heap, goroutine stacks, goroutines) and the CPUs busy on average.
// It samples every 30 s on stderr. Not a timed test:
//
//	SOAK_NODES=300 SOAK_DURATION=10m go test ./devnet -run '^$' -bench Soak -benchtime 1x -timeout 30m
func BenchmarkSoak(b *testing.B) {
	nodes := envInt("SOAK_NODES", 100)
	senders := envInt("SOAK_SENDERS", 4)
	dur := 3 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("SOAK_DURATION")); err == nil {
		dur = d
	}
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		d, err := Up(ctx, UpConfig{Dir: b.TempDir(), Nodes: nodes, Traffic: true})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		fd0, rss0 := openFiles(), rssMB()
		heapProfile("start")
		fmt.Fprintf(os.Stderr, "soak %d nodes: start: %d open files, %.0f MB RSS\n", nodes, fd0, rss0)
		ctx, cancel = context.WithTimeout(context.Background(), dur)
		var sent, failed atomic.Int64
		var wg sync.WaitGroup
		lc := ledgerrpc.NewClient(d.Network.LedgerURL(), "")
		for i := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				me, _ := client.New(client.Config{Keys: ClientKeys("soak", fmt.Sprint("sender-", i)), Ledger: lc})
				to, _ := client.New(client.Config{Keys: ClientKeys("soak", fmt.Sprint("recipient-", i)), Ledger: lc})
				if me.Start(ctx) != nil || to.Start(ctx) != nil {
					return
				}
				defer me.Close()
				defer to.Close()
				for ctx.Err() == nil {
					if _, err := me.Send(ctx, to.AccountID(), "soak"); err != nil {
						failed.Add(1)
					} else {
						sent.Add(1)
					}
					to.Fetch(ctx)
				}
			}()
		}
		tick := time.NewTicker(30 * time.Second)
		start, cpu0 := time.Now(), procstat.CPUTime()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
				fmt.Fprintf(os.Stderr, "soak %d nodes: %v: %d open files, %.0f MB RSS, %d sent, %d failed\n",
					nodes, time.Since(start).Round(time.Second), openFiles(), rssMB(), sent.Load(), failed.Load())
			}
		}
		tick.Stop()
		wg.Wait()
		cancel()
		fd1, rss1 := openFiles(), rssMB()
		heap, stacks, goroutines := goMemory() // before the devnet closes
		heapProfile("end")
		fmt.Fprintf(os.Stderr, "soak %d nodes: end after %v: %d open files, %.0f MB RSS, %d sent, %d failed\n", nodes, dur, fd1, rss1, sent.Load(), failed.Load())
		b.ReportMetric(float64(fd0), "files-start")
		b.ReportMetric(float64(fd1), "files-end")
		b.ReportMetric(float64(fd1)/float64(nodes), "files/node")
		b.ReportMetric(rss0, "MB-RSS-start")
		b.ReportMetric(rss1, "MB-RSS-end")
		b.ReportMetric(rss1/float64(nodes), "MB-RSS/node")
		b.ReportMetric(heap/float64(nodes), "MB-heap/node")
		b.ReportMetric(stacks/float64(nodes), "MB-stacks/node")
		b.ReportMetric(float64(goroutines)/float64(nodes), "goroutines/node")
		b.ReportMetric((procstat.CPUTime()-cpu0).Seconds()/time.Since(start).Seconds(), "CPUs-busy")
		b.ReportMetric(float64(sent.Load()), "sent")
		d.Close()
	}
}

// goMemory is the live heap and the goroutine stacks, in MB, after a
// collection, and the goroutines: what RSS is made of, apart from what the
// collector has not returned yet.
func goMemory() (heap, stacks float64, goroutines int) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20), float64(s[1].Value.Uint64()) / (1 << 20), runtime.NumGoroutine()
}

// heapProfile writes a heap profile to $SOAK_PROFILE-<label>.pprof when
// SOAK_PROFILE is set, to see what grows between the start and the end.
func heapProfile(label string) {
	prefix := os.Getenv("SOAK_PROFILE")
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + "-" + label + ".pprof")
	if err != nil {
		return
	}
	defer f.Close()
	runtime.GC()
	pprof.WriteHeapProfile(f)
}

// BenchmarkLargeRequestFlood sends 40 concurrent 10 MiB storage requests to
// a 12-node devnet and reports the process's peak RSS over its RSS before:
// request bodies are held against the nodes' shared budget (256 MiB), so
// the rest are refused at once instead of buffered.
func BenchmarkLargeRequestFlood(b *testing.B) {
	ctx := context.Background()
	d, err := Up(ctx, UpConfig{Dir: b.TempDir(), Nodes: 12})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	nodes := d.Network.Nodes()
	body := bytes.Repeat([]byte("x"), storagerpc.MaxRequestSize)
	for b.Loop() {
		runtime.GC()
		before := rssMB()
		peak := before
		var codes sync.Map
		var wg sync.WaitGroup
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					peak = max(peak, rssMB())
				}
			}
		}()
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h, err := p2phost.New(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, 32)), nil)
				if err != nil {
					return
				}
				defer h.Close()
				n := nodes[i%len(nodes)]
				h.Peerstore().AddAddrs(n.PeerID(), n.Host().Addrs(), time.Minute)
				resp, err := storagerpc.RoundTrip(ctx, h, n.PeerID(), storagerpc.ProtocolStorage, body)
				code := 0
				if err == nil {
					code = resp.Code
				}
				v, _ := codes.LoadOrStore(code, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}()
		}
		wg.Wait()
		close(stop)
		codes.Range(func(k, v any) bool {
			fmt.Fprintf(os.Stderr, "flood: %d answered %v\n", v.(*atomic.Int64).Load(), k)
			return true
		})
		b.ReportMetric(before, "MB-RSS-before")
		b.ReportMetric(peak, "MB-RSS-peak")
	}
}
