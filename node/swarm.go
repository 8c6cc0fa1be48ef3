package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The swarm protocol carries what nodes send each other: requests a swarm
// member forwards (store, delete, expire... with "recurse" off: the receiver
// acts alone and answers with its own signed result) and "push", the records
// that move when swarms change (SPEC 3). Only registered service nodes may
// speak it.

// maxPushSize bounds one push: a batch of records.
const maxPushSize = 8 << 20

// pushRecord is a record as pushed between nodes.
type pushRecord struct {
	Hash      string               `json:"hash"`
	Owner     string               `json:"owner"`
	Namespace storagerpc.Namespace `json:"namespace"`
	Timestamp int64                `json:"timestamp"`
	Expiry    int64                `json:"expiry"`
	Data      string               `json:"data"` // base64
}

type pushParams struct {
	Messages []pushRecord `json:"messages"`
	// Revocations of the records' owners travel with them: a member that
	// takes an account's messages takes what authorises its requests too.
	Revocations []revocation `json:"revocations,omitempty"`
}

type pushResult struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
}

func (n *Node) handleSwarm(s network.Stream) {
	ctx, cancel := n.streamDeadline(s, 0)
	defer cancel()
	ctx, body, release, rerr := n.admitSwarm(ctx, s.Conn().RemotePeer(), s)
	defer release()
	if rerr != nil {
		n.refuse(s, rerr, maxSwarmRequest)
		return
	}
	writeResponse(s, n.swarmRequest(ctx, body))
}

// maxSwarmRequest bounds a request of the swarm protocol: a push.
const maxSwarmRequest = maxPushSize + storagerpc.MaxRequestSize

// admitSwarm takes a request of the swarm protocol in from remote, which
// must be a registered service node (admit; its requests are not counted
// against a rate: repair and replication are bounded by the members' own
// schedules).
func (n *Node) admitSwarm(ctx context.Context, remote peer.ID, r io.Reader) (context.Context, []byte, func(), *rpcError) {
	v := n.view.Load()
	if v == nil {
		return ctx, nil, func() {}, errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet")
	}
	if _, ok := v.byPeer[remote]; !ok {
		return ctx, nil, func() {}, errf(storagerpc.StatusUnauthorized, "only registered service nodes may use the swarm protocol")
	}
	return n.admit(ctx, peerClient(remote), false, r, maxSwarmRequest, swarmClass)
}

// swarmRequest answers a request of the swarm protocol.
func (n *Node) swarmRequest(ctx context.Context, body []byte) storagerpc.Response {
	req, rerr := decodeRequest(body)
	if rerr != nil {
		return rerr.response()
	}
	switch req.Method {
	case "push":
		return n.acceptPush(ctx, req.Params)
	case "storage_sample", "storage_test":
		return n.storageSwarmMethod(ctx, req.Method, req.Params)
	case "repair_digest", "repair_list", "repair_fetch":
		return n.repairMethod(ctx, req.Method, req.Params)
	case "revocations":
		return n.revocationsMethod(ctx, req.Params)
	}
	return n.dispatch(withReplica(ctx), req.Method, req.Params, false, false)
}

// acceptPush stores pushed records that this node's swarm owns, after
// checking each record's hash against its content. Duplicates are ignored.
func (n *Node) acceptPush(ctx context.Context, raw json.RawMessage) storagerpc.Response {
	var p pushParams
	if e := decodeParams(raw, &p); e != nil {
		return e.response()
	}
	v := n.view.Load()
	if v == nil {
		return errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet").response()
	}
	now := n.nowMS()
	var res pushResult
	if len(p.Revocations) > maxRepairRevocations {
		return errf(storagerpc.StatusBadRequest, "too many revocations").response()
	}
	if _, e := n.mergeOwned(ctx, v, p.Revocations); e != nil {
		return e.response()
	}
	for _, m := range p.Messages {
		owner, err := identity.ParseAccountID(m.Owner)
		data, derr := base64.StdEncoding.DecodeString(m.Data)
		switch {
		case err != nil, derr != nil, len(data) > storagerpc.MaxDataSize,
			storagerpc.MessageHash(owner, m.Namespace, data) != m.Hash,
			v.ownerSwarm(owner) != v.mine:
			res.Rejected++
			continue
		case m.Expiry <= now:
			continue // expired on the way: nothing to keep
		}
		if _, err := n.store.insert(ctx, &record{Hash: m.Hash, Owner: m.Owner, Namespace: m.Namespace, Timestamp: m.Timestamp, Expiry: m.Expiry, Data: data}, false); err != nil {
			n.log.Error().Err(err).Msg("store pushed record")
			return errf(storagerpc.StatusInternal, "storage failure").response()
		}
		res.Accepted++
	}
	return okResponse(res)
}

// push sends records to one node, in batches; it reports whether all went.
func (n *Node) push(ctx context.Context, v *view, to string, recs []*record) bool {
	pid, ok := v.peers[to]
	if !ok {
		return false
	}
	for len(recs) > 0 {
		var batch []pushRecord
		size := 0
		for len(recs) > 0 && (len(batch) == 0 || size+len(recs[0].Data)*4/3 < maxPushSize-64<<10) {
			r := recs[0]
			recs = recs[1:]
			size += len(r.Data)*4/3 + 256
			batch = append(batch, pushRecord{Hash: r.Hash, Owner: r.Owner, Namespace: r.Namespace, Timestamp: r.Timestamp, Expiry: r.Expiry,
				Data: base64.StdEncoding.EncodeToString(r.Data)})
		}
		owners := map[string]bool{}
		for _, r := range batch {
			owners[r.Owner] = true
		}
		revs, err := n.store.revocations(ctx, slices.Sorted(maps.Keys(owners)))
		if err != nil || len(revs) > maxRepairRevocations {
			n.log.Warn().Err(err).Int("revocations", len(revs)).Msg("push: read revocations")
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := storagerpc.Call(pctx, n.out(), pid, storagerpc.ProtocolSwarm, "push", pushParams{Messages: batch, Revocations: revs})
		cancel()
		if err != nil || resp.Code != storagerpc.StatusOK {
			n.log.Warn().Str("to", n.nameOf(to)).Err(errOr(err, resp)).Msg("push records")
			return false
		}
		// A receiver whose view of the swarms is behind refuses records it
		// does not own yet: not done, try again with a later block.
		var res pushResult
		if json.Unmarshal(resp.Body, &res) != nil || res.Rejected > 0 {
			n.log.Debug().Str("to", n.nameOf(to)).Int("rejected", res.Rejected).Msg("push partly refused")
			return false
		}
	}
	return true
}

func errOr(err error, resp *storagerpc.Response) error {
	if err != nil {
		return err
	}
	return resp.Err()
}

// moves holds the data moves that have not succeeded yet, retried each block.
type moves struct {
	mu         sync.Mutex
	newMembers map[string]bool // members to push this swarm's records to
	foreign    bool            // records of other swarms are still here
	attempts   int             // moveForeign runs since the last swarm change
}

// relaxAfter is how many blocks a move waits for every member of the
// receiving swarm to take the records before one member is enough (a member
// that is down must not keep records here forever).
const relaxAfter = 10

// onSwarmChange moves data after the swarms changed (SPEC 3): every member
// pushes its records to the swarm's new members, and records whose accounts
// now belong to another swarm are pushed there and then forgotten here.
func (n *Node) onSwarmChange(ctx context.Context, old, v *view) {
	n.protectSwarm(old, v)
	n.moves.mu.Lock()
	// New members: those of this node's swarm that were not in the swarm it
	// was in before (when it moved to a new swarm with others from its old
	// one, those others hold the same records and need none).
	if old != nil && v.mine != chain.UnassignedSwarm {
		before := old.members[old.mine]
		for _, k := range v.members[v.mine] {
			if k != n.pubHex && !slices.Contains(before, k) {
				n.moves.newMembers[k] = true
			}
		}
	}
	// Members that left the swarm need nothing more from us.
	for k := range n.moves.newMembers {
		if !slices.Contains(v.members[v.mine], k) {
			delete(n.moves.newMembers, k)
		}
	}
	n.moves.foreign = true
	n.moves.attempts = 0
	n.moves.mu.Unlock()
	n.retryMoves(ctx, v)
}

// protectSwarm keeps the connections to this node's swarm members open
// when the connection manager trims: every store is forwarded to them and
// every repair compares with one of them, and a connection remade for each
// (a Noise handshake and identify) was most of a 2,000-node devnet's CPU.
// Connections to anyone else (testers, onion hops, clients) are trimmed as
// before.
func (n *Node) protectSwarm(old, v *view) {
	cm := n.host.ConnManager()
	if old != nil {
		for _, k := range old.members[old.mine] {
			if pid, ok := old.peers[k]; ok && !slices.Contains(v.members[v.mine], k) {
				cm.Unprotect(pid, "swarm")
			}
		}
	}
	if v.mine == chain.UnassignedSwarm {
		return
	}
	for _, k := range v.members[v.mine] {
		if pid, ok := v.peers[k]; ok && k != n.pubHex {
			cm.Protect(pid, "swarm")
		}
	}
}

// retryMoves carries out the pending moves.
func (n *Node) retryMoves(ctx context.Context, v *view) {
	n.moves.mu.Lock()
	defer n.moves.mu.Unlock()
	for k := range n.moves.newMembers {
		if n.pushAllOwned(ctx, v, k) {
			delete(n.moves.newMembers, k)
			n.log.Info().Str("to", n.nameOf(k)).Msg("pushed swarm records to a new member")
		}
	}
	if n.moves.foreign {
		n.moves.attempts++
		n.moves.foreign = !n.moveForeign(ctx, v, n.moves.attempts > relaxAfter)
	}
}

// pushAllOwned pushes every record this swarm owns to member k.
func (n *Node) pushAllOwned(ctx context.Context, v *view, k string) bool {
	var after int64
	for {
		page, err := n.store.page(ctx, after, 1000, n.nowMS())
		if err != nil || len(page) == 0 {
			return err == nil
		}
		after = page[len(page)-1].ID
		var owned []*record
		for _, r := range page {
			if id, err := identity.ParseAccountID(r.Owner); err == nil && v.ownerSwarm(id) == v.mine {
				owned = append(owned, r)
			}
		}
		if len(owned) > 0 && !n.push(ctx, v, k, owned) {
			return false
		}
	}
}

// moveForeign pushes records owned by other swarms to every member of the
// owning swarm and forgets them once every member took them (with relaxed,
// once one did). It reports whether nothing foreign is left.
func (n *Node) moveForeign(ctx context.Context, v *view, relaxed bool) bool {
	if len(v.swarmIDs) == 0 {
		return true // no swarm to move to: keep everything
	}
	var after int64
	done := true
	moved := 0
	for {
		page, err := n.store.page(ctx, after, 1000, n.nowMS())
		if err != nil {
			return false
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		bySwarm := map[uint64][]*record{}
		for _, r := range page {
			id, err := identity.ParseAccountID(r.Owner)
			if err != nil {
				continue
			}
			if sid := v.ownerSwarm(id); sid != v.mine {
				bySwarm[sid] = append(bySwarm[sid], r)
			}
		}
		for sid, recs := range bySwarm {
			took := 0
			for _, k := range v.members[sid] {
				if n.push(ctx, v, k, recs) {
					took++
				}
			}
			if took == 0 || took < len(v.members[sid]) && !relaxed {
				done = false
				continue
			}
			hashes := make([]string, len(recs))
			for i, r := range recs {
				hashes[i] = r.Hash
			}
			if err := n.store.forget(ctx, hashes); err != nil {
				n.log.Error().Err(err).Msg("forget moved records")
				done = false
			}
			moved += len(recs)
		}
	}
	if moved > 0 {
		n.log.Info().Int("records", moved).Msg("records moved to their new swarms")
	}
	return done
}
