package chain

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/sessionctl/sessionctl/identity"
)

// The byte formats package chain holds, pinned. Where the real network has
// the same rule, the answers are upstream's known answers (the file is
// named); sessionctl's own formats (its transactions, the round commits)
// have no upstream, and their vectors are regression vectors: the bytes
// this code made when they were written, so a change to a signed or hashed
// format cannot pass unnoticed (it would split a devnet's chain from its
// saved blocks, and a node from a ledger of another version).

func hexKey(t *testing.T, s string) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 33 {
		t.Fatalf("key %q", s)
	}
	return [32]byte(b[1:])
}

// TestSwarmSpaceKnownAnswers: an account's place in swarm space, the XOR
// of its key's four big-endian 64-bit words (identity.SwarmSpace, which
// SwarmFor takes). Known answers: session-storage-server
// unit_test/swarm.cpp, "swarm - pubkey to swarm space".
func TestSwarmSpaceKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want uint64
	}{
		{"053506f4a71324b7dd114eddbf4e311f39dde243e1f2cb97c40db1961f70ebaae8", 17589930838143112648},
		{"05cf27da303a50ac8c4b2d43d27259505c9bcd73fc21cf2a57902c3d050730b604", 10370619079776428163},
		{"03d3511706b8b34f6e8411bf07bd22ba6b2435ca56846fbccf6eb1e166a6cd15cc", 2144983569669512198},
		{"ff0f06693428fca9102a451e3f28d9cc743d8ea60a89ab6aa69eb119470c11cbd3", 9690840703409570833},
		{"05ffba630924aa1224bb930dde21c0d11bf004608f2812217f8ac812d6c7e3ad48", 4532060000165252872},
		{"05eeeeeeeeeeeeeeee777777777777777711111111111111118888888888888888", 0},
		{"050123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0},
		{"05fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe", 1},
		{"05ffffffffffffffffffffffffffffffffffffffffffffffff7fffffffffffffff", 1 << 63},
		{"05000000000000000000000000000000000000000000000000ffffffffffffffff", 1<<64 - 1},
		{"050000000000000000000000000000000000000000000000000123456789abcdef", 0x0123456789abcdef},
	} {
		if got := identity.SwarmSpace(hexKey(t, tc.key)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.key, got, tc.want)
		}
	}
}

// TestSwarmForKnownAnswers: the swarm that owns an account: the nearest
// swarm id on the 2^64 ring, the lower on a tie, wrapping at both ends.
// Known answers: session-storage-server unit_test/swarm.cpp, "service nodes
// - pubkey to swarm id" (the key is 05 and 24 zero bytes, then the 64-bit
// value named here).
func TestSwarmForKnownAnswers(t *testing.T) {
	swarms := []uint64{100, 200, 300, 399, 498, 596, 694}
	check := func(ids []uint64, v, want uint64) {
		t.Helper()
		var key [32]byte
		for i := range 8 {
			key[24+i] = byte(v >> (56 - 8*i))
		}
		if got := SwarmFor(ids, identity.SwarmSpace(key)); got != want {
			t.Errorf("swarms %v, value %#x: swarm %d, want %d", ids, v, got, want)
		}
	}
	for _, tc := range []struct{ v, want uint64 }{
		{0x64, 100}, {0xc8, 200}, {0x1f2, 498}, // exact
		{0, 100}, {1, 100}, // nearest
		{0x8000000000000000, 694}, {0xa000000000000000, 100}, // with wraparound
		{1<<64 - 1, 100}, {1<<64 - 2, 100},
		{0x95, 100}, {0x96, 100}, {0x97, 200}, // midpoints: the lower on a tie
		{0xf9, 200}, {0xfa, 200}, {0xfb, 300},
		{0x15d, 300}, {0x15e, 399},
		{0x1c0, 399}, {0x1c1, 498},
		{0x222, 498}, {0x223, 498}, {0x224, 596},
		{0x285, 596}, {0x286, 694},
		{0x800000000000018c, 694}, {0x800000000000018d, 694}, {0x800000000000018e, 100},
	} {
		check(swarms, tc.v, tc.want)
	}
	// A swarm at -20: the midpoint to 100 is 40, and the tie goes to the
	// last swarm.
	withTop := append(append([]uint64{}, swarms...), 1<<64-20)
	check(withTop, 0x27, 1<<64-20)
	check(withTop, 0x28, 1<<64-20)
	check(withTop, 0x29, 100)
	// A swarm at zero and a value at the top (an overflow upstream once had).
	withZero := append([]uint64{0}, withTop...)
	check(withZero, 1<<64-1, 0)
	check(withZero, 1<<64-2, 0)
}

// goldenKeys are the keys of the regression vectors: seeds 00 01 .. 1f
// (the operator) and 80 81 .. 9f (the node).
func goldenKeys() (op, node ed25519.PrivateKey) {
	var a, b [32]byte
	for i := range a {
		a[i], b[i] = byte(i), byte(0x80+i)
	}
	return ed25519.NewKeyFromSeed(a[:]), ed25519.NewKeyFromSeed(b[:])
}

// TestTxGolden pins a transaction's signed bytes (the prefix, then the JSON
// of type, signer, nonce and body), its signatures (Ed25519, hex) and its
// hash (BLAKE2b-32 of the signed bytes and the signatures' hex, hex).
// Regression vectors: sessionctl's own format (the hashes checked against
// Python's hashlib.blake2b when written).
func TestTxGolden(t *testing.T) {
	op, nodeKey := goldenKeys()
	const (
		opPub   = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
		nodePub = "cd14b37f956e953194ff7fb73b3d81dcc561d61a7538094b7c3e1a643ee5f3aa"
	)
	if hex.EncodeToString(op.Public().(ed25519.PublicKey)) != opPub || hex.EncodeToString(nodeKey.Public().(ed25519.PublicKey)) != nodePub {
		t.Fatal("the golden keys changed")
	}
	register, err := NewTx(TxRegister, op, 7, RegisterBody{NodeKey: nodePub, FeeBPS: 500, Amount: 15_000 * Coin,
		Reserved: []Reservation{{Wallet: opPub, Amount: Coin}}})
	if err != nil {
		t.Fatal(err)
	}
	register.SignAsNode(nodeKey)
	transfer, err := NewTx(TxTransfer, op, 0, TransferBody{To: nodePub, Amount: 12345})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tx                    *Tx
		signing, sig, nodeSig string
		hash                  string
	}{
		{
			tx: register,
			signing: "sessionctl-tx-v1\x00" + `{"type":"register","signer":"` + opPub + `","nonce":7,"body":{"node_key":"` + nodePub +
				`","fee_bps":500,"amount":15000000000000,"reserved":[{"wallet":"` + opPub + `","amount":1000000000}]}}`,
			sig:     "d336f5d50e19daad284445696563b06d9a08c5c0e0bbff4ed3aeaa2372646448aca3c4488a8319bca374d138cc57f167ef0b22ae501d6badbd3f2d2455ae2006",
			nodeSig: "bdadb10c0a7006bc5eec79b63fa5c37f8bac07971c64440e7d7f685cb5d79e6580e882ac5ad968114bd51c648d4339055b49a012969186b2eebef8f76fe27c07",
			hash:    "3c1956dbb0e349215db6f6c92e4f023cb362d9fce48d45c851d4dbfd597ce0cf",
		},
		{
			tx:      transfer,
			signing: "sessionctl-tx-v1\x00" + `{"type":"transfer","signer":"` + opPub + `","nonce":0,"body":{"to":"` + nodePub + `","amount":12345}}`,
			sig:     "ca4dcf340519b4cccbfb2043491c2eb21aab15170086d4b94530e76fbbf0cfd33b86c1b3cb4562d736ef2e510db64c04b8611df98cb26e69ca6b2c29ccffc600",
			hash:    "769e48430fd742affabdf082971dbedd585c4d7cd1ff354cba16a1deb56b493e",
		},
	} {
		tx := tc.tx
		if got := string(tx.SigningBytes()); got != tc.signing {
			t.Errorf("%s signs\n%q\nwant\n%q", tx.Type, got, tc.signing)
		}
		if tx.Signature != tc.sig || tx.NodeSignature != tc.nodeSig {
			t.Errorf("%s signatures %s / %s", tx.Type, tx.Signature, tx.NodeSignature)
		}
		if got := tx.Hash(); got != tc.hash {
			t.Errorf("%s hash %s, want %s", tx.Type, got, tc.hash)
		}
		// What travels decodes to the same transaction, and checks.
		enc, err := json.Marshal(tx)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTx(enc)
		if err != nil || back.Hash() != tc.hash || back.Check() != nil {
			t.Errorf("%s round trip: %v, hash %s", tx.Type, err, back.Hash())
		}
	}
}

// TestCommitHashGolden pins what a node commits to for a round's secret:
// BLAKE2b-32(secret) in hex. The empty input's is BLAKE2b-256's well-known
// digest of nothing; the 32 zero bytes' is a regression vector.
func TestCommitHashGolden(t *testing.T) {
	for _, tc := range []struct {
		secret []byte
		want   string
	}{
		{nil, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"},
		{make([]byte, 32), "89eb0d6a8a691dae2cd15ed0369931ce0a949ecafa5c3f93f8121833646e15c3"},
	} {
		if got := CommitHash(tc.secret); got != tc.want {
			t.Errorf("CommitHash(%x) = %s, want %s", tc.secret, got, tc.want)
		}
	}
}
