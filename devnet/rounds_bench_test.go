package devnet

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
)

// BenchmarkSendDuringRounds: while the testing rounds of a devnet run, a
// client sends a message every BENCH_SEND_EVERY (default 2 s) for
// BENCH_ROUNDS rounds (default 3), and the send's latency is reported: p50,
// p99 and max, and p99 of the sends made during the rounds' test phases
// (the tests' part of the CPU). BENCH_ROUNDS_NODES (default 200) sizes the
// devnet, BENCH_ROUNDS_BLOCK its block time (default 1 s); rounds last as
// ParamsFor says, at least 40 blocks (so that the tests are spread,
// node.testSchedule). Not a timed test:
//
//	go test ./devnet -run '^$' -bench SendDuringRounds -benchtime 1x -timeout 30m
//	BENCH_ROUNDS_NODES=2000 go test ./devnet -run '^$' -bench SendDuringRounds -benchtime 1x -timeout 60m
func BenchmarkSendDuringRounds(b *testing.B) {
	nodes := envInt("BENCH_ROUNDS_NODES", 200)
	rounds := envInt("BENCH_ROUNDS", 3)
	every := envDuration("BENCH_SEND_EVERY", 2*time.Second)
	bt := envDuration("BENCH_ROUNDS_BLOCK", time.Second)
	p := ParamsFor(nodes)
	if p.RoundBlocks < 40 {
		p.RoundBlocks, p.ProofInterval, p.ProofValidity = 40, 40, 81
	}
	nw := StartT(b, Config{Nodes: nodes, BlockTime: bt, Params: &p})
	ctx := context.Background()
	alice := clientT(b, nw.LedgerURL(), client.Config{Keys: ClientKeys("sessionctl", "alice")})
	bob := ClientKeys("sessionctl", "bob")
	var all, testing []time.Duration
	failed := 0
	for b.Loop() {
		start := nw.Ledger.Info().Height
		end := (p.RoundOf(start) + uint64(rounds) + 1) * p.RoundBlocks // whole rounds
		tick := time.NewTicker(every)
		for nw.Ledger.Info().Height < end {
			h := nw.Ledger.Info().Height
			t0 := time.Now()
			_, err := alice.Send(ctx, bob.AccountID(), "during the rounds")
			d := time.Since(t0)
			if err != nil {
				failed++
			} else {
				all = append(all, d)
				if p.RoundPhase(h+1) == "test" {
					testing = append(testing, d)
				}
			}
			<-tick.C
		}
		tick.Stop()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(len(all)), "sends")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(ms(quantile(all, 0.5)), "send-p50-ms")
	b.ReportMetric(ms(quantile(all, 0.99)), "send-p99-ms")
	b.ReportMetric(ms(quantile(all, 1)), "send-max-ms")
	b.ReportMetric(ms(quantile(testing, 0.99)), "test-phase-send-p99-ms")
}

// quantile is the q-quantile of ds (0 for none).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}
