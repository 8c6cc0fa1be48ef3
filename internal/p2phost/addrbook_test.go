package p2phost

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
)

type testAddrBook struct {
	*addrBook
	clk *fakeClock
}

func newTestAddrBook() testAddrBook {
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	return testAddrBook{newAddrBook(clk.Now), clk}
}

func tcpAddr(port int) ma.Multiaddr { return ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)) }

// has says whether ab lists exactly want for p (in any order).
func has(ab testAddrBook, p peer.ID, want ...ma.Multiaddr) bool {
	got := ab.Addrs(p)
	return len(got) == len(want) && !slices.ContainsFunc(want, func(a ma.Multiaddr) bool {
		return !slices.ContainsFunc(got, a.Equal)
	})
}

func TestAddrBookTTL(t *testing.T) {
	ab := newTestAddrBook()
	p := testPeer(t, 1)
	ab.AddAddrs(p, []ma.Multiaddr{tcpAddr(1), tcpAddr(2)}, time.Hour)
	ab.AddAddr(p, tcpAddr(1), time.Minute) // never shortens
	ab.UpdateAddrs(p, time.Minute, 0)
	if !has(ab, p, tcpAddr(1), tcpAddr(2)) {
		t.Fatalf("after add: %v", ab.Addrs(p))
	}
	ab.SetAddr(p, tcpAddr(1), time.Minute) // sets
	ab.clk.advance(time.Minute)
	if !has(ab, p, tcpAddr(2)) {
		t.Fatalf("after set and a minute: %v", ab.Addrs(p))
	}
	ab.UpdateAddrs(p, time.Hour, 2*time.Hour)
	ab.clk.advance(time.Hour)
	if !has(ab, p, tcpAddr(2)) {
		t.Fatalf("after update: %v", ab.Addrs(p))
	}
	ab.SetAddrs(p, []ma.Multiaddr{tcpAddr(2)}, 0) // removes
	ab.AddAddr(p, tcpAddr(3), 0)                  // nothing
	if !has(ab, p) {
		t.Fatalf("after set 0: %v", ab.Addrs(p))
	}
	// An expired address is stored until a write a minute after the last
	// sweep drops it.
	ab.AddAddr(p, tcpAddr(3), time.Second)
	ab.clk.advance(2 * time.Second)
	ab.AddAddr(testPeer(t, 2), tcpAddr(4), time.Hour)
	if !has(ab, p) || len(ab.peers[p]) != 1 || ab.unconn != 2 {
		t.Fatalf("stored %v, unconnected %d", ab.peers[p], ab.unconn)
	}
	ab.clk.advance(time.Minute)
	ab.AddAddr(testPeer(t, 2), tcpAddr(4), time.Hour)
	if len(ab.peers) != 1 || ab.unconn != 1 || len(ab.PeersWithAddrs()) != 1 {
		t.Fatalf("after the sweep: peers %d, unconnected %d", len(ab.peers), ab.unconn)
	}

	// Identify's dance: connected (never expires, not counted), then
	// downgraded on the close.
	ab.AddAddrs(p, []ma.Multiaddr{tcpAddr(5)}, peerstore.ConnectedAddrTTL)
	ab.clk.advance(24 * time.Hour)
	if !has(ab, p, tcpAddr(5)) || ab.unconn != 1 {
		t.Fatalf("connected: %v, unconnected %d", ab.Addrs(p), ab.unconn)
	}
	ab.UpdateAddrs(p, peerstore.ConnectedAddrTTL, peerstore.TempAddrTTL)
	ab.AddAddrs(p, []ma.Multiaddr{tcpAddr(5)}, recentAddrTTL)
	ab.UpdateAddrs(p, peerstore.TempAddrTTL, 0)
	if !has(ab, p, tcpAddr(5)) || ab.unconn != 1 { // (q's expired meanwhile)
		t.Fatalf("after the close: %v, unconnected %d", ab.Addrs(p), ab.unconn)
	}
	ab.ClearAddrs(p)
	if !has(ab, p) || ab.unconn != 0 || len(ab.peers) != 0 {
		t.Fatalf("after clear: %v, unconnected %d", ab.Addrs(p), ab.unconn)
	}
}

func TestAddrBookBoundsAndParts(t *testing.T) {
	ab := newTestAddrBook()
	p, q := testPeer(t, 1), testPeer(t, 2)
	for i := range maxAddrsPerPeer + 1 {
		ab.AddAddr(p, tcpAddr(1000+i), time.Hour+time.Duration(i)*time.Second)
	}
	if n := len(ab.Addrs(p)); n != maxAddrsPerPeer || ab.unconn != maxAddrsPerPeer {
		t.Fatalf("%d addresses, %d counted", n, ab.unconn)
	}
	if slices.ContainsFunc(ab.Addrs(p), tcpAddr(1000).Equal) {
		t.Fatal("the address expiring first was kept over the bound")
	}
	// Connected ones are not bounded.
	ab.AddAddr(p, tcpAddr(1), peerstore.ConnectedAddrTTL)
	if n := len(ab.Addrs(p)); n != maxAddrsPerPeer+1 {
		t.Fatalf("%d addresses", n)
	}
	// A /p2p suffix is dropped; another peer's address is refused.
	withP := tcpAddr(7).Encapsulate(ma.StringCast("/p2p/" + q.String()))
	ab.AddAddr(q, withP, time.Hour)
	ab.AddAddr(p, withP, time.Hour)
	if !has(ab, q, tcpAddr(7)) || slices.ContainsFunc(ab.Addrs(p), tcpAddr(7).Equal) {
		t.Fatalf("q %v", ab.Addrs(q))
	}
	// Books share an address's bytes.
	other := newTestAddrBook()
	other.AddAddr(q, tcpAddr(7), time.Hour)
	if other.peers[q][0].a != ab.peers[q][0].a {
		t.Fatal("the address is not shared")
	}
}

func TestAddrBookRecords(t *testing.T) {
	ab := newTestAddrBook()
	s := make([]byte, 32)
	s[0] = 9
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(priv)
	seal := func(seq uint64, addrs ...ma.Multiaddr) *record.Envelope {
		rec := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: addrs})
		rec.Seq = seq
		env, err := record.Seal(rec, priv)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	e2 := seal(2, tcpAddr(1), tcpAddr(2))
	if ok, err := ab.ConsumePeerRecord(e2, time.Hour); !ok || err != nil {
		t.Fatalf("consume: %v %v", ok, err)
	}
	if ok, _ := ab.ConsumePeerRecord(seal(1, tcpAddr(3)), time.Hour); ok {
		t.Fatal("an older record accepted")
	}
	if ab.GetPeerRecord(id) != e2 || !has(ab, id, tcpAddr(1), tcpAddr(2)) {
		t.Fatalf("record, addresses %v", ab.Addrs(id))
	}
	// A newer record's addresses replace the older one's.
	e3 := seal(3, tcpAddr(2))
	if ok, err := ab.ConsumePeerRecord(e3, time.Hour); !ok || err != nil {
		t.Fatalf("consume: %v %v", ok, err)
	}
	if ab.GetPeerRecord(id) != e3 || !has(ab, id, tcpAddr(2)) || ab.unconn != 1 {
		t.Fatalf("addresses %v, unconnected %d", ab.Addrs(id), ab.unconn)
	}
	// Another key's record for id is refused.
	s[0] = 10
	other, _ := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s))
	rec := peer.PeerRecordFromAddrInfo(peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{tcpAddr(9)}})
	rec.Seq = 9
	if env, err := record.Seal(rec, other); err == nil {
		if ok, err := ab.ConsumePeerRecord(env, time.Hour); ok || err == nil {
			t.Fatal("a record signed by another key accepted")
		}
	}
	// No address left: no record.
	ab.clk.advance(2 * time.Hour)
	if ab.GetPeerRecord(id) != nil {
		t.Fatal("a record with no address")
	}
}

func TestAddrBookStream(t *testing.T) {
	ab := newTestAddrBook()
	p := testPeer(t, 1)
	ab.AddAddr(p, tcpAddr(1), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	ch := ab.AddrStream(ctx, p)
	if a := <-ch; !a.Equal(tcpAddr(1)) {
		t.Fatalf("first %v", a)
	}
	ab.AddAddr(p, tcpAddr(2), time.Hour)
	if a := <-ch; !a.Equal(tcpAddr(2)) {
		t.Fatalf("second %v", a)
	}
	cancel()
	for range ch {
	}
}
