package ledger

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/sessionctl/sessionctl/chain"
)

// setupNodes starts a ledger with n active nodes.
func setupNodes(b *testing.B, n int) *harness {
	h := startLedgerB(b, map[string]uint64{"op": uint64(n+20_000) * stake})
	for i := 0; i < n; i++ {
		tx := h.registerTx("op", fmt.Sprint("n", i), stake, 0)
		if _, err := h.l.Submit(tx); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := h.l.Mine(context.Background(), 1); err != nil {
		b.Fatal(err)
	}
	if got := h.l.Info().ActiveNodes; got != n {
		b.Fatalf("%d active nodes, want %d", got, n)
	}
	return h
}

func startLedgerB(b *testing.B, funds map[string]uint64) *harness {
	var gen []Allocation
	for _, name := range sortedKeys(funds) {
		gen = append(gen, Allocation{Wallet: newKey(name).pub, Amount: funds[name]})
	}
	l, err := New(Config{Path: b.TempDir() + "/ledger.db", Seed: "bench", Genesis: gen})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return &harness{t: b, l: l, p: l.Info().Params}
}

// BenchmarkBlock1000Nodes: one block (rewards to 1,000 nodes, credit, the
// SQLite write, a snapshot every 100 blocks) with no change of the active set.
func BenchmarkBlock1000Nodes(b *testing.B) {
	h := setupNodes(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.l.Mine(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlock1000NodesJoin: as above, with one new node per block, so
// every block recomputes the swarms.
func BenchmarkBlock1000NodesJoin(b *testing.B) {
	h := setupNodes(b, 1000)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		a, _ := h.l.Account(newKey("op").pub)
		tx, _ := chain.NewTx(chain.TxRegister, newKey("op").priv, a.NextNonce, chain.RegisterBody{NodeKey: newKey(fmt.Sprint("j", i)).pub, Amount: stake})
		tx.SignAsNode(newKey(fmt.Sprint("j", i)).priv)
		i++
		if _, err := h.l.Submit(tx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := h.l.Mine(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundsHeld1000Nodes plays three testing rounds of a 1,000-node
// ledger, every member voting on each of its targets (10,000 votes a
// round), and a fourth half way, and reports what the rounds hold in the
// heap after a collection (MB-rounds: the rounds the tip remembers, the
// pending state's, and what blocks left behind), against the ledger's
// heap with no round (MB-ledger).
func BenchmarkRoundsHeld1000Nodes(b *testing.B) {
	const nodes = 1000
	for b.Loop() {
		before := heapMB()
		h := setupNodes(b, nodes)
		registered := heapMB()
		for r := uint64(1); r <= 3; r++ {
			h.playVotes(r, nodes, 3400, -1)
		}
		h.playVotes(4, nodes, 3400, 5000)
		b.ReportMetric(heapMB()-registered, "MB-rounds")
		b.ReportMetric(registered-before, "MB-ledger")
	}
}

func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
