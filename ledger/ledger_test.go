package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
)

type wallet struct {
	priv ed25519.PrivateKey
	pub  string
}

// newKey returns a deterministic Ed25519 key for label.
func newKey(label string) wallet {
	s := blake2b.Sum256([]byte(label))
	k := ed25519.NewKeyFromSeed(s[:])
	return wallet{priv: k, pub: hex.EncodeToString(k.Public().(ed25519.PublicKey))}
}

type harness struct {
	t testing.TB
	l *Ledger
	p chain.Params
}

// startLedger starts a ledger with on-demand blocks and the wallets funded.
func startLedger(t *testing.T, path string, seed string, funds map[string]uint64) *harness {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "ledger.db")
	}
	var gen []Allocation
	for _, name := range sortedKeys(funds) {
		gen = append(gen, Allocation{Wallet: newKey(name).pub, Amount: funds[name]})
	}
	l, err := New(Config{Path: path, Seed: seed, Genesis: gen})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &harness{t: t, l: l, p: l.Info().Params}
}

func sortedKeys(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// tx builds and signs a transaction from the named wallet at its next nonce.
func (h *harness) tx(from string, t chain.TxType, body any) *chain.Tx {
	h.t.Helper()
	w := newKey(from)
	a, err := h.l.Account(w.pub)
	if err != nil {
		h.t.Fatal(err)
	}
	tx, err := chain.NewTx(t, w.priv, a.NextNonce, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return tx
}

func (h *harness) submit(tx *chain.Tx) {
	h.t.Helper()
	if _, err := h.l.Submit(tx); err != nil {
		h.t.Fatalf("submit %s: %v", tx.Type, err)
	}
}

func (h *harness) mine(n int) {
	h.t.Helper()
	if _, err := h.l.Mine(context.Background(), n); err != nil {
		h.t.Fatal(err)
	}
}

// registerTx is a registration of node nodeName by operator op.
func (h *harness) registerTx(op, nodeName string, amount uint64, fee uint32, reserved ...chain.Reservation) *chain.Tx {
	h.t.Helper()
	tx := h.tx(op, chain.TxRegister, chain.RegisterBody{NodeKey: newKey(nodeName).pub, FeeBPS: fee, Amount: amount, Reserved: reserved})
	tx.SignAsNode(newKey(nodeName).priv)
	return tx
}

func (h *harness) balance(name string) uint64 {
	a, _ := h.l.Account(newKey(name).pub)
	return a.Balance
}

func (h *harness) node(name string) chain.ServiceNode {
	h.t.Helper()
	n, ok := h.l.Node(newKey(name).pub)
	if !ok {
		h.t.Fatalf("node %s is not registered", name)
	}
	return n
}

// snapshot captures everything a rejected transaction must leave alone.
func (h *harness) snapshot() any {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	return []any{h.l.pendingState().clone(), len(h.l.mempool)}
}

const stake = 15_000 * chain.Coin

func TestRegisterRules(t *testing.T) {
	funds := map[string]uint64{"op": 40_000 * chain.Coin, "poor": 1_000 * chain.Coin, "c1": 20_000 * chain.Coin}
	for _, tc := range []struct {
		name string
		make func(h *harness) *chain.Tx
		want error
	}{
		{"operator share below 25%", func(h *harness) *chain.Tx { return h.registerTx("op", "n1", stake/4-1, 0) }, ErrStakeRules},
		{"fee over 100%", func(h *harness) *chain.Tx { return h.registerTx("op", "n1", stake, 10_001) }, ErrStakeRules},
		{"insufficient funds", func(h *harness) *chain.Tx { return h.registerTx("poor", "n1", stake/4, 0) }, ErrFunds},
		{"reserved over-fills", func(h *harness) *chain.Tx {
			return h.registerTx("op", "n1", stake/2, 0, chain.Reservation{Wallet: newKey("c1").pub, Amount: stake/2 + 1})
		}, ErrStakeRules},
		{"reserved spot below minimum", func(h *harness) *chain.Tx {
			// min = (15000 - 3750) / (10 - 1) = 1250 coins
			return h.registerTx("op", "n1", stake/4, 0, chain.Reservation{Wallet: newKey("c1").pub, Amount: 1250*chain.Coin - 1})
		}, ErrStakeRules},
		{"eleven contributors", func(h *harness) *chain.Tx {
			var res []chain.Reservation
			for i := 0; i < 10; i++ {
				res = append(res, chain.Reservation{Wallet: newKey(fmt.Sprint("r", i)).pub, Amount: 1})
			}
			return h.registerTx("op", "n1", stake/4, 0, res...)
		}, ErrStakeRules},
		{"wallet reserved twice", func(h *harness) *chain.Tx {
			return h.registerTx("op", "n1", stake/4, 0, chain.Reservation{Wallet: newKey("c1").pub, Amount: 2000 * chain.Coin}, chain.Reservation{Wallet: newKey("c1").pub, Amount: 2000 * chain.Coin})
		}, ErrStakeRules},
		{"already registered", func(h *harness) *chain.Tx {
			h.submit(h.registerTx("op", "n1", stake, 0))
			h.mine(1)
			return h.registerTx("op", "n1", stake, 0)
		}, ErrStakeRules},
		{"missing node signature", func(h *harness) *chain.Tx {
			tx := h.registerTx("op", "n1", stake, 0)
			tx.NodeSignature = ""
			return tx
		}, chain.ErrTxFormat},
		{"node signed by another key", func(h *harness) *chain.Tx {
			tx := h.registerTx("op", "n1", stake, 0)
			tx.SignAsNode(newKey("n2").priv)
			return tx
		}, chain.ErrTxFormat},
		{"replayed nonce", func(h *harness) *chain.Tx {
			tx := h.tx("op", chain.TxTransfer, chain.TransferBody{To: newKey("c1").pub, Amount: chain.Coin})
			h.submit(tx)
			return tx
		}, ErrNonce},
		{"bad signature", func(h *harness) *chain.Tx {
			tx := h.registerTx("op", "n1", stake, 0)
			tx.Signature = tx.NodeSignature
			return tx
		}, chain.ErrTxFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startLedger(t, "", "rules", funds)
			tx := tc.make(h)
			before := h.snapshot()
			_, err := h.l.Submit(tx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(before, h.snapshot()) {
				t.Fatal("a rejected transaction changed the state")
			}
		})
	}
}

func TestRegisterAndContribute(t *testing.T) {
	h := startLedger(t, "", "contrib", map[string]uint64{"op": 20_000 * chain.Coin, "c1": 20_000 * chain.Coin, "c2": 20_000 * chain.Coin, "c3": 20_000 * chain.Coin})
	// Operator 5,000; c1 holds a reserved spot of 4,000.
	h.submit(h.registerTx("op", "n1", 5_000*chain.Coin, 1_000, chain.Reservation{Wallet: newKey("c1").pub, Amount: 4_000 * chain.Coin}))
	h.mine(1)
	if n := h.node("n1"); n.State != chain.StateAwaiting || n.Staked() != 5_000*chain.Coin || n.SwarmID != chain.UnassignedSwarm {
		t.Fatalf("after registration: %+v", n)
	}
	if got := h.balance("op"); got != 15_000*chain.Coin {
		t.Fatalf("operator balance %s, want 15000", chain.FormatCoins(got))
	}
	// Held: 5,000 + 4,000 reserved; open: 6,000. Minimum for a newcomer:
	// (15,000 - 9,000) / (10 - 2) = 750 coins.
	for _, tc := range []struct {
		from   string
		amount uint64
		want   error
	}{
		{"c2", 749 * chain.Coin, ErrStakeRules},      // below the minimum
		{"c2", 6_000*chain.Coin + 1, ErrStakeRules},  // over-fills
		{"c1", 3_999 * chain.Coin, ErrStakeRules},    // does not fill its reserved spot
		{"c1", 10_000*chain.Coin + 1, ErrStakeRules}, // over-fills: its 4,000 spot plus the 6,000 open
		{"nobody", 1_000 * chain.Coin, ErrFunds},     // no coins
	} {
		before := h.snapshot()
		_, err := h.l.Submit(h.tx(tc.from, chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: tc.amount}))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s contributes %s: err = %v, want %v", tc.from, chain.FormatCoins(tc.amount), err, tc.want)
		}
		if !reflect.DeepEqual(before, h.snapshot()) {
			t.Errorf("%s contributes %s: a rejected contribution changed the state", tc.from, chain.FormatCoins(tc.amount))
		}
	}
	h.submit(h.tx("c2", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: 750 * chain.Coin}))
	h.submit(h.tx("c1", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: 4_000 * chain.Coin}))
	// Open now: 15,000 - 9,750 = 5,250; c3 fills it exactly (allowed even
	// though the remainder is what is left, not a minimum).
	h.submit(h.tx("c3", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: 5_250 * chain.Coin}))
	h.mine(1)
	n := h.node("n1")
	if n.State != chain.StateActive || n.Staked() != stake || n.Credit != h.p.InitialCredit {
		t.Fatalf("a fully staked node is not active: %+v", n)
	}
	if _, err := h.l.Submit(h.tx("c2", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: chain.Coin})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("contribution to a full node: %v", err)
	}
	if _, err := h.l.Submit(h.tx("c2", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("zz").pub, Amount: chain.Coin})); !errors.Is(err, ErrNoNode) {
		t.Fatalf("contribution to an unknown node: %v", err)
	}
}

func TestTenContributorsAtMost(t *testing.T) {
	funds := map[string]uint64{"op": stake}
	for i := 0; i < 10; i++ {
		funds[fmt.Sprint("c", i)] = stake
	}
	h := startLedger(t, "", "ten", funds)
	h.submit(h.registerTx("op", "n1", stake/4, 0))
	// Eight newcomers stake the minimum: (15,000 - held) / (10 - count).
	for i := 0; i < 8; i++ {
		a := h.p.MinContribution(h.pendingHeld("n1"), h.pendingContributors("n1"))
		h.submit(h.tx(fmt.Sprint("c", i), chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: a}))
	}
	// The tenth contributor must fill the node: anything less would leave
	// room that no eleventh contributor may take.
	left := stake - h.pendingHeld("n1")
	if _, err := h.l.Submit(h.tx("c8", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: left - chain.Coin})); !errors.Is(err, ErrStakeRules) {
		t.Fatalf("a tenth contributor leaving room: err = %v", err)
	}
	h.submit(h.tx("c8", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: left}))
	if _, err := h.l.Submit(h.tx("c9", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: chain.Coin})); err == nil {
		t.Fatal("an eleventh contributor was accepted")
	}
	h.mine(1)
	if n := h.node("n1"); len(n.Contributors) != 10 || n.State != chain.StateActive {
		t.Fatalf("node: %d contributors, %s", len(n.Contributors), n.State)
	}
}

func (h *harness) pendingHeld(node string) uint64 {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	return held(h.l.pendingState().Nodes[newKey(node).pub])
}

func (h *harness) pendingContributors(node string) int {
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	return len(h.l.pendingState().Nodes[newKey(node).pub].Contributors)
}

func TestRewards(t *testing.T) {
	h := startLedger(t, "", "rewards", map[string]uint64{"op1": stake, "op2": stake, "c": stake})
	h.submit(h.registerTx("op1", "n1", stake, 0))
	// n2: operator 11,250 (75%), c 3,750 (25%), fee 10%.
	h.submit(h.registerTx("op2", "n2", 11_250*chain.Coin, 1_000))
	h.submit(h.tx("c", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n2").pub, Amount: 3_750 * chain.Coin}))
	h.mine(1) // both become active in this block; rewards start with the next
	b1, b2, bc := h.balance("op1"), h.balance("op2"), h.balance("c")
	h.mine(4)
	// Each block: 16.5 coins / 2 nodes = 8.25 each. n1: all to op1.
	// n2: fee 0.825 to op2, then 7.425 split 75/25: op2 5.56875, c 1.85625.
	if got, want := h.balance("op1")-b1, 4*(8*chain.Coin+chain.Coin/4); got != want {
		t.Errorf("op1 earned %s, want %s", chain.FormatCoins(got), chain.FormatCoins(want))
	}
	if got, want := h.balance("op2")-b2, 4*(825_000_000+5_568_750_000); got != uint64(want) {
		t.Errorf("op2 earned %s, want %s", chain.FormatCoins(got), chain.FormatCoins(uint64(want)))
	}
	if got, want := h.balance("c")-bc, uint64(4*1_856_250_000); got != want {
		t.Errorf("c earned %s, want %s", chain.FormatCoins(got), chain.FormatCoins(want))
	}
	if n := h.node("n2"); n.Rewards != 4*(8*chain.Coin+chain.Coin/4) {
		t.Errorf("n2 rewards %s", chain.FormatCoins(n.Rewards))
	}
}

func TestUnlock(t *testing.T) {
	h := startLedger(t, "", "unlock", map[string]uint64{"op": stake, "c": stake, "x": chain.Coin})
	h.submit(h.registerTx("op", "n1", 10_000*chain.Coin, 0))
	h.submit(h.tx("c", chain.TxContribute, chain.ContributeBody{NodeKey: newKey("n1").pub, Amount: 5_000 * chain.Coin}))
	h.mine(1)
	if _, err := h.l.Submit(h.tx("x", chain.TxUnlock, chain.UnlockBody{NodeKey: newKey("n1").pub})); !errors.Is(err, ErrForbidden) {
		t.Fatalf("unlock by a stranger: %v", err)
	}
	h.submit(h.tx("c", chain.TxUnlock, chain.UnlockBody{NodeKey: newKey("n1").pub}))
	h.mine(1)
	unlockAt := h.node("n1").UnlockHeight
	if want := h.l.Info().Height + h.p.UnlockDelay; unlockAt != want {
		t.Fatalf("unlock height %d, want %d", unlockAt, want)
	}
	if _, err := h.l.Submit(h.tx("op", chain.TxUnlock, chain.UnlockBody{NodeKey: newKey("n1").pub})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("second unlock: %v", err)
	}
	for h.l.Info().Height < unlockAt-1 {
		h.mine(1)
	}
	if h.node("n1").State != chain.StateActive {
		t.Fatal("the node stops before its unlock height")
	}
	before := h.balance("c")
	h.mine(1)
	if _, ok := h.l.Node(newKey("n1").pub); ok {
		t.Fatal("the node is still registered after its unlock height")
	}
	// The stake, and a third of 16.5 coins for the last block it served.
	if got := h.balance("c") - before; got != 5_005*chain.Coin+chain.Coin/2 {
		t.Fatalf("c got back %s, want 5005.5", chain.FormatCoins(got))
	}
	if h.l.Info().Swarms != 0 {
		t.Fatal("a swarm is left with no nodes")
	}
}

func TestStateChanges(t *testing.T) {
	h := startLedger(t, "", "states", map[string]uint64{"op": 3 * stake})
	for _, n := range []string{"n1", "n2", "n3"} {
		h.submit(h.registerTx("op", n, stake, 0))
	}
	h.mine(1)
	key := newKey("n1").pub
	// Only the authority signs state changes.
	if _, err := h.l.Submit(h.tx("op", chain.TxStateChange, chain.StateChangeBody{NodeKey: key, State: chain.StateDecommissioned})); !errors.Is(err, ErrForbidden) {
		t.Fatalf("state change by the operator: %v", err)
	}
	// A new node has 60 blocks of credit: enough to be decommissioned.
	if _, err := h.l.ChangeState(key, chain.StateDecommissioned, "test"); err != nil {
		t.Fatal(err)
	}
	h.mine(1)
	n := h.node("n1")
	if n.State != chain.StateDecommissioned || n.SwarmID != chain.UnassignedSwarm {
		t.Fatalf("decommissioned node: %+v", n)
	}
	for _, m := range h.l.Swarms() {
		for _, k := range m.Members {
			if k == key {
				t.Fatal("a decommissioned node is still in a swarm")
			}
		}
	}
	rewards := n.Rewards
	h.mine(3)
	if n := h.node("n1"); n.Rewards != rewards || n.Credit != h.p.InitialCredit-3 {
		t.Fatalf("while decommissioned: rewards %d (was %d), credit %d", n.Rewards, rewards, n.Credit)
	}
	if _, err := h.l.ChangeState(key, chain.StateDecommissioned, ""); !errors.Is(err, ErrNodeState) {
		t.Fatalf("decommission twice: %v", err)
	}
	if _, err := h.l.ChangeState(key, chain.StateActive, "recovered"); err != nil {
		t.Fatal(err)
	}
	h.mine(1)
	if n := h.node("n1"); n.State != chain.StateActive || n.SwarmID == chain.UnassignedSwarm {
		t.Fatalf("recommissioned node: %+v", n)
	}
	// Credit runs out while decommissioned: deregistered, stake locked.
	h.l.ChangeState(key, chain.StateDecommissioned, "")
	h.mine(1)
	credit := h.node("n1").Credit
	h.mine(int(credit))
	n = h.node("n1")
	if n.State != chain.StateDeregistered {
		t.Fatalf("credit ran out, node is %s", n.State)
	}
	if _, err := h.l.Submit(h.tx("op", chain.TxUnlock, chain.UnlockBody{NodeKey: key})); !errors.Is(err, ErrNodeState) {
		t.Fatalf("unlock of a deregistered node: %v", err)
	}
	before := h.balance("op")
	for h.l.Info().Height < n.UnlockHeight {
		h.mine(1)
	}
	if _, ok := h.l.Node(key); ok {
		t.Fatal("deregistered node is still listed after its lock")
	}
	if got := h.balance("op") - before; got < stake {
		t.Fatalf("the locked stake was not returned: got %s", chain.FormatCoins(got))
	}
	// Too little credit to be decommissioned: deregistered at once.
	if _, err := h.l.ChangeState(newKey("n2").pub, chain.StateDeregistered, ""); err != nil {
		t.Fatal(err)
	}
	h.mine(1)
	if h.node("n2").State != chain.StateDeregistered {
		t.Fatal("deregister did not deregister")
	}
}

func TestNames(t *testing.T) {
	h := startLedger(t, "", "names", map[string]uint64{"alice": 10 * chain.Coin, "poor": chain.Coin})
	acct, _ := identity.NewAccount(rand.Reader)
	name, err := NormalizeName("Alice_Liddell")
	if err != nil {
		t.Fatal(err)
	}
	value, err := EncryptName(name, acct.AccountID(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	body := chain.NameBody{NameHash: NameHash(name), Value: hex.EncodeToString(value)}
	if _, err := h.l.Submit(h.tx("poor", chain.TxName, body)); !errors.Is(err, ErrFunds) {
		t.Fatalf("name without the cost: %v", err)
	}
	h.submit(h.tx("alice", chain.TxName, body))
	if _, err := h.l.Submit(h.tx("alice", chain.TxName, body)); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("name twice: %v", err)
	}
	h.mine(1)
	if got := h.balance("alice"); got != 3*chain.Coin {
		t.Fatalf("7 coins not burned: balance %s", chain.FormatCoins(got))
	}
	rec, ok := h.l.Name(NameHash("alice_liddell"))
	if !ok {
		t.Fatal("registered name not found")
	}
	v, _ := hex.DecodeString(rec.Value)
	got, err := DecryptName("alice_liddell", v)
	if err != nil || got != acct.AccountID() {
		t.Fatalf("resolve = %v, %v; want %v", got, err, acct.AccountID())
	}
	if _, err := DecryptName("alice_liddel", v); !errors.Is(err, ErrNameValue) {
		t.Fatalf("another name decrypts the value: %v", err)
	}
}

func TestNormalizeName(t *testing.T) {
	long := ""
	for len(long) < 64 {
		long += "a"
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"Alice", "alice", true},
		{"_x_", "_x_", true},
		{"a-b", "a-b", true},
		{"a", "a", true},
		{long, long, true},
		{long + "a", "", false},
		{"-ab", "", false},
		{"ab-", "", false},
		{"a b", "", false},
		{"a.b", "", false},
		{"", "", false},
		{"é", "", false},
	} {
		got, err := NormalizeName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("NormalizeName(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestSameSeedSameChain(t *testing.T) {
	run := func(seed string) (string, []SwarmInfo) {
		funds := map[string]uint64{"op": 20 * stake}
		h := startLedger(t, "", seed, funds)
		for i := 0; i < 14; i++ {
			h.submit(h.registerTx("op", fmt.Sprint("n", i), stake, 0))
		}
		h.mine(3)
		return h.l.Info().Hash, h.l.Swarms()
	}
	h1, s1 := run("alpha")
	h2, s2 := run("alpha")
	h3, _ := run("beta")
	if h1 != h2 || !reflect.DeepEqual(s1, s2) {
		t.Fatal("the same seed and transactions made another chain")
	}
	if h1 == h3 {
		t.Fatal("another seed made the same chain")
	}
	if len(s1) != 2 {
		t.Fatalf("14 nodes in %d swarms, want 2", len(s1))
	}
}

func TestRestartContinues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	funds := map[string]uint64{"op": 20 * stake, "alice": 100 * chain.Coin}
	p := chain.DefaultParams()
	p.SnapshotEvery = 7 // replay some blocks after a snapshot
	now := time.UnixMilli(1_700_000_000_000)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	start := func(seed string) (*Ledger, error) {
		var gen []Allocation
		for _, n := range sortedKeys(funds) {
			gen = append(gen, Allocation{Wallet: newKey(n).pub, Amount: funds[n]})
		}
		l, err := New(Config{Path: path, Seed: seed, Genesis: gen, Params: &p, Now: clock})
		if err != nil {
			return nil, err
		}
		return l, l.Start(context.Background())
	}
	l, err := start("s")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, l: l, p: p}
	for i := 0; i < 13; i++ {
		h.submit(h.registerTx("op", fmt.Sprint("n", i), stake, 500))
	}
	h.mine(5)
	h.submit(h.tx("alice", chain.TxTransfer, chain.TransferBody{To: newKey("bob").pub, Amount: chain.Coin}))
	h.l.ChangeState(newKey("n3").pub, chain.StateDecommissioned, "")
	h.mine(5)
	want, wantTime := l.state.clone(), now.UnixMilli()
	if got := l.Info().Timestamp; got != wantTime {
		t.Fatalf("Info().Timestamp = %d, want the tip's block's %d", got, wantTime)
	}
	l.Close()
	l.Close() // twice is fine

	if _, err := start("other"); !errors.Is(err, ErrSeedMismatch) {
		t.Fatalf("another seed: %v", err)
	}
	l2, err := start("s")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if !reflect.DeepEqual(want, l2.state) {
		t.Fatal("the restarted ledger has another state")
	}
	if got := l2.Info().Timestamp; got != wantTime {
		t.Fatalf("restarted: Info().Timestamp = %d, want the tip's block's %d", got, wantTime)
	}
	// The replay path too: without the closing snapshot (remove it), the
	// chain is rebuilt from the snapshot at 7 and blocks 8-11.
	l2.Close()
	st, err := openStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	st.db.Exec(`DELETE FROM snapshots WHERE height > 7`)
	st.close()
	l3, err := start("s")
	if err != nil {
		t.Fatal(err)
	}
	defer l3.Close()
	if !reflect.DeepEqual(want, l3.state) {
		t.Fatal("replaying from a snapshot gives another state")
	}
	h3 := &harness{t: t, l: l3, p: p}
	h3.mine(1)
	if l3.Info().Height != want.Height+1 {
		t.Fatal("the chain does not continue")
	}
	b, err := l3.Block(context.Background(), 6)
	if err != nil || len(b.Txs) != 2 || b.Height != 6 {
		t.Fatalf("block 6 = %+v, %v", b, err)
	}
}

func TestTxStatus(t *testing.T) {
	h := startLedger(t, "", "status", map[string]uint64{"a": 10 * chain.Coin})
	tx := h.tx("a", chain.TxTransfer, chain.TransferBody{To: newKey("b").pub, Amount: chain.Coin})
	hash, err := h.l.Submit(tx)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if s, _ := h.l.TxStatus(ctx, hash); s.Status != "pending" {
		t.Fatalf("status %+v", s)
	}
	h.mine(1)
	if s, _ := h.l.TxStatus(ctx, hash); s.Status != "included" || s.Height != 1 {
		t.Fatalf("status %+v", s)
	}
	if s, _ := h.l.TxStatus(ctx, "00"); s.Status != "unknown" {
		t.Fatalf("status %+v", s)
	}
}

// TestLedgerSwarmInvariants runs random register, unlock and decommission
// sequences through the whole ledger and checks the swarm invariants and the
// nodes' swarm ids after every block.
func TestLedgerSwarmInvariants(t *testing.T) {
	sequences := 20
	if testing.Short() {
		sequences = 4
	}
	for seq := 0; seq < sequences; seq++ {
		funds := map[string]uint64{"op": 200 * stake}
		h := startLedger(t, "", fmt.Sprint("inv", seq), funds)
		r := newRNG([32]byte{byte(seq)}, "test")
		next := 0
		var live []string
		for block := 0; block < 15; block++ {
			for i := r.intn(8); i > 0; i-- {
				name := fmt.Sprint("n", next)
				next++
				h.submit(h.registerTx("op", name, stake, 0))
				live = append(live, name)
			}
			for i := r.intn(3); i > 0 && len(live) > 0; i-- {
				j := r.intn(len(live))
				key := newKey(live[j]).pub
				switch n, _ := h.l.Node(key); {
				case n.State == chain.StateActive && r.intn(2) == 0:
					h.l.ChangeState(key, chain.StateDecommissioned, "")
				case n.State == chain.StateDecommissioned:
					h.l.ChangeState(key, chain.StateActive, "")
				case n.State == chain.StateActive && n.UnlockHeight == 0:
					h.submit(h.tx("op", chain.TxUnlock, chain.UnlockBody{NodeKey: key}))
				}
			}
			h.mine(1 + r.intn(3))
			var active []string
			for _, n := range h.l.Nodes() {
				if n.State == chain.StateActive {
					active = append(active, n.Key)
				} else if n.SwarmID != chain.UnassignedSwarm {
					t.Fatalf("%s node in swarm %d", n.State, n.SwarmID)
				}
			}
			sw := Swarms{}
			for _, s := range h.l.Swarms() {
				sw[s.ID] = s.Members
				for _, k := range s.Members {
					if n, _ := h.l.Node(k); n.SwarmID != s.ID {
						t.Fatalf("node %s says swarm %d, listed in %d", short(k), n.SwarmID, s.ID)
					}
				}
			}
			checkSwarms(t, sw, active, nil)
		}
	}
}

func FuzzDecodeTx(f *testing.F) {
	k := newKey("fuzz")
	for _, body := range []struct {
		t chain.TxType
		b any
	}{
		{chain.TxTransfer, chain.TransferBody{To: k.pub, Amount: 5}},
		{chain.TxContribute, chain.ContributeBody{NodeKey: k.pub, Amount: 5}},
		{chain.TxNodeInfo, chain.NodeInfoBody{PeerID: "12D3", Addrs: []string{"/ip4/127.0.0.1/tcp/1"}}},
		{chain.TxStateChange, chain.StateChangeBody{NodeKey: k.pub, State: chain.StateDecommissioned}},
	} {
		tx, _ := chain.NewTx(body.t, k.priv, 3, body.b)
		data, _ := jsonMarshal(tx)
		f.Add(data)
	}
	reg, _ := chain.NewTx(chain.TxRegister, k.priv, 0, chain.RegisterBody{NodeKey: newKey("n").pub, Amount: 1})
	reg.SignAsNode(newKey("n").priv)
	data, _ := jsonMarshal(reg)
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tx, err := chain.DecodeTx(data)
		if err != nil {
			return
		}
		if tx.Check() != nil {
			t.Fatal("a decoded transaction fails its own check")
		}
		s := newState()
		s.applyTx(chain.DefaultParams(), tx, 1, k.pub) // must not panic
	})
}

func FuzzDecodeState(f *testing.F) {
	s := newState()
	s.Nodes["k"] = &chain.ServiceNode{Key: "k", Contributors: []chain.Contributor{{Wallet: "w", Amount: 1}}, SwarmID: 5}
	s.Swarms[5] = []string{"k"}
	data, _ := s.encode()
	f.Add(data)
	f.Add([]byte(`{"nodes":{"a":null}}`))
	f.Add([]byte(`{"rounds":{"1":{"round":1,"start":10,"commits":{},"reveals":{},"seed":"ab","quorums":[{"members":["a","b"],"targets":["c"],"threshold":2}],"votes":[{"voter":"b","target":"c","pass":true,"height":7}],"tallied":false}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		st.clone()
		st.activeKeys()
		for _, r := range st.Rounds {
			r.export()
		}
		if _, err := st.encode(); err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// TestSubmitAll: transactions queued in their order, as Submit would one
// after the other; the first refused (a bad signature, a broken rule)
// stops it, with what came before it queued and nothing after.
func TestSubmitAll(t *testing.T) {
	h := startLedger(t, "", "all", map[string]uint64{"a": 100 * chain.Coin, "b": 100 * chain.Coin, "c": 100 * chain.Coin})
	ok1 := h.tx("a", chain.TxTransfer, chain.TransferBody{To: newKey("x").pub, Amount: chain.Coin})
	ok2 := h.tx("b", chain.TxTransfer, chain.TransferBody{To: newKey("x").pub, Amount: 2 * chain.Coin})
	forged := h.tx("c", chain.TxTransfer, chain.TransferBody{To: newKey("x").pub, Amount: chain.Coin})
	forged.Signature = ok1.Signature
	later := h.tx("c", chain.TxTransfer, chain.TransferBody{To: newKey("x").pub, Amount: 3 * chain.Coin})
	n, err := h.l.SubmitAll([]*chain.Tx{ok1, ok2, forged, later})
	if n != 2 || !errors.Is(err, chain.ErrTxFormat) {
		t.Fatalf("SubmitAll with a forged third: %d queued, %v", n, err)
	}
	// The same wallet twice at one nonce: the second breaks the rules.
	again := h.tx("a", chain.TxTransfer, chain.TransferBody{To: newKey("x").pub, Amount: chain.Coin})
	n, err = h.l.SubmitAll([]*chain.Tx{later, ok1, again})
	if n != 1 || err == nil {
		t.Fatalf("SubmitAll with a replayed second: %d queued, %v", n, err)
	}
	if n, err := h.l.SubmitAll([]*chain.Tx{again}); n != 1 || err != nil {
		t.Fatalf("SubmitAll of one: %d queued, %v", n, err)
	}
	h.mine(1)
	if got := h.balance("x"); got != 7*chain.Coin {
		t.Fatalf("x holds %d, want %d", got, 7*chain.Coin)
	}
	if n, err := h.l.SubmitAll(nil); n != 0 || err != nil {
		t.Fatalf("SubmitAll of none: %d, %v", n, err)
	}
}
