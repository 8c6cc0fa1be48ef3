// Package ledger plays the role of the Oxen chain for a devnet: it decides
// which service nodes exist, which swarm each belongs to, who earns what, and
// which session names map to which accounts (SPEC 2 and 3). It has no
// networking; package ledger/ledgerrpc serves it over HTTP.
//
// # Design
//
// A State is everything the chain decides at one height: balances, nonces,
// nodes, names and swarms. A block is applied to a clone of the tip, in a
// fixed order: the chain's own work (rewards to the active nodes, decommission
// credit, stakes returned at their unlock height), then each transaction that
// passes the rules (a failing one changes nothing and is dropped), then, if
// the set of active nodes changed, the swarms are recomputed (RecomputeSwarms)
// with randomness drawn from the chain's seed and the height (oxen-core draws
// it from the block hash; here the hash depends on each devnet's secret
// operator wallets, and the seed must give the same swarms everywhere). Only
// when the block is on disk does the clone become the tip. Every walk over
// nodes is in key order, so the same seed and the same transactions make the
// same chain and the same swarms.
//
// A State also remembers the last 32 testing rounds (quorum.go): their
// commits, reveals, quorums, votes and outcomes, which `quorum ls` and
// `quorum inspect` show. The rules read only the newest two. A round keeps
// its votes compactly (round.go: a vote names its target and voter by
// their places in the round's quorums, 24 bytes where a chain.Vote took
// about 200), and a clone of a State shares what can no longer change, so
// a block copies neither the votes nor the older rounds; a round still
// reads and writes as the chain.Round it stands for.
//
// Transactions are signed by Ed25519 keys (wallets are the keys of
// identity.Keys) and carry the signer's nonce against replay. Submit checks a
// transaction against the tip with the pending transactions applied and
// queues it; the next block includes it. State changes (decommission,
// recommission, deregister) come from the testing quorums' votes, or from the
// operator's override signed by the chain's authority key: a random key kept
// in authority.key beside the database (0600), never derived from the seed.
//
// # Persistence
//
// One SQLite database: the blocks as made, an index of transactions, and a
// snapshot of the state every Params.SnapshotEvery blocks and on Close.
// Start loads the newest snapshot and replays the blocks after it, checking
// that each replayed block gives the stored hash. The rules (Params) and the
// genesis allocations are recorded at the first start; a restart keeps them,
// and a database made with another seed is refused.
//
// The types that travel (transactions and their bodies, nodes, swarms,
// rounds, params) are package chain's, which nodes and clients import
// without this state machine; the ledger uses them by that one name.
//
// # Use
//
//	l, err := ledger.New(ledger.Config{Path: "ledger.db", Seed: "demo", BlockTime: time.Second,
//		Genesis: []ledger.Allocation{{Wallet: opKey, Amount: 20_000 * chain.Coin}}})
//	err = l.Start(ctx)
//	defer l.Close()
//	tx, _ := chain.NewTx(chain.TxRegister, opPriv, 0, chain.RegisterBody{NodeKey: nodeKey, Amount: 15_000 * chain.Coin})
//	tx.SignAsNode(nodePriv)
//	hash, err := l.Submit(tx)
//	blocks, err := l.Mine(ctx, 1)
//	owner := chain.SwarmFor(ids, accountID.SwarmSpace())
package ledger
