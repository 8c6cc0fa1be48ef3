package ledger

import (
	"context"
	"fmt"
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
