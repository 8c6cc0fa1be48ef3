package devnet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/node"
)

// TestRequestsPutTogether: the hops two interleaved onion requests report
// are put together by who handed each over to whom; the destination's
// request says its kind and owner; a store's hash and the send report tag
// the send's own request and its sync copy's apart; a hop whose first hops
// were not seen is no request.
func TestRequestsPutTogether(t *testing.T) {
	var rs requests
	now := time.UnixMilli(5000)
	store := func(owner string) []byte {
		return []byte(`{"method":"store","params":{"pubkey":"` + owner + `","data":"aGk="}}`)
	}
	hop := func(name, from string, n int, key, next string, dest bool, seen []byte) *dashRequest {
		return rs.hop(name, from, node.OnionHop{Node: key, Hop: n, Next: next, Destination: dest, Seen: seen}, now)
	}
	// a: node-1 -> node-2 -> node-3 -> node-4 (a store for bob)
	// b: node-1 -> node-2 -> node-5 -> node-6 (a store for alice), interleaved
	must := func(r *dashRequest) {
		t.Helper()
		if r != nil {
			t.Fatalf("a request done before its destination: %+v", r)
		}
	}
	must(hop("node-1", "", 1, "k1", "k2", false, nil))
	must(hop("node-1", "", 1, "k1", "k2", false, nil))
	must(hop("node-2", "node-1", 2, "k2", "k3", false, nil))
	must(hop("node-2", "node-1", 2, "k2", "k5", false, nil))
	must(hop("node-5", "node-2", 3, "k5", "k6", false, nil))
	must(hop("node-3", "node-2", 3, "k3", "k4", false, nil))
	a := hop("node-4", "node-3", 4, "k4", "", true, store("05bob"))
	b := hop("node-6", "node-5", 4, "k6", "", true, store("05alice"))
	if a == nil || b == nil {
		t.Fatalf("requests not done: %v %v", a, b)
	}
	route := func(r *dashRequest) string {
		var s []string
		for _, h := range r.Hops {
			s = append(s, h.Node+" "+h.Role)
		}
		return strings.Join(s, ", ")
	}
	if got := route(a); got != "node-1 guard, node-2 middle, node-3 exit, node-4 destination" || a.Kind != ReqStore || a.Owner != "05bob" {
		t.Errorf("a: %s, %s for %s", got, a.Kind, a.Owner)
	}
	if got := route(b); got != "node-1 guard, node-2 middle, node-5 exit, node-6 destination" || b.Owner != "05alice" {
		t.Errorf("b: %s for %s", got, b.Owner)
	}
	// a path test: the exit is the destination, and the request is empty
	must(hop("node-7", "", 1, "k7", "k8", false, nil))
	must(hop("node-8", "node-7", 2, "k8", "k9", false, nil))
	if pt := hop("node-9", "node-8", 3, "k9", "", true, nil); pt == nil || pt.Kind != ReqPathTest || route(pt) != "node-7 guard, node-8 middle, node-9 destination" {
		t.Errorf("a path test: %+v", pt)
	}
	// a fetch
	must(hop("node-1", "", 1, "k1", "k2", false, nil))
	must(hop("node-2", "node-1", 2, "k2", "k3", false, nil))
	must(hop("node-3", "node-2", 3, "k3", "k4", false, nil))
	if f := hop("node-4", "node-3", 4, "k4", "", true, []byte(`{"method":"retrieve","params":{"pubkey":"05bob"}}`)); f == nil || f.Kind != ReqFetch {
		t.Errorf("a fetch: %+v", f)
	}
	// the middle of a request whose guard was not seen
	if r := hop("node-3", "node-9", 2, "k3", "k4", false, nil); r != nil {
		t.Errorf("a request from nowhere: %+v", r)
	}
	// The destinations store; a replica is counted on its request.
	// (What the requests' methods return are copies: they are read again.)
	if r := rs.stored("node-4", "05bob", "hashA", false); r == nil || r.ID != a.ID {
		t.Errorf("the store of hashA is on %+v, want a", r)
	}
	rs.stored("node-6", "05alice", "hashB", false)
	if r := rs.stored("node-10", "05bob", "hashA", true); r == nil || r.ID != a.ID || len(r.Replicas) != 1 || r.Replicas[0] != "node-10" {
		t.Errorf("a's replicas: %+v", r)
	}
	// alice reports her send (hashA to bob; hashB her sync copy)
	s := &dashSend{Hash: "hashA", SyncHash: "hashB"}
	kinds := map[uint64]string{}
	for _, r := range rs.sent(s) {
		kinds[r.ID] = r.Kind
	}
	if len(kinds) != 2 || kinds[a.ID] != ReqSend || kinds[b.ID] != ReqSyncCopy || s.Request != a.ID || s.SyncRequest != b.ID {
		t.Errorf("tagged %v, send %+v", kinds, s)
	}
	list, last := rs.list(3)
	if len(list) != 3 || list[2].Kind != ReqFetch || last == nil || last.Hash != "hashA" {
		t.Errorf("list: %+v, last %+v", list, last)
	}
}

// TestRequestsBounded: requests that never reach their destination are
// dropped past the bound, and requests done are kept up to theirs.
func TestRequestsBounded(t *testing.T) {
	var rs requests
	now := time.UnixMilli(0)
	for range 3 * maxPendingRequests {
		rs.hop("node-1", "", node.OnionHop{Node: "k1", Hop: 1, Next: "k2"}, now)
	}
	if len(rs.pending) != maxPendingRequests {
		t.Errorf("%d pending, want %d", len(rs.pending), maxPendingRequests)
	}
	for range 3 * maxRecentRequests {
		rs.hop("node-1", "", node.OnionHop{Node: "k1", Hop: 1, Next: "k2"}, now)
		rs.hop("node-2", "node-1", node.OnionHop{Node: "k2", Hop: 2, Destination: true}, now)
	}
	if len(rs.recent) != maxRecentRequests {
		t.Errorf("%d kept, want %d", len(rs.recent), maxRecentRequests)
	}
}

// TestSentReportRefused: a report the page could not show is refused with
// a clear error, and nothing is shown.
func TestSentReportRefused(t *testing.T) {
	dir := t.TempDir()
	d := up(t, UpConfig{Dir: dir, Nodes: 4, BlockTime: BlockTimeManual, Clients: []string{"alice", "bob"}})
	t.Cleanup(func() { d.Close() })
	cc, err := Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, rep := range []SentReport{
		{From: "alice", To: "bob"},
		{From: "alice", To: "bob\x1b[2J", Hash: "h"},
		{From: strings.Repeat("a", 101), To: "bob", Hash: "h"},
		{From: "alice", To: "bob", Hash: "h", Stored: -1},
	} {
		if err := cc.ReportSent(context.Background(), rep); err == nil {
			t.Errorf("%+v was taken", rep)
		}
	}
	status, _, err := roundTrip(context.Background(), cc.hc, "POST", cc.m.Control.URL+"/v1/sent", cc.m.Control.Token, map[string]any{"from": "a", "to": "b", "hash": "h", "extra": 1}, 1<<10)
	if err != nil || status != 400 {
		t.Errorf("an unknown field: %d, %v", status, err)
	}
	if _, last := d.dash.reqs.list(1); last != nil {
		t.Errorf("a refused report was shown: %+v", last)
	}
	// A good one is shown, by name.
	res := &client.SendResult{Hash: "h1", To: ClientKeys(d.st.Seed, "bob").AccountID().String(), Stored: 3,
		Path: client.Path{Guard: d.Network.NodeKey(0), Middle: d.Network.NodeKey(1), Exit: d.Network.NodeKey(2), Destination: d.Network.NodeKey(3)}}
	dashStateT(t, d) // the names are read
	if err := Dir(dir).ShowSent(context.Background(), "alice", res); err != nil {
		t.Fatal(err)
	}
	_, last := d.dash.reqs.list(1)
	if last == nil || last.From != "alice" || last.To != "bob" || last.Path[3].Node != "node-4" {
		t.Errorf("shown: %+v", last)
	}
	if err := Dir(t.TempDir()).ShowSent(context.Background(), "alice", res); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no devnet: %v", err)
	}
}
