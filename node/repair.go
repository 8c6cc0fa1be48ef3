package node

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/loop"
	"github.com/sessionctl/sessionctl/storagerpc"
	"golang.org/x/crypto/blake2b"
)

// Replica repair. The real network pushes data only when swarms change, so
// a member that was down while a message was stored (or that a forward timed
// out on) never gets it, and losing the members that have it loses it. The
// devnet goes further: every RepairInterval each node compares what it holds
// with one other member of its swarm, in turn, and pulls what it misses.
//
// What is compared, for the accounts the swarm owns: the hashes of unexpired
// messages, the tombstones of deleted ones (so a delete a member missed
// reaches it, and repair never brings a deleted message back), and the
// subaccount revocations (so a member that was down during a kick refuses the
// kicked member's token too). Expiry changes are not compared.
//
// The exchange stays small: a digest of 64 buckets (by the first character of
// the hash) and of the revocations; then only the hashes of the buckets that
// differ (at most maxRepairList); then the missing records, in batches.
//
//	A -> B  repair_digest {}                 B: {buckets: [64 hex], revocations: hex}
//	A -> B  repair_list {buckets: [i...]}    B: {entries: [{hash, owner, expiry, deleted}], revocations, truncated}
//	A -> B  repair_fetch {hashes: [...]}     B: {messages: [pushRecord...]}

const (
	repairBuckets        = 64
	maxRepairList        = 20_000 // entries in one repair_list answer
	maxRepairFetch       = 100    // hashes in one repair_fetch (at most ~10 MB of data)
	maxRepairRevocations = 10_000 // revocation rows in one answer or push
	// repairMargin leaves out entries about to expire: two members may
	// disagree on them for a moment, and they are gone soon anyway.
	repairMargin = time.Minute
)

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func bucketOf(hash string) int {
	if hash == "" {
		return 0
	}
	return max(strings.IndexByte(b64chars, hash[0]), 0)
}

type repairEntry struct {
	Hash    string `json:"hash"`
	Owner   string `json:"owner"`
	Expiry  int64  `json:"expiry"`
	Deleted bool   `json:"deleted,omitempty"`
}

type digestResult struct {
	Buckets     []string `json:"buckets"`
	Revocations string   `json:"revocations"`
}

type listParams struct {
	Buckets     []int `json:"buckets"`
	Revocations bool  `json:"revocations,omitempty"`
}

type listResult struct {
	Entries     []repairEntry `json:"entries"`
	Revocations []revocation  `json:"revocations,omitempty"`
	Truncated   bool          `json:"truncated,omitempty"`
}

type fetchParams struct {
	Hashes []string `json:"hashes"`
}

// ownedScan walks this node's replica for the accounts its swarm owns.
type ownedScan struct {
	n *Node
	v *view
}

// each calls f, in hash order, with every unexpired message and tombstone of
// an account this swarm owns (a hash that is both, a message stored again
// after its delete, counts as the message), until f returns false. It holds
// no more than one row at a time.
func (o ownedScan) each(ctx context.Context, f func(repairEntry) bool) error {
	return o.eachAt(ctx, o.n.nowMS(), f)
}

// eachAt is each, with now as the time.
func (o ownedScan) eachAt(ctx context.Context, now int64, f func(repairEntry) bool) error {
	mine := map[string]bool{} // owner -> owned here, memoised
	owns := func(owner string) bool {
		ok, seen := mine[owner]
		if !seen {
			id, err := identity.ParseAccountID(owner)
			ok = err == nil && o.v.mine != chain.UnassignedSwarm && o.v.ownerSwarm(id) == o.v.mine
			if len(mine) < 100_000 {
				mine[owner] = ok
			}
		}
		return ok
	}
	last := ""
	return o.n.store.walkEntries(ctx, now+repairMargin.Milliseconds(), func(e entry) bool {
		if e.Hash == last || !owns(e.Owner) {
			return true
		}
		last = e.Hash
		return f(repairEntry{Hash: e.Hash, Owner: e.Owner, Expiry: e.Expiry, Deleted: e.Deleted})
	})
}

// revocations returns the revocations of accounts this swarm owns.
func (o ownedScan) revocations(ctx context.Context) ([]revocation, error) {
	revs, err := o.n.store.revocations(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []revocation
	for _, r := range revs {
		if id, err := identity.ParseAccountID(r.Owner); err == nil && o.v.ownerSwarm(id) == o.v.mine {
			out = append(out, r)
		}
	}
	return out, nil
}

// digestCache is the node's last repair digest and what it held for: the
// store's writes (store.gen), the swarms, and a time before which no entry
// it counted comes within repairMargin of its expiry. A digest read the
// whole replica: every node made its own every RepairInterval and answered
// a member's, so that an idle devnet's CPU grew with the messages it held
// (12 nodes: 5.5 ms a second empty, 12 ms after 432 sends).
type digestCache struct {
	mu    sync.Mutex
	ok    bool
	gen   uint64
	mine  uint64
	swarm []uint64 // the swarm IDs
	from  int64    // unix ms: the node's clock when it was read (a clock set back does not reuse it)
	until int64
	d     digestResult
	revs  []revocation
}

// digest is the digest of the replica's entries and revocations for the
// accounts this swarm owns, and those revocations; the caller must not
// change either (they may be the cache's).
func (o ownedScan) digest(ctx context.Context) (digestResult, []revocation, error) {
	c := &o.n.digests
	gen := o.n.store.gen.Load() // (before the reads: a write after them makes it stale)
	now := o.n.nowMS()
	c.mu.Lock()
	if c.ok && c.gen == gen && c.mine == o.v.mine && c.from <= now && now < c.until && slices.Equal(c.swarm, o.v.swarmIDs) {
		d, revs := c.d, c.revs
		c.mu.Unlock()
		return d, revs, nil
	}
	c.mu.Unlock()
	d, revs, until, err := o.scanDigest(ctx, now)
	if err != nil {
		return digestResult{}, nil, err
	}
	c.mu.Lock()
	c.ok, c.gen, c.mine, c.swarm, c.from, c.until, c.d, c.revs = true, gen, o.v.mine, o.v.swarmIDs, now, until, d, revs
	c.mu.Unlock()
	return d, revs, nil
}

// scanDigest reads the digest from the store, and the time until which it
// holds if nothing is written: the earliest expiry it counted, less
// repairMargin.
func (o ownedScan) scanDigest(ctx context.Context, now int64) (digestResult, []revocation, int64, error) {
	hs := make([]*blake2bState, repairBuckets)
	for i := range hs {
		hs[i] = newDigest()
	}
	until := int64(math.MaxInt64)
	err := o.eachAt(ctx, now, func(e repairEntry) bool {
		mark := "+"
		if e.Deleted {
			mark = "-"
		}
		hs[bucketOf(e.Hash)].add(e.Hash + mark)
		until = min(until, e.Expiry-repairMargin.Milliseconds())
		return true
	})
	if err != nil {
		return digestResult{}, nil, 0, err
	}
	out := digestResult{Buckets: make([]string, repairBuckets)}
	for i, h := range hs {
		out.Buckets[i] = h.sum()
	}
	revs, err := o.revocations(ctx)
	if err != nil {
		return digestResult{}, nil, 0, err
	}
	r := newDigest()
	for _, x := range revs {
		r.add(x.Owner + "|" + x.Token + "|" + strconv.FormatInt(x.Added, 10) + "|" + strconv.FormatBool(x.Revoked))
	}
	out.Revocations = r.sum()
	return out, revs, until, nil
}

type blake2bState struct{ h hash.Hash }

func newDigest() *blake2bState {
	h, _ := blake2b.New256(nil) // no key: cannot fail
	return &blake2bState{h}
}

// add feeds one item; items are fed in sorted order, so equal sets give
// equal digests.
func (d *blake2bState) add(s string) {
	d.h.Write([]byte(s))
	d.h.Write([]byte{0})
}

func (d *blake2bState) sum() string { return hex.EncodeToString(d.h.Sum(nil)[:16]) }

// repairMethod answers the repair methods on the swarm protocol.
func (n *Node) repairMethod(ctx context.Context, method string, raw json.RawMessage) storagerpc.Response {
	v := n.view.Load()
	if v == nil {
		return errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet").response()
	}
	o := ownedScan{n, v}
	switch method {
	case "repair_digest":
		d, _, err := o.digest(ctx)
		if err != nil {
			n.log.Error().Err(err).Msg("repair: read state")
			return errf(storagerpc.StatusInternal, "storage failure").response()
		}
		return okResponse(d)
	case "repair_list":
		var p listParams
		if e := decodeParams(raw, &p); e != nil {
			return e.response()
		}
		want := map[int]bool{}
		for _, b := range p.Buckets {
			if b < 0 || b >= repairBuckets {
				return errf(storagerpc.StatusBadRequest, "bucket %d: want 0 to %d", b, repairBuckets-1).response()
			}
			want[b] = true
		}
		res := listResult{Entries: []repairEntry{}}
		err := o.each(ctx, func(e repairEntry) bool {
			if !want[bucketOf(e.Hash)] {
				return true
			}
			if len(res.Entries) == maxRepairList {
				res.Truncated = true
				return false
			}
			res.Entries = append(res.Entries, e)
			return true
		})
		if err == nil && p.Revocations {
			res.Revocations, err = o.revocations(ctx)
			if len(res.Revocations) > maxRepairRevocations {
				res.Revocations, res.Truncated = res.Revocations[:maxRepairRevocations], true
			}
		}
		if err != nil {
			n.log.Error().Err(err).Msg("repair: read state")
			return errf(storagerpc.StatusInternal, "storage failure").response()
		}
		return okResponse(res)
	case "repair_fetch":
		var p fetchParams
		if e := decodeParams(raw, &p); e != nil {
			return e.response()
		}
		if len(p.Hashes) > maxRepairFetch {
			return errf(storagerpc.StatusBadRequest, "want at most %d hashes", maxRepairFetch).response()
		}
		recs, err := n.store.byHashes(ctx, p.Hashes)
		if err != nil {
			return errf(storagerpc.StatusInternal, "storage failure").response()
		}
		out := pushParams{Messages: []pushRecord{}}
		for _, r := range recs {
			if id, err := identity.ParseAccountID(r.Owner); err == nil && v.ownerSwarm(id) == v.mine {
				out.Messages = append(out.Messages, pushRecord{Hash: r.Hash, Owner: r.Owner, Namespace: r.Namespace,
					Timestamp: r.Timestamp, Expiry: r.Expiry, Data: base64.StdEncoding.EncodeToString(r.Data)})
			}
		}
		return okResponse(out)
	}
	return errf(storagerpc.StatusBadRequest, "unknown method").response()
}

// RepairStats is what one repair with one member changed here.
type RepairStats struct {
	Pulled      int // messages this node lacked and took
	Buried      int // messages deleted elsewhere and now here
	Revocations int // revocation changes taken
}

// Repair compares this node's replica with every other member of its swarm
// now, pulling what it lacks, and returns the total of what changed. The
// repair loop does the same with one member every RepairInterval.
func (n *Node) Repair(ctx context.Context) (RepairStats, error) {
	v := n.view.Load()
	if v == nil {
		return RepairStats{}, fmt.Errorf("node: not ready")
	}
	var total RepairStats
	var errs []error
	for _, k := range v.members[v.mine] {
		if k == n.pubHex {
			continue
		}
		st, err := n.repairWith(ctx, v, k)
		total.Pulled += st.Pulled
		total.Buried += st.Buried
		total.Revocations += st.Revocations
		if err != nil {
			errs = append(errs, fmt.Errorf("repair with %s: %w", n.nameOf(k), err))
		}
	}
	if len(errs) > 0 {
		return total, errs[0]
	}
	return total, nil
}

// catchUpFor bounds how long a restarted node refuses reads while no
// member of its swarm answers: past it, it serves what it has.
const catchUpFor = 30 * time.Second

// catchUp repairs with every member of the swarm once the node has its
// first view, and lets clients read (Node.behind) once one repair went
// through, or no member is there to repair with, or catchUpFor passed.
func (n *Node) catchUp(ctx context.Context) {
	defer n.wg.Done()
	defer n.behind.Store(false)
	start := time.Now()
	select {
	case <-ctx.Done():
		return
	case <-n.ready:
	}
	for ctx.Err() == nil && time.Since(start) < catchUpFor {
		v := n.view.Load()
		done, peers := 0, 0
		for _, k := range v.members[v.mine] {
			if k == n.pubHex {
				continue
			}
			peers++
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := n.repairWith(rctx, v, k); err == nil {
				done++
			}
			cancel()
		}
		if done > 0 || peers == 0 {
			n.log.Info().Int("members", done).Dur("took", time.Since(start)).Msg("caught up with the swarm")
			return
		}
		sleep(ctx, time.Second)
	}
	n.log.Warn().Msg("no member of the swarm answered: serving what this node holds")
}

// repairLoop repairs with one member of the swarm at a time, in turn,
// every RepairInterval, on a goroutine only while it works
// (loop.Schedule); the caller counted it in n.wg.
func (n *Node) repairLoop(ctx context.Context) {
	turn := 0
	loop.Schedule(ctx, n.cfg.RepairInterval, func(ctx context.Context) {
		v := n.view.Load()
		if v == nil || v.mine == chain.UnassignedSwarm {
			return
		}
		var peers []string
		for _, k := range v.members[v.mine] {
			if k != n.pubHex {
				peers = append(peers, k)
			}
		}
		if len(peers) == 0 {
			return
		}
		turn++
		k := peers[turn%len(peers)]
		st, err := n.repairWith(ctx, v, k)
		switch {
		case err != nil && ctx.Err() == nil:
			n.log.Debug().Err(err).Str("with", n.nameOf(k)).Msg("repair")
		case st != RepairStats{}:
			n.log.Info().Str("with", n.nameOf(k)).Int("pulled", st.Pulled).Int("buried", st.Buried).Int("revocations", st.Revocations).Msg("replica repaired")
		}
	}, n.wg.Done)
}

func (n *Node) swarmCall(ctx context.Context, v *view, to, method string, params, out any) error {
	pid, ok := v.peers[to]
	if !ok {
		return fmt.Errorf("unknown node")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := storagerpc.Call(cctx, n.out(), pid, storagerpc.ProtocolSwarm, method, params)
	if err != nil {
		return err
	}
	if resp.Code != storagerpc.StatusOK {
		return resp.Err()
	}
	return resp.Decode(out)
}

// repairWith brings this node's replica up to date with member k's.
func (n *Node) repairWith(ctx context.Context, v *view, k string) (RepairStats, error) {
	var st RepairStats
	o := ownedScan{n, v}
	ours, _, err := o.digest(ctx)
	if err != nil {
		return st, err
	}
	var theirs digestResult
	if err := n.swarmCall(ctx, v, k, "repair_digest", struct{}{}, &theirs); err != nil {
		return st, err
	}
	if len(theirs.Buckets) != repairBuckets {
		return st, fmt.Errorf("malformed digest")
	}
	var lp listParams
	differ := map[int]bool{}
	for i := range repairBuckets {
		if ours.Buckets[i] != theirs.Buckets[i] {
			lp.Buckets = append(lp.Buckets, i)
			differ[i] = true
		}
	}
	lp.Revocations = ours.Revocations != theirs.Revocations
	if len(lp.Buckets) == 0 && !lp.Revocations {
		return st, nil
	}
	var list listResult
	if err := n.swarmCall(ctx, v, k, "repair_list", lp, &list); err != nil {
		return st, err
	}
	if len(list.Entries) > maxRepairList || len(list.Revocations) > maxRepairRevocations {
		return st, fmt.Errorf("oversized repair list")
	}
	if _, e := n.mergeOwned(ctx, v, list.Revocations); e != nil {
		return st, fmt.Errorf("merge revocations: %s", e.msg)
	}
	if lp.Revocations {
		st.Revocations = len(list.Revocations) // an upper bound; the digests converge
	}
	// What this node holds in the buckets that differ (bounded like the list).
	have := map[string]bool{} // hash -> is a tombstone
	if err := o.each(ctx, func(e repairEntry) bool {
		if differ[bucketOf(e.Hash)] {
			have[e.Hash] = e.Deleted
		}
		return len(have) < 2*maxRepairList
	}); err != nil {
		return st, err
	}
	var missing []string
	var tombs []entry
	now := n.nowMS()
	for _, e := range list.Entries {
		id, err := identity.ParseAccountID(e.Owner)
		if err != nil || v.ownerSwarm(id) != v.mine || e.Expiry <= now {
			continue
		}
		deleted, known := have[e.Hash]
		switch {
		case e.Deleted && (!known || !deleted):
			tombs = append(tombs, entry{Hash: e.Hash, Owner: e.Owner, Expiry: e.Expiry, Deleted: true})
		case !e.Deleted && !known:
			missing = append(missing, e.Hash)
		}
	}
	if len(tombs) > 0 {
		b, err := n.store.bury(ctx, tombs)
		if err != nil {
			return st, err
		}
		st.Buried = b
	}
	for len(missing) > 0 {
		batch := missing[:min(len(missing), maxRepairFetch)]
		missing = missing[len(batch):]
		var got pushParams
		if err := n.swarmCall(ctx, v, k, "repair_fetch", fetchParams{Hashes: batch}, &got); err != nil {
			return st, err
		}
		raw, _ := json.Marshal(pushParams{Messages: got.Messages})
		resp := n.acceptPush(ctx, raw)
		var res pushResult
		if resp.Code != storagerpc.StatusOK || json.Unmarshal(resp.Body, &res) != nil {
			return st, resp.Err()
		}
		st.Pulled += res.Accepted
	}
	return st, nil
}

// mergeOwned merges revocation rows of accounts this node's swarm owns and
// returns how many changed a token's state here.
func (n *Node) mergeOwned(ctx context.Context, v *view, rows []revocation) (int, *rpcError) {
	var keep []revocation
	for _, r := range rows {
		if id, err := identity.ParseAccountID(r.Owner); err == nil && v.ownerSwarm(id) == v.mine {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		return 0, nil
	}
	changed, err := n.store.mergeRevocations(ctx, keep, maxRevoked)
	if err != nil {
		n.log.Error().Err(err).Msg("merge revocations")
		return 0, errf(storagerpc.StatusInternal, "storage failure")
	}
	return changed, nil
}
