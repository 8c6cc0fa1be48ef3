package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// Revocation sync. A member that was down while a group member was kicked
// does not hold the revocation when it comes back, and repair brings it only
// at its next turn (RepairInterval). Until then it would serve the kicked
// token. So a node that starts, or that joins a swarm (its first, or another
// one after a swarm change or a recommission), refuses every request made
// with a subaccount token, 503 "not ready" as the storage server answers
// while it is not done syncing, until it has asked the other members of
// its swarm for the revocations they hold and merged them. Clients try
// another member on a 503. Requests signed by the account's own key are
// served as before: no revocation can concern them.
//
// When the node stops waiting: once every other member of its swarm (as its
// view has it) either answered with all its revocations, is down (the dial
// is refused, or it has no address), or failed at each of revSyncRounds
// rounds in a way that says it may be up: "not ready" (a member that has
// just started too and has no view yet, or whose view of the network is
// behind this node's: it answers 503, or 401 while it does not know this
// node is registered), or no answer within ForwardTimeout (a loaded
// machine). At most revSyncRounds times ForwardTimeout and 2.5 s of
// backoff, 32.5 s with the defaults, when members hang; nothing when they
// answer or are down. The node then holds the union of what every
// reachable member holds, which is all the swarm can know: a revocation
// held only by members that are down is known to nobody who could be
// asked, and repair brings it when they are back. A node whose swarm has no
// other member, or whose other members are all down (a new swarm, or all
// killed), serves at once with what it holds. The wait is bounded by
// rounds and per-call timeouts, not by a deadline on the node's clock.
//
//	A -> B  revocations {swarm, swarms_height, after_owner, after_token}
//	B: {revocations: [...], next_owner, next_token}   (next_* absent on the last page)

const (
	revSyncPage   = 1000 // revocation rows read for one answer
	revSyncPages  = 1000 // pages one member may send in one sync
	revSyncRounds = 6    // rounds that ask again the members that may be up
)

// Backoff between rounds: 100 ms, doubling, at most 1 s (2.5 s in all).
const (
	revSyncBackoff    = 100 * time.Millisecond
	revSyncMaxBackoff = time.Second
)

// revSync is where the node stands in learning its swarm's revocations: the
// swarm they are for, and whether it has. follow replaces it whenever the
// node's swarm changes; the sync loop marks it done (only if it is still
// the same one).
type revSync struct {
	swarm uint64
	done  bool
}

type revSyncParams struct {
	Swarm        uint64 `json:"swarm"`
	SwarmsHeight uint64 `json:"swarms_height"`
	AfterOwner   string `json:"after_owner,omitempty"`
	AfterToken   string `json:"after_token,omitempty"` // hex
}

type revSyncResult struct {
	Revocations []revocation `json:"revocations"`
	NextOwner   string       `json:"next_owner,omitempty"`
	NextToken   string       `json:"next_token,omitempty"`
}

// replicaKey marks the context of a request a swarm peer forwarded.
type replicaKey struct{}

// withReplica marks ctx as a request forwarded by a member of this node's
// swarm: the member that took it from the client checked the token
// against the revocations it had synced, so a replica that is still
// syncing its own stores it (checking what revocations it holds) rather
// than refusing it and missing the message until repair.
func withReplica(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaKey{}, true)
}

func isReplica(ctx context.Context) bool { r, _ := ctx.Value(replicaKey{}).(bool); return r }

// errNotSynced refuses a subaccount request while the node does not know
// its swarm's revocations.
func errNotSynced() *rpcError {
	return errf(storagerpc.StatusUnavailable, "the node is not ready: not done syncing its swarm's subaccount revocations; try another member")
}

// revocationsSynced reports, as an error to answer, whether the node has
// learned the revocations of the swarm it is in now.
func (n *Node) revocationsSynced() *rpcError {
	v, s := n.view.Load(), n.revs.Load()
	if v == nil || s == nil || s.swarm != v.mine || !s.done {
		return errNotSynced()
	}
	return nil
}

// swarmChanging is called by follow before it stores a view in which the
// node's swarm differs from the one before: subaccount requests are
// refused from now until the new swarm's revocations are synced.
func (n *Node) swarmChanging(swarm uint64) {
	n.revs.Store(&revSync{swarm: swarm})
}

// wakeRevSync tells the sync that the view changed (follow calls it).
func (n *Node) wakeRevSync(ctx context.Context) {
	n.revRun.wake(ctx, &n.wg, func() { n.revSync(ctx) })
}

// revSync syncs the revocations of the node's swarm, when the node has
// joined one and not synced them yet.
func (n *Node) revSync(ctx context.Context) {
	for ctx.Err() == nil {
		s, v := n.revs.Load(), n.view.Load()
		if s == nil || s.done || v == nil || v.mine != s.swarm || v.mine == chain.UnassignedSwarm {
			return // nothing to do, or a view follow has not stored yet (it wakes us after)
		}
		st := n.syncRevocations(ctx, v)
		if ctx.Err() != nil {
			return
		}
		if n.revs.CompareAndSwap(s, &revSync{swarm: s.swarm, done: true}) {
			n.log.Info().Str("swarm", swarmHex(s.swarm)).Int("answered", st.Answered).Int("unreachable", st.Unreachable).
				Int("not_ready", st.NotReady).Int("revocations", st.Changed).Int("rounds", st.Rounds).Msg("swarm revocations synced")
		}
	}
}

// revSyncStats is what one sync did.
type revSyncStats struct {
	Answered    int // members that sent all their revocations
	Unreachable int // members down, or that failed otherwise
	NotReady    int // members not ready or too slow at every round
	Rounds      int // rounds of asking
	Changed     int // revocation changes taken
}

// syncRevocations asks every other member of the node's swarm in v for the
// revocations it holds, concurrently, and merges them; members that answer
// "not ready" are asked again, for at most revSyncRounds rounds.
func (n *Node) syncRevocations(ctx context.Context, v *view) revSyncStats {
	var st revSyncStats
	var pending []string
	for _, k := range v.members[v.mine] {
		if k != n.pubHex {
			pending = append(pending, k)
		}
	}
	backoff := revSyncBackoff
	for round := 0; len(pending) > 0 && ctx.Err() == nil; round++ {
		if round == revSyncRounds {
			st.NotReady = len(pending)
			break
		}
		st.Rounds++
		if round > 0 {
			sleep(ctx, backoff)
			backoff = min(2*backoff, revSyncMaxBackoff)
		}
		type result struct {
			k       string
			changed int
			err     error
		}
		results := make([]result, len(pending))
		var wg sync.WaitGroup
		for i, k := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := n.pullRevocations(ctx, v, k)
				results[i] = result{k, c, err}
			}()
		}
		wg.Wait()
		pending = pending[:0]
		for _, r := range results {
			st.Changed += r.changed
			switch {
			case r.err == nil:
				st.Answered++
			case askAgain(r.err):
				pending = append(pending, r.k)
			default:
				st.Unreachable++
				n.log.Debug().Err(r.err).Str("with", n.nameOf(r.k)).Msg("revocation sync: member unreachable")
			}
		}
	}
	return st
}

// askAgain tells whether a member that failed to send its revocations may
// be up: it answered not ready (503), or 401 because its view does not have
// this node registered yet, or it was too slow (a dial or an answer past
// ForwardTimeout, as on a loaded machine). Any other failure (refused
// connection, no address, a reset stream) means it is down.
func askAgain(err error) bool {
	var se *storagerpc.Error
	if errors.As(err, &se) {
		return se.Code == storagerpc.StatusUnavailable || se.Code == storagerpc.StatusUnauthorized
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// pullRevocations merges every revocation member k holds for accounts the
// node's swarm owns, page by page, and returns how many changed here.
func (n *Node) pullRevocations(ctx context.Context, v *view, k string) (int, error) {
	p := revSyncParams{Swarm: v.mine, SwarmsHeight: v.swarmsHeight}
	changed := 0
	for range revSyncPages {
		var res revSyncResult
		cctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
		err := n.swarmCall(cctx, v, k, "revocations", p, &res)
		cancel()
		if err != nil {
			return changed, err
		}
		if len(res.Revocations) > revSyncPage {
			return changed, fmt.Errorf("oversized revocation page")
		}
		c, e := n.mergeOwned(ctx, v, res.Revocations)
		if e != nil {
			return changed, fmt.Errorf("merge revocations: %s", e.msg)
		}
		changed += c
		if res.NextOwner == "" && res.NextToken == "" {
			return changed, nil
		}
		// The cursor must move forward, or a member could keep us asking.
		if t, err := hex.DecodeString(res.NextToken); err != nil || len(t) != storagerpc.TokenSize ||
			!(res.NextOwner > p.AfterOwner || res.NextOwner == p.AfterOwner && res.NextToken > p.AfterToken) {
			return changed, fmt.Errorf("bad revocation cursor")
		}
		p.AfterOwner, p.AfterToken = res.NextOwner, res.NextToken
	}
	return changed, fmt.Errorf("more than %d revocation pages", revSyncPages)
}

// revocationsMethod answers "revocations" on the swarm protocol: a page of
// the revocations this node holds for the accounts the asker's swarm owns.
func (n *Node) revocationsMethod(ctx context.Context, raw []byte) storagerpc.Response {
	v := n.view.Load()
	if v == nil {
		return errf(storagerpc.StatusUnavailable, "the node has not loaded the swarms yet").response()
	}
	var p revSyncParams
	if e := decodeParams(raw, &p); e != nil {
		return e.response()
	}
	if v.swarmsHeight < p.SwarmsHeight {
		// What the asker's swarm owns may differ in the swarms it sees.
		return errf(storagerpc.StatusUnavailable, "the node's view of the swarms is behind yours; try again").response()
	}
	var after []byte
	if p.AfterToken != "" {
		t, err := hex.DecodeString(p.AfterToken)
		if err != nil || len(t) != storagerpc.TokenSize {
			return errf(storagerpc.StatusBadRequest, "after_token: want %d bytes in hex", storagerpc.TokenSize).response()
		}
		after = t
	}
	rows, err := n.store.revocationsAfter(ctx, p.AfterOwner, after, revSyncPage)
	if err != nil {
		n.log.Error().Err(err).Msg("revocation sync: read revocations")
		return errf(storagerpc.StatusInternal, "storage failure").response()
	}
	res := revSyncResult{Revocations: []revocation{}}
	for _, r := range rows {
		if id, err := identity.ParseAccountID(r.Owner); err == nil && v.ownerSwarm(id) == p.Swarm {
			res.Revocations = append(res.Revocations, r)
		}
	}
	if len(rows) == revSyncPage {
		last := rows[len(rows)-1]
		res.NextOwner, res.NextToken = last.Owner, last.Token
	}
	return okResponse(res)
}
