package p2phost

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

func TestPeerStoreAddrTTL(t *testing.T) {
	ps := newPeerStore()
	defer ps.Close()
	p := testPeer(t, 1)
	a, b := ma.StringCast("/ip4/127.0.0.1/tcp/1"), ma.StringCast("/ip4/127.0.0.1/tcp/2")
	// What identify does on a connection, then on its close.
	ps.AddAddrs(p, []ma.Multiaddr{a, b}, peerstore.ConnectedAddrTTL)
	ps.UpdateAddrs(p, peerstore.ConnectedAddrTTL, peerstore.TempAddrTTL)
	ps.AddAddrs(p, []ma.Multiaddr{a, b}, peerstore.RecentlyConnectedAddrTTL)
	ps.UpdateAddrs(p, peerstore.TempAddrTTL, 0)
	if got := ps.Addrs(p); len(got) != 2 {
		t.Fatalf("after the close: %v", got)
	}
	// Identify on the next connection downgrades "recently connected"
	// addresses: the mapping holds both ways.
	ps.UpdateAddrs(p, peerstore.RecentlyConnectedAddrTTL, 0)
	if got := ps.Addrs(p); len(got) != 0 {
		t.Fatalf("recently connected addresses not found by their TTL: %v", got)
	}
	// They expire after recentAddrTTL, not 15 minutes: the address book
	// keeps the TTL it was given, which a later AddAddrs of a longer one
	// raises.
	ps.AddAddrs(p, []ma.Multiaddr{a}, peerstore.RecentlyConnectedAddrTTL)
	ps.AddAddrs(p, []ma.Multiaddr{a}, recentAddrTTL+time.Nanosecond)
	ps.UpdateAddrs(p, recentAddrTTL, 0)
	if got := ps.Addrs(p); len(got) != 1 {
		t.Fatalf("a longer TTL was lowered: %v", got)
	}
	ps.SetAddrs(p, []ma.Multiaddr{a}, peerstore.RecentlyConnectedAddrTTL)
	ps.UpdateAddrs(p, recentAddrTTL, 0)
	if got := ps.Addrs(p); len(got) != 0 {
		t.Fatalf("recently connected kept %v, not recentAddrTTL", got)
	}
	// Other TTLs are kept as given.
	ps.AddAddr(p, a, time.Hour)
	ps.UpdateAddrs(p, recentAddrTTL, 0)
	if got := ps.PeerInfo(p); len(got.Addrs) != 1 || !slices.Contains(ps.Peers(), p) {
		t.Fatalf("peer info %v, peers %v", got, ps.Peers())
	}
}

func TestPeerStoreKeys(t *testing.T) {
	ps := newPeerStore()
	defer ps.Close()
	s := make([]byte, 32)
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(s))
	if err != nil {
		t.Fatal(err)
	}
	self, _ := peer.IDFromPrivateKey(priv)
	other := testPeer(t, 2)
	if err := ps.AddPrivKey(self, priv); err != nil {
		t.Fatal(err)
	}
	if err := ps.AddPrivKey(other, priv); err == nil {
		t.Fatal("a private key accepted for another peer")
	}
	if err := ps.AddPubKey(other, priv.GetPublic()); err == nil {
		t.Fatal("a public key accepted for another peer")
	}
	if err := ps.AddPubKey(self, priv.GetPublic()); err != nil {
		t.Fatal(err)
	}
	// An Ed25519 peer ID holds its key: derived, not kept.
	if len(ps.pubs) != 0 {
		t.Fatalf("kept %d public keys", len(ps.pubs))
	}
	s2 := make([]byte, 32)
	s2[0] = 2
	if k := ps.PubKey(other); k == nil || !k.Equals(mustPub(t, ed25519.NewKeyFromSeed(s2))) {
		t.Fatal("a peer's key not derived from its ID")
	}
	if k := ps.PubKey(self); k == nil || !k.Equals(priv.GetPublic()) {
		t.Fatal("own public key")
	}
	if k := ps.PrivKey(self); k == nil || !k.Equals(priv) {
		t.Fatal("own private key")
	}
	if got := ps.PeersWithKeys(); !slices.Equal(got, peer.IDSlice{self}) {
		t.Fatalf("peers with keys %v", got)
	}
	// An RSA peer's key (not in its ID) is kept until RemovePeer.
	rsa, _, err := crypto.GenerateKeyPair(crypto.RSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := peer.IDFromPublicKey(rsa.GetPublic())
	if ps.PubKey(rp) != nil {
		t.Fatal("a key for an unknown RSA peer")
	}
	if err := ps.AddPubKey(rp, rsa.GetPublic()); err != nil || !ps.PubKey(rp).Equals(rsa.GetPublic()) {
		t.Fatalf("RSA key: %v", err)
	}
	ps.RemovePeer(rp)
	if ps.PubKey(rp) != nil {
		t.Fatal("RSA key after RemovePeer")
	}
}

func TestPeerStoreProtocolsAndMetadata(t *testing.T) {
	ps := newPeerStore()
	defer ps.Close()
	p, q := testPeer(t, 1), testPeer(t, 2)
	if err := ps.SetProtocols(p, "/a", "/b", "/a"); err != nil {
		t.Fatal(err)
	}
	if err := ps.AddProtocols(p, "/c", "/b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ps.GetProtocols(p); !slices.Equal(got, []protocol.ID{"/a", "/b", "/c"}) {
		t.Fatalf("protocols %v", got)
	}
	if got, _ := ps.SupportsProtocols(p, "/x", "/c", "/a"); !slices.Equal(got, []protocol.ID{"/c", "/a"}) {
		t.Fatalf("supports %v", got)
	}
	if got, _ := ps.FirstSupportedProtocol(p, "/x", "/b", "/a"); got != "/b" {
		t.Fatalf("first supported %q", got)
	}
	if err := ps.RemoveProtocols(p, "/a", "/c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ps.GetProtocols(p); !slices.Equal(got, []protocol.ID{"/b"}) {
		t.Fatalf("after remove: %v", got)
	}
	// A name holding a NUL (or empty) is left out; peers with the same
	// protocols share one string.
	if err := ps.SetProtocols(q, "/b", "/x\x00y", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := ps.GetProtocols(q); !slices.Equal(got, []protocol.ID{"/b"}) || ps.protos[q] != ps.protos[p] {
		t.Fatalf("q's protocols %q", got)
	}
	many := make([]protocol.ID, maxProtocols+1)
	for i := range many {
		many[i] = protocol.ID("/p/" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	if err := ps.SetProtocols(q, many...); err == nil {
		t.Fatal("too many protocols accepted")
	}
	if got, _ := ps.GetProtocols(q); !slices.Equal(got, []protocol.ID{"/b"}) {
		t.Fatalf("too many protocols changed q's: %d", len(got))
	}

	for _, kv := range []struct {
		k string
		v any
	}{{"AgentVersion", "sessionctl"}, {"ProtocolVersion", "ipfs/0.1.0"}, {"x", 7}} {
		if err := ps.Put(p, kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
		if v, err := ps.Get(p, kv.k); err != nil || v != kv.v {
			t.Fatalf("get %s: %v, %v", kv.k, v, err)
		}
		if _, err := ps.Get(q, kv.k); err != peerstore.ErrNotFound {
			t.Fatalf("another peer's %s: %v", kv.k, err)
		}
	}
	// A version that is not a string is kept as given.
	if err := ps.Put(p, "AgentVersion", 3); err != nil {
		t.Fatal(err)
	}
	if v, err := ps.Get(p, "AgentVersion"); err != nil || v != 3 {
		t.Fatalf("agent version %v, %v", v, err)
	}
	ps.RemovePeer(p)
	for _, k := range []string{"AgentVersion", "ProtocolVersion", "x"} {
		if _, err := ps.Get(p, k); err != peerstore.ErrNotFound {
			t.Fatalf("%s after RemovePeer: %v", k, err)
		}
	}
	if got, _ := ps.GetProtocols(p); len(got) != 0 {
		t.Fatalf("protocols after RemovePeer: %v", got)
	}
}
