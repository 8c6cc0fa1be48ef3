package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// Peer testing (SPEC 7, in devnet blocks; see ledger/quorum.go for the
// rounds). With each block a node sends its uptime proof when one is due,
// commits to and reveals its round secret, and, when it is a member of a
// round's quorum, tests each of the quorum's targets and votes:
//
//   - the storage RPC answers "info";
//   - the onion hop answers an empty onion request with "path built";
//   - the target's last uptime proof is fresh;
//   - the storage test the real network plans: a member of the target's swarm
//     (this node, if it is one) gives a sample of record hashes and a hash
//     over their data with a fresh nonce; the target must give the same hash
//     for the same records, which it can only do if it holds their data.

// rounds holds the node's state of the testing rounds (the peer tests of
// SPEC 7: "testing" in this package means these, not Go tests).
type rounds struct {
	mu        sync.Mutex
	lastProof uint64            // height an uptime proof was last sent at
	secrets   map[uint64][]byte // round -> the secret committed to
	revealed  map[uint64]bool   //
	voted     map[string]bool   // "round/target" -> vote sent; this round's and the last
	votedMax  uint64            // the newest round with votes: older ones are forgotten
	running   map[string]bool   // tests under way
	slots     chan struct{}     // tests that may run at once (testConcurrency)
	qRound    uint64            // the round whose quorums are in quorums
	quorums   []chain.Quorum    // the quorums of round qRound this node is a member of
	txMu      sync.Mutex        // one transaction at a time: nonces
	work      runner            // the work of each new block (roundWork)
	height    atomic.Uint64     // the newest block seen, for work
	blockMS   atomic.Int64      // the ledger's block time (0: blocks on demand)
}

func newRounds() rounds {
	return rounds{secrets: map[uint64][]byte{}, revealed: map[uint64]bool{}, voted: map[string]bool{}, running: map[string]bool{},
		slots: make(chan struct{}, testConcurrency)}
}

// notifyHeight starts the round work of a new block (follow calls it),
// or, while the work of an earlier one runs, has it done next: for the
// newest block then, the ones in between skipped.
func (n *Node) notifyHeight(ctx context.Context, h uint64) {
	n.rounds.height.Store(h)
	n.rounds.work.wake(ctx, &n.wg, func() { n.roundWork(ctx, n.rounds.height.Load()) })
}

// submitTx signs and submits a transaction of the node's, with its next nonce.
func (n *Node) submitTx(ctx context.Context, t chain.TxType, body any) error {
	n.rounds.txMu.Lock()
	defer n.rounds.txMu.Unlock()
	acct, err := n.cfg.Ledger.Account(ctx, n.pubHex)
	if err != nil {
		return err
	}
	tx, err := chain.NewTx(t, n.cfg.Key, acct.NextNonce, body)
	if err != nil {
		return err
	}
	_, err = n.cfg.Ledger.Submit(ctx, tx)
	return err
}

func (n *Node) roundWork(ctx context.Context, h uint64) {
	v := n.view.Load()
	if v == nil {
		return
	}
	p := v.params
	me, ok := v.nodes[n.pubHex]
	if !ok || me.State == chain.StateAwaiting || me.State == chain.StateDeregistered {
		return
	}
	next := h + 1
	n.rounds.mu.Lock()
	proofDue := p.ProofInterval > 0 && (n.rounds.lastProof == 0 || next-n.rounds.lastProof >= p.ProofInterval)
	if proofDue {
		n.rounds.lastProof = next
	}
	n.rounds.mu.Unlock()
	if proofDue {
		if err := n.submitTx(ctx, chain.TxUptimeProof, chain.UptimeProofBody{Version: "sessionctl"}); err != nil {
			n.log.Debug().Err(err).Msg("uptime proof")
		}
	}
	if p.RoundBlocks == 0 || me.State != chain.StateActive && me.State != chain.StateDecommissioned {
		return
	}
	r := p.RoundOf(next)
	switch p.RoundPhase(next) {
	case "commit":
		n.commitRound(ctx, r, me.State)
	case "reveal":
		n.revealRound(ctx, r)
	case "test":
		n.testRound(ctx, v, r, h)
	}
}

func (n *Node) commitRound(ctx context.Context, r uint64, st chain.NodeState) {
	if st != chain.StateActive {
		return
	}
	n.rounds.mu.Lock()
	if _, done := n.rounds.secrets[r]; done {
		n.rounds.mu.Unlock()
		return
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	n.rounds.secrets[r] = secret
	delete(n.rounds.secrets, r-10)
	n.rounds.mu.Unlock()
	if err := n.submitTx(ctx, chain.TxCommit, chain.CommitBody{Round: r, Hash: chain.CommitHash(secret)}); err != nil {
		n.log.Debug().Err(err).Uint64("round", r).Msg("commit")
	}
}

func (n *Node) revealRound(ctx context.Context, r uint64) {
	n.rounds.mu.Lock()
	secret, ok := n.rounds.secrets[r]
	if !ok || n.rounds.revealed[r] {
		n.rounds.mu.Unlock()
		return
	}
	n.rounds.revealed[r] = true
	delete(n.rounds.revealed, r-10)
	n.rounds.mu.Unlock()
	if err := n.submitTx(ctx, chain.TxReveal, chain.RevealBody{Round: r, Secret: hex.EncodeToString(secret)}); err != nil {
		n.log.Debug().Err(err).Uint64("round", r).Msg("reveal")
	}
}

// testConcurrency is how many tests a node runs at once. A quorum member
// has up to 50 targets a round; started all at once, 400 members of a
// 2,000-node devnet made 20,000 tests at the same instant, whose 3-second
// checks then timed out and voted healthy nodes down. Queued, a test's
// timeout runs from when it starts.
const testConcurrency = 4

// TestSlots is a bound on tests at once shared by nodes (Config.TestSlots).
type TestSlots chan struct{}

// NewTestSlots makes a bound of n tests at once.
func NewTestSlots(n int) TestSlots { return make(TestSlots, max(1, n)) }

// testRound tests every target of the quorums this node is a member of in
// round r (testConcurrency at a time), and votes.
func (n *Node) testRound(ctx context.Context, v *view, r, h uint64) {
	p := v.params
	for _, q := range n.myQuorums(ctx, v, r, h) {
		for i, t := range q.Targets {
			// In the long rounds of a big devnet (ParamsFor), the tests are
			// spread over the first 80% of the test phase (testSchedule),
			// instead of all at once: 400 members starting 50 tests each in
			// the same block saturated a 2-core machine, tests that then
			// timed out voted healthy nodes off the network, and clients'
			// requests waited seconds behind the handshakes.
			var wait time.Duration
			if p.RoundBlocks > 20 && len(q.Targets) > 1 {
				due, w := testSchedule(p, r, h, i, len(q.Targets), testJitter(n.pubHex, t), time.Duration(n.rounds.blockMS.Load())*time.Millisecond)
				if !due {
					continue
				}
				wait = w
			}
			key := fmt.Sprintf("%d/%s", r, t)
			n.rounds.mu.Lock()
			if r > n.rounds.votedMax {
				// A new round: the votes of rounds before the last are done with.
				for k := range n.rounds.voted {
					if kr, _, _ := strings.Cut(k, "/"); kr != strconv.FormatUint(r, 10) && kr != strconv.FormatUint(n.rounds.votedMax, 10) {
						delete(n.rounds.voted, k)
					}
				}
				n.rounds.votedMax = r
			}
			busy := n.rounds.voted[key] || n.rounds.running[key]
			if !busy {
				n.rounds.running[key] = true
			}
			n.rounds.mu.Unlock()
			if busy {
				continue
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				if wait > 0 && !sleepCtx(ctx, wait) {
					n.rounds.mu.Lock()
					delete(n.rounds.running, key)
					n.rounds.mu.Unlock()
					return
				}
				shared := n.cfg.TestSlots
				select {
				case n.rounds.slots <- struct{}{}:
				case <-ctx.Done():
					n.rounds.mu.Lock()
					delete(n.rounds.running, key)
					n.rounds.mu.Unlock()
					return
				}
				if shared != nil {
					select {
					case shared <- struct{}{}:
					case <-ctx.Done():
						<-n.rounds.slots
						n.rounds.mu.Lock()
						delete(n.rounds.running, key)
						n.rounds.mu.Unlock()
						return
					}
				}
				tctx, cancel := n.roundDeadline(ctx, r)
				pass, reason := n.testNode(tctx, v, t, h)
				if shared != nil {
					<-shared
				}
				// Late: the round's deadline passed, or all but passed (a
				// stream's own deadline, set from it, may fire first).
				deadline, bounded := tctx.Deadline()
				late := ctx.Err() == nil && (tctx.Err() != nil || bounded && time.Until(deadline) < 50*time.Millisecond)
				cancel()
				<-n.rounds.slots
				if late && !pass && reason != reasonNoConnection {
					// Connected, but the round ended before the answers:
					// no verdict (a slow answer is not a dead node). The
					// connection may be dead (a cut drops packets without a
					// word): closed, the next try in this round dials anew,
					// and a dial that fails is a verdict.
					if pid, ok := v.peers[t]; ok {
						n.host.Network().ClosePeer(pid)
					}
					n.rounds.mu.Lock()
					delete(n.rounds.running, key)
					n.rounds.mu.Unlock()
					n.log.Debug().Str("target", n.nameOf(t)).Uint64("round", r).Str("reason", reason).Msg("test inconclusive: the round ended first")
					return
				}
				err := n.submitTx(ctx, chain.TxVote, chain.VoteBody{Round: r, Target: t, Pass: pass, Reason: reason})
				n.rounds.mu.Lock()
				delete(n.rounds.running, key)
				if err == nil {
					n.rounds.voted[key] = true
				}
				n.rounds.mu.Unlock()
				if err != nil {
					n.log.Debug().Err(err).Str("target", n.nameOf(t)).Msg("vote")
					return
				}
				ev := n.log.Debug()
				if !pass {
					ev = n.log.Info()
				}
				ev.Str("target", n.nameOf(t)).Bool("pass", pass).Str("reason", reason).Uint64("round", r).Msg("voted")
			}()
		}
	}
}

// testSchedule says whether the test of the i-th of a quorum's n targets in
// round r is due once block h is seen, and how long after that block it
// starts. The first 80% of the test phase is cut in n equal parts, one a
// target, and each member starts its test of a target at jitter (its own
// fraction, in [0, 1): testJitter) of that target's part. A test whose
// start falls in block h+1's interval waits for it (bt, the block time, is
// its length: 0, blocks on demand, waits for nothing); one whose start
// has passed starts at once. So the tests of a round start one after
// another through the phase, rather than a burst each block: the members
// of a quorum, which test the same target in the same part, are spread
// over it too.
func testSchedule(p chain.Params, r, h uint64, i, n int, jitter float64, bt time.Duration) (due bool, wait time.Duration) {
	start, end := p.QuorumHeight(r), p.RoundStart(r+1)
	window := float64((end - start) * 4 / 5)
	at := float64(start) + (float64(i)+jitter)/float64(n)*window // in blocks
	if at < float64(h+1) {
		return true, 0
	}
	if at >= float64(h+2) {
		return false, 0
	}
	return true, time.Duration((at - float64(h+1)) * float64(bt))
}

// testJitter is tester's fraction of a target's part of the test phase, in
// [0, 1): fixed by the two keys.
func testJitter(tester, target string) float64 {
	sum := blake2b.Sum256([]byte(tester + "/" + target))
	return float64(uint64(sum[0])<<16|uint64(sum[1])<<8|uint64(sum[2])) / (1 << 24)
}

// sleepCtx waits d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// roundDeadline bounds a test of round r by the time its vote can still
// count: the tally comes with block RoundStart(r+1), before that block's
// transactions, so a vote must be in the block before. A target that does
// not answer by then (a host cut off drops packets: a dial waits for its
// timeout) gets a failing vote that counts, rather than a vote too late for
// its round. Blocks on demand have no schedule: no bound.
func (n *Node) roundDeadline(ctx context.Context, r uint64) (context.Context, context.CancelFunc) {
	v := n.view.Load()
	bt := time.Duration(n.rounds.blockMS.Load()) * time.Millisecond
	if v == nil || bt <= 0 {
		return context.WithCancel(ctx)
	}
	last := v.params.RoundStart(r+1) - 1 // the last block a vote of round r may be in
	blocks := time.Duration(0)
	if last > v.height {
		blocks = time.Duration(last - v.height)
	}
	return context.WithTimeout(ctx, blocks*bt-bt/4)
}

// myQuorums returns the quorums of round r this node is a member of. The
// quorums are fixed once drawn, so they are asked of the ledger once a
// round, not each block (a round's record holds every vote: 20,000 at
// 2,000 nodes, copied for each asking node).
func (n *Node) myQuorums(ctx context.Context, v *view, r, h uint64) []chain.Quorum {
	n.rounds.mu.Lock()
	if n.rounds.qRound == r && n.rounds.quorums != nil {
		defer n.rounds.mu.Unlock()
		return n.rounds.quorums
	}
	n.rounds.mu.Unlock()
	at := v.params.RoundOf(h+1) * v.params.RoundBlocks
	var rd chain.Round
	var err error
	if qs, ok := n.cfg.Ledger.(QuorumSource); ok {
		rd, err = qs.QuorumsAt(ctx, at)
	} else {
		rd, err = n.cfg.Ledger.RoundAt(ctx, at)
	}
	if err != nil || rd.Round != r || len(rd.Quorums) == 0 {
		return nil
	}
	mine := []chain.Quorum{}
	for _, q := range rd.Quorums {
		if slices.Contains(q.Members, n.pubHex) {
			mine = append(mine, q)
		}
	}
	n.rounds.mu.Lock()
	n.rounds.qRound, n.rounds.quorums = r, mine
	n.rounds.mu.Unlock()
	return mine
}

// reasonNoConnection is the verdict on a node no connection could be made to.
const reasonNoConnection = "storage rpc unreachable: no connection"

// testTimeout bounds each check of a test.
const testTimeout = 3 * time.Second

// testNode runs the checks on target and returns the verdict.
func (n *Node) testNode(ctx context.Context, v *view, target string, h uint64) (bool, string) {
	pid, ok := v.peers[target]
	sn, known := v.nodes[target]
	if !ok || !known {
		return false, "not a registered node"
	}
	// Dial even if earlier dials failed: libp2p backs off from a peer it
	// could not reach (up to 5 minutes), and a node back after a network
	// cut must be tested, not failed for the tester's memory of the cut.
	ctx = network.WithForceDirectDial(ctx, "quorum test")
	// The connection made (or found) is kept for the test's calls: the
	// connection manager trims idle ones past its high watermark, and a
	// trimmed one would be dialled again, a handshake more, mid-test.
	tag := "test/" + strconv.FormatUint(h, 10)
	n.host.ConnManager().Protect(pid, tag)
	defer n.host.ConnManager().Unprotect(pid, tag)
	// A connection first: that none can be made within the round is a
	// verdict (a host cut off); what fails later may be the round's end.
	if h := n.out(); h.Network().Connectedness(pid) != network.Connected {
		n.addrsFor(pid)
		if err := h.Connect(ctx, peer.AddrInfo{ID: pid}); err != nil {
			n.log.Info().Err(err).Str("target", n.nameOf(target)).Msg("test: no connection")
			return false, reasonNoConnection
		}
	}
	// Twice: a connection that could not be made in time on a loaded
	// machine is tried again before it counts against the target.
	var resp *storagerpc.Response
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, testTimeout)
		resp, err = storagerpc.Call(tctx, n.out(), pid, storagerpc.ProtocolStorage, "info", struct{}{})
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil || resp.Code != storagerpc.StatusOK {
		n.log.Info().Err(err).Str("target", n.nameOf(target)).Msg("test: the storage rpc did not answer")
		return false, "storage rpc unreachable"
	}
	x, _ := hex.DecodeString(sn.X25519)
	req, key, err := onion.Build(rand.Reader, nil, onion.Hop{Ed25519: target, X25519: [32]byte(x)}, nil, onion.XChaCha20)
	if err != nil {
		return false, "cannot build an onion request"
	}
	var status int
	var body []byte
	for attempt := 0; attempt < 2; attempt++ { // twice, as the storage check
		tctx, cancel := context.WithTimeout(ctx, testTimeout)
		status, body, err = onion.Send(tctx, n.out(), pid, 1, req)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil || status != onion.StatusOK {
		return false, "onion hop unreachable"
	}
	if reply, err := key.OpenReply(body); err != nil || !bytes.Contains(reply, []byte("path built")) {
		return false, "onion hop answered wrongly"
	}
	if me, err := n.cfg.Ledger.Node(ctx, target); err == nil && v.params.ProofValidity > 0 && h > me.LastProof+v.params.ProofValidity {
		return false, "no recent uptime proof"
	}
	if ok, reason := n.storageTest(ctx, v, target, sn); !ok {
		return false, reason
	}
	return true, ""
}

// storageParams is the swarm protocol's storage_sample and storage_test.
type storageParams struct {
	Nonce  string   `json:"nonce"`            // 32 bytes, hex
	Hashes []string `json:"hashes,omitempty"` // storage_test: the records to prove
}

type storageAnswer struct {
	Hashes []string `json:"hashes,omitempty"`
	Proof  string   `json:"proof"` // hex BLAKE2b-32(nonce || each record's data, in the order given)
}

// storageTest checks that target holds records its swarm holds.
func (n *Node) storageTest(ctx context.Context, v *view, target string, sn chain.ServiceNode) (bool, string) {
	if sn.State != chain.StateActive || sn.SwarmID == chain.UnassignedSwarm {
		return true, "" // in no swarm: nothing to hold
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	var sample storageAnswer
	if sn.SwarmID == v.mine {
		s, err := n.sample(ctx, nonce)
		if err != nil {
			return true, ""
		}
		sample = s
	} else {
		from, ok := n.samplePeer(v, sn.SwarmID, target)
		if !ok {
			return true, ""
		}
		tctx, cancel := context.WithTimeout(ctx, testTimeout)
		resp, err := storagerpc.Call(tctx, n.out(), from, storagerpc.ProtocolSwarm, "storage_sample", storageParams{Nonce: hex.EncodeToString(nonce)})
		cancel()
		if err != nil || resp.Decode(&sample) != nil {
			return true, "" // no sample to test with: the target is not to blame
		}
	}
	if len(sample.Hashes) == 0 {
		return true, ""
	}
	tctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	resp, err := storagerpc.Call(tctx, n.out(), v.peers[target], storagerpc.ProtocolSwarm, "storage_test", storageParams{Nonce: hex.EncodeToString(nonce), Hashes: sample.Hashes})
	var got storageAnswer
	if err != nil || resp.Decode(&got) != nil {
		return false, "storage test unanswered"
	}
	if got.Proof != sample.Proof {
		return false, "storage test failed: the data is not held"
	}
	return true, ""
}

// samplePeer picks the member of swarm (other than target) to ask for a
// sample: one this node is connected to already, when there is one (a
// connection reused rather than a Noise handshake more, most of a test's
// CPU), else one at random.
func (n *Node) samplePeer(v *view, swarm uint64, target string) (peer.ID, bool) {
	var peers, connected []peer.ID
	for _, k := range v.members[swarm] {
		pid, ok := v.peers[k]
		if k == target || !ok {
			continue
		}
		peers = append(peers, pid)
		if n.host.Network().Connectedness(pid) == network.Connected {
			connected = append(connected, pid)
		}
	}
	if len(connected) > 0 {
		peers = connected
	}
	if len(peers) == 0 {
		return "", false
	}
	i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(peers))))
	return peers[i.Int64()], true
}

// minSampleAge keeps fresh records out of samples: replication may not
// have reached every member yet.
const minSampleAge = 5 * time.Second

// sampleAge is how old a record must be to be sampled: three repair
// intervals (30 s by default). A store that missed a member (one whose
// address was not on the ledger yet, or cut off a moment) reaches it only
// through repair; sampled sooner, members that joined a moment ago were
// voted down for records nobody had given them yet.
func (n *Node) sampleAge() time.Duration {
	if ri := n.cfg.RepairInterval; ri > 0 {
		return max(minSampleAge, 3*ri)
	}
	return minSampleAge
}

// sample picks up to 5 of this node's older records and proves them.
func (n *Node) sample(ctx context.Context, nonce []byte) (storageAnswer, error) {
	recs, err := n.store.page(ctx, 0, 200, n.nowMS())
	if err != nil {
		return storageAnswer{}, err
	}
	cutoff := n.nowMS() - n.sampleAge().Milliseconds()
	v := n.view.Load()
	if v == nil {
		return storageAnswer{}, errors.New("the node has not loaded the swarms yet")
	}
	var pool []*record
	for _, r := range recs {
		if r.Timestamp > cutoff {
			continue
		}
		if id, err := identity.ParseAccountID(r.Owner); err == nil && v.ownerSwarm(id) == v.mine {
			pool = append(pool, r)
		}
	}
	var out storageAnswer
	for len(out.Hashes) < 5 && len(pool) > 0 {
		i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(pool))))
		out.Hashes = append(out.Hashes, pool[i.Int64()].Hash)
		pool = append(pool[:i.Int64()], pool[i.Int64()+1:]...)
	}
	proof, err := n.prove(ctx, nonce, out.Hashes)
	out.Proof = proof
	return out, err
}

// prove hashes nonce and the data of the given records, as held here.
func (n *Node) prove(ctx context.Context, nonce []byte, hashes []string) (string, error) {
	h, _ := blake2b.New256(nil)
	h.Write(nonce)
	for _, hash := range hashes {
		data, err := n.store.data(ctx, hash)
		if err != nil {
			return "", err
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// storageSwarmMethod answers storage_sample and storage_test on the swarm protocol.
func (n *Node) storageSwarmMethod(ctx context.Context, method string, raw json.RawMessage) storagerpc.Response {
	var p storageParams
	if e := decodeParams(raw, &p); e != nil {
		return e.response()
	}
	nonce, err := hex.DecodeString(p.Nonce)
	if err != nil || len(nonce) != 32 || len(p.Hashes) > 20 {
		return errf(storagerpc.StatusBadRequest, "want a 32-byte nonce and at most 20 hashes").response()
	}
	if method == "storage_sample" {
		s, err := n.sample(ctx, nonce)
		if err != nil {
			return errf(storagerpc.StatusInternal, "storage failure").response()
		}
		return okResponse(s)
	}
	proof, err := n.prove(ctx, nonce, p.Hashes)
	if err != nil {
		return errf(storagerpc.StatusInternal, "storage failure").response()
	}
	return okResponse(storageAnswer{Proof: proof})
}
