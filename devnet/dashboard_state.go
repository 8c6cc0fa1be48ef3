package devnet

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/group"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// dashState is the snapshot the page draws from. Everything in it that
// names a node or an account names it as the devnet does (node-3, alice),
// so the page never shows a key where a name is known.
type dashState struct {
	Seed    string `json:"seed"`
	Height  uint64 `json:"height"`
	Hash    string `json:"hash"`
	BlockMS int64  `json:"block_time_ms"`
	// Running counts the nodes whose process runs; Active the nodes the
	// ledger holds active. A node killed is at once not running, and
	// active until a round's votes decommission it.
	Running  int              `json:"running"`
	Active   int              `json:"active"`
	Nodes    []dashNode       `json:"nodes"`
	Swarms   []dashSwarm      `json:"swarms"`
	Accounts []dashAccount    `json:"accounts"`
	Groups   []dashGroup      `json:"groups"`
	Rooms    []dashRoom       `json:"rooms"`
	Round    *dashRound       `json:"round,omitempty"`
	Blocks   []dashBlock      `json:"blocks"`
	Params   chain.Params     `json:"params"`
	Servers  []ManifestServer `json:"servers"`
	Edge     []EdgeCount      `json:"edge"` // the client edge's requests by endpoint
	// Send is the last message sent, with the path `send` printed;
	// Requests the newest onion requests the nodes carried (newest last).
	Send     *dashSend     `json:"send,omitempty"`
	Requests []dashRequest `json:"requests"`
	// Chaos is what a running 'sessionctl chaos' last told (chaos.go).
	Chaos *ChaosStatus `json:"chaos,omitempty"`
}

// shownRequests is how many onion requests a snapshot lists.
const shownRequests = 12

type dashNode struct {
	Name    string `json:"name"`
	Key     string `json:"key"`
	Swarm   string `json:"swarm"` // hex, "" when none
	State   string `json:"state"`
	Running bool   `json:"running"`
	Credit  uint64 `json:"credit"`
	Stake   uint64 `json:"stake"`
	Rewards uint64 `json:"rewards"`
	SkewMS  int64  `json:"skew_ms,omitempty"` // how far chaos moved its clock
}

type dashSwarm struct {
	ID      string   `json:"id"` // 16 hex digits: its place on the ring
	Members []string `json:"members"`
}

type dashAccount struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	Space string `json:"space"` // the swarm space value, 16 hex digits
	Swarm string `json:"swarm"`
}

type dashGroup struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Space      string         `json:"space"`
	Generation int64          `json:"generation"`
	Members    []group.Member `json:"members"` // each named as the keystore names it, where it does
	Revoked    int            `json:"revoked"`
}

// dashRoom is a community room, its newest posts by the name of who
// posted them where the devnet knows it.
type dashRoom struct {
	Token  string     `json:"token"`
	Name   string     `json:"name"`
	Posts  int        `json:"posts"`
	Recent []dashPost `json:"recent"`
}

type dashPost struct {
	ID        int64   `json:"id"`
	SessionID string  `json:"session_id"` // blinded
	By        string  `json:"by,omitempty"`
	Posted    float64 `json:"posted"`
	Bytes     int     `json:"bytes"`
}

type dashRound struct {
	Round   uint64         `json:"round"`
	Phase   string         `json:"phase"`
	Commits int            `json:"commits"`
	Reveals int            `json:"reveals"`
	Quorums [][2]int       `json:"quorums"` // members, targets
	Votes   int            `json:"votes"`
	Shown   []chain.Vote   `json:"votes_shown"` // every vote, newest first, or the failing ones past maxShownVotes
	Changes []chain.Change `json:"changes"`
}

// Bounds of a snapshot.
const (
	maxShownVotes   = 200 // votes listed
	maxDashAccounts = 200 // accounts of the keystore drawn
	maxDashGroups   = 50  // groups listed
)

type dashBlock struct {
	Height uint64 `json:"height"`
	Hash   string `json:"hash"`
	Txs    int    `json:"txs"`
	Time   int64  `json:"time"`
}

// state answers the snapshot, made at most once a second whatever the
// number of pages asking (a 2,000-node devnet keeps both cores busy, and
// each snapshot copies every node).
func (db *dashboard) state(w http.ResponseWriter, r *http.Request) {
	db.d.viewer.seen() // a page is open (WaitViewer)
	db.snapMu.Lock()
	defer db.snapMu.Unlock()
	// A snapshot serves for a second, unless the state changed since it
	// was begun: a page that reloads on a node's event must see it (it
	// is told once; with blocks on demand nothing tells it again).
	gen := db.hub.changes.Load()
	if db.snap == nil || gen != db.snapGen || time.Since(db.snapAt) > time.Second {
		began := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		st := db.snapshot(ctx)
		cancel()
		b, err := json.Marshal(st)
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		db.snap, db.snapGz, db.snapAt, db.snapGen = b, gzipped(b), began, gen
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept-Encoding")
	if db.snapGz != nil && acceptsGzip(r) {
		// A 2,000-node state is 440 KB of JSON and 60 KB compressed: the
		// room's phones each load it once a block.
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(db.snapGz)
		return
	}
	w.Write(db.snap)
}

// gzipped is b compressed (nil if it would not shrink much, or failed).
func gzipped(b []byte) []byte {
	if len(b) < 8<<10 {
		return nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil
	}
	if _, err := zw.Write(b); err != nil || zw.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reports whether the request takes a gzip answer.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func (db *dashboard) snapshot(ctx context.Context) dashState {
	l := db.d.Network.Ledger
	info := l.Info()
	names := db.accountNames()
	st := dashState{Seed: db.d.st.Seed, Height: info.Height, Hash: info.Hash, BlockMS: info.BlockTimeMS, Params: info.Params,
		Nodes: []dashNode{}, Swarms: []dashSwarm{}, Accounts: []dashAccount{}, Groups: []dashGroup{}, Rooms: []dashRoom{}, Blocks: []dashBlock{}}
	// One copy of the node list (one lock of the ledger), not one a node:
	// at 2,000 nodes under load, 2,000 lookups took half a minute.
	byKey := map[string]chain.ServiceNode{}
	for _, sn := range l.Nodes() {
		byKey[sn.Key] = sn
	}
	for i := 0; i < db.d.st.Nodes; i++ {
		dn := dashNode{Name: NodeName(i), Key: db.d.Network.NodeKey(i), State: "unregistered", SkewMS: db.d.Network.Skew(i).Milliseconds()}
		dn.Running = db.d.Network.Running(i)
		if sn, ok := byKey[dn.Key]; ok {
			dn.State, dn.Credit, dn.Rewards, dn.Stake = string(sn.State), sn.Credit, sn.Rewards, sn.Staked()
			if sn.SwarmID != chain.UnassignedSwarm {
				dn.Swarm = fmt.Sprintf("%016x", sn.SwarmID)
			}
		}
		if dn.Running {
			st.Running++
		}
		if dn.State == string(chain.StateActive) {
			st.Active++
		}
		st.Nodes = append(st.Nodes, dn)
	}
	for _, s := range l.Swarms() {
		ds := dashSwarm{ID: fmt.Sprintf("%016x", s.ID), Members: []string{}}
		for _, k := range s.Members {
			ds.Members = append(ds.Members, db.name(k))
		}
		st.Swarms = append(st.Swarms, ds)
	}
	st.Accounts = db.accounts(names)
	st.Groups = db.groups(names)
	db.remember(names, st.Groups)
	st.Rooms = db.rooms(ctx, names)
	if rd, ok := l.RoundAt(info.Height); ok {
		dr := &dashRound{Round: rd.Round, Phase: info.Params.RoundPhase(info.Height), Commits: len(rd.Commits), Reveals: len(rd.Reveals),
			Votes: len(rd.Votes), Quorums: [][2]int{}, Shown: []chain.Vote{}, Changes: rd.Changes}
		for _, q := range rd.Quorums {
			dr.Quorums = append(dr.Quorums, [2]int{len(q.Members), len(q.Targets)})
		}
		// Every vote while there are few (a small devnet: each one is
		// shown); the newest failing ones when there are thousands.
		all := len(rd.Votes) <= maxShownVotes
		for i := len(rd.Votes) - 1; i >= 0 && len(dr.Shown) < maxShownVotes; i-- {
			if v := rd.Votes[i]; all || !v.Pass {
				v.Voter, v.Target = db.name(v.Voter), db.name(v.Target)
				dr.Shown = append(dr.Shown, v)
			}
		}
		dr.Changes = slices.Clone(dr.Changes)
		for i := range dr.Changes {
			dr.Changes[i].Target = db.name(dr.Changes[i].Target)
			dr.Changes[i].Votes = db.names(dr.Changes[i].Votes)
		}
		if dr.Changes == nil {
			dr.Changes = []chain.Change{}
		}
		st.Round = dr
	}
	st.Blocks = db.recentBlocks(ctx, info.Height, info.Hash)
	st.Servers = db.d.servers()
	st.Edge = db.d.edges.list()
	st.Requests, st.Send = db.reqs.list(shownRequests)
	st.Chaos = db.d.chaosStatus()
	return st
}

// names names nodes' keys (a copy: the ledger's own slices are not ours).
func (db *dashboard) names(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = db.name(k)
	}
	return out
}

// accountNames names the accounts of the devnet's keystore by Account ID,
// and by the blinded ID each has on the community server (its posts'
// author): the devnet's clients and whoever 'id new' made since. A linked
// device is its account.
func (db *dashboard) accountNames() map[string]string {
	out := map[string]string{}
	add := func(name string, k *identity.Keys) {
		id := k.AccountID().String()
		if _, ok := out[id]; ok {
			return
		}
		out[id] = name
		if b := db.blinded(id, k); b != "" {
			out[b] = name
		}
	}
	for _, name := range db.d.st.Clients {
		add(name, ClientKeys(db.d.st.Seed, name))
	}
	all, err := db.d.ks.List()
	if err != nil {
		db.d.log.Debug().Err(err).Msg("dashboard: keystore")
	}
	for _, e := range all {
		if e.DeviceOf == "" && len(out) < 2*maxDashAccounts {
			add(e.Name, e.Keys)
		}
	}
	for _, e := range all {
		if e.DeviceOf != "" && len(out) < 2*maxDashAccounts {
			add(e.Name, e.Keys)
		}
	}
	return out
}

// remember keeps the names of accounts and groups for the nodes' hooks.
func (db *dashboard) remember(names map[string]string, groups []dashGroup) {
	m := make(map[string]string, len(names)+len(groups))
	for id, n := range names {
		m[id] = n
	}
	for _, g := range groups {
		m[g.ID] = g.Name
	}
	db.known.Store(&m)
}

// blinded is account id's blinded ID on the devnet's community server ("" with
// none), computed once an account (a scalar multiplication).
func (db *dashboard) blinded(id string, k *identity.Keys) string {
	if db.d.Network.Community == nil {
		return ""
	}
	db.blindMu.Lock()
	defer db.blindMu.Unlock()
	if b, ok := db.blind[id]; ok {
		return b
	}
	if len(db.blind) >= 4*maxDashAccounts {
		clear(db.blind)
	}
	ck := db.d.Network.CommunityKey()
	b, err := identity.Blind15(k, ck.Public[:])
	if err != nil {
		return ""
	}
	db.blind[id] = b.ID()
	return b.ID()
}

// accounts are the keystore's accounts on the ring: the devnet's clients
// first, then the others by name.
func (db *dashboard) accounts(names map[string]string) []dashAccount {
	out := []dashAccount{}
	seen := map[string]bool{}
	for _, name := range db.d.st.Clients {
		id := ClientKeys(db.d.st.Seed, name).AccountID()
		seen[id.String()] = true
		out = append(out, db.account(name, id))
	}
	var rest []dashAccount
	for id, name := range names {
		aid, err := identity.ParseAccountID(id)
		if err != nil || seen[id] || aid.Prefix != identity.PrefixSession {
			continue
		}
		rest = append(rest, db.account(name, aid))
	}
	slices.SortFunc(rest, func(a, b dashAccount) int { return cmp.Compare(a.Name, b.Name) })
	out = append(out, rest...)
	if len(out) > maxDashAccounts {
		out = out[:maxDashAccounts]
	}
	return out
}

func (db *dashboard) account(name string, id identity.AccountID) dashAccount {
	return dashAccount{Name: name, ID: id.String(), Space: fmt.Sprintf("%016x", id.SwarmSpace()),
		Swarm: fmt.Sprintf("%016x", db.d.Network.Ledger.SwarmOf(id).ID)}
}

// groups are the groups the devnet's identities are in, as the group
// commands keep them under --dir; an admin's view wins (it knows the
// revoked tokens). Members are named as the keystore names them.
func (db *dashboard) groups(names map[string]string) []dashGroup {
	st := &group.Store{Dir: db.d.cfg.Dir + "/groups"}
	seen := map[string]int{}
	out := []dashGroup{}
	type who struct{ name, id string }
	var ws []who
	for id, name := range names {
		if aid, err := identity.ParseAccountID(id); err == nil && aid.Prefix == identity.PrefixSession {
			ws = append(ws, who{name, id})
		}
	}
	slices.SortFunc(ws, func(a, b who) int { return cmp.Compare(a.name, b.name) })
	for _, w := range ws {
		gs, err := st.List(w.name, w.id)
		if err != nil {
			continue
		}
		for _, e := range gs {
			g := e.Group
			id, err := identity.ParseAccountID(g.ID)
			if err != nil || e.Old {
				continue
			}
			dg := dashGroup{ID: g.ID, Name: g.Name, Space: fmt.Sprintf("%016x", id.SwarmSpace()), Generation: g.Generation,
				Members: g.MemberList(), Revoked: len(g.Revoked)}
			for i, m := range dg.Members {
				if n, ok := names[m.AccountID]; ok {
					dg.Members[i].Name = n
				}
			}
			if j, ok := seen[g.ID]; ok {
				if g.Seed != "" && dg.Revoked >= out[j].Revoked {
					out[j] = dg
				}
				continue
			}
			seen[g.ID] = len(out)
			out = append(out, dg)
			if len(out) >= maxDashGroups {
				return out
			}
		}
	}
	return out
}

// rooms are the community server's rooms, their posts by poster's name.
func (db *dashboard) rooms(ctx context.Context, names map[string]string) []dashRoom {
	out := []dashRoom{}
	if db.d.Network.Community == nil {
		return out
	}
	rooms, err := db.d.Network.Community.Rooms(ctx)
	if err != nil {
		return out
	}
	for _, r := range rooms {
		dr := dashRoom{Token: r.Token, Name: r.Name, Posts: r.Posts, Recent: []dashPost{}}
		for _, p := range r.Recent {
			dr.Recent = append(dr.Recent, dashPost{ID: p.ID, SessionID: p.SessionID, By: names[p.SessionID], Posted: p.Posted, Bytes: p.Bytes})
		}
		out = append(out, dr)
	}
	return out
}

// shownBlocks is how many of the newest blocks a snapshot lists.
const shownBlocks = 8

// recentBlocks are the newest blocks up to height (whose hash is tip),
// newest first. A block is read once: the first blocks of a devnet hold a
// registration a node (2,000 at 2,000 nodes), and reading 8 of them each
// snapshot was most of its cost. What is kept is dropped when the tip is
// not the block kept at its height (a snapshot loaded rewound the chain).
func (db *dashboard) recentBlocks(ctx context.Context, height uint64, tip string) []dashBlock {
	db.blocksMu.Lock()
	defer db.blocksMu.Unlock()
	if b, ok := db.blocks[height]; (ok && b.Hash != tip) || db.blocks == nil {
		db.blocks = map[uint64]dashBlock{}
	}
	out := []dashBlock{}
	for h := height; h > 0 && height-h < shownBlocks; h-- {
		b, ok := db.blocks[h]
		if !ok {
			blk, err := db.d.Network.Ledger.Block(ctx, h)
			if err != nil {
				break
			}
			b = dashBlock{Height: blk.Height, Hash: blk.Hash, Txs: len(blk.Txs), Time: blk.Timestamp}
			db.blocks[h] = b
		}
		out = append(out, b)
	}
	for h := range db.blocks {
		if h+shownBlocks <= height || h > height {
			delete(db.blocks, h)
		}
	}
	return out
}
