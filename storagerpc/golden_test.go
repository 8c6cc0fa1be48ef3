package storagerpc

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/sessionctl/sessionctl/identity"
)

// The byte formats of the storage RPC, pinned with the real network's
// known answers where its projects' tests give them (each names its file),
// and with regression vectors (the bytes this code makes, marked so) where
// they only check a signature verifies.

// TestMessageHashKnownAnswer: a message's hash is BLAKE2b-32 of the
// owner's prefixed key, the namespace ("" for 0) and the data, in base64
// without padding. Known answer: session-storage-server
// unit_test/service_node.cpp, "service nodes - message hashing".
func TestMessageHashKnownAnswer(t *testing.T) {
	owner, err := identity.ParseAccountID("05ffba630924aa1224bb930dde21c0d11bf004608f2812217f8ac812d6c7e3ad48")
	if err != nil {
		t.Fatal(err)
	}
	data, err := base64.StdEncoding.DecodeString("CAES1gIKA1BVVBIPL2FwaS92MS9tZXNzYWdlGrsCCAYovfqZv4YvQq8CVwutUBbhRzZw80TvR6uTYMKg9DSag" +
		"rtpeEpY31L7VxawfS8aSya0SiDa4J025SkjP13YX8g5pxgQ8Z6hgfNArMqr/tSijJ9miVKVDJ63YWE85O8kyW" +
		"F8tdtZR5j0Vxb+JH5U8Rg1bp7ftKk3OSf7JJMcrUUrDnctQHe540zJ2OTDJ03DfubkX5NmKqEu5nhXGxeeDv3" +
		"mTiL63fjtCvZYcikfjf6Nh1AX++HTgJ9SGoEIMastGUorFrmmXb2sbjHxNiJn0Radj/VzcA9VxYwBW5+AbGQ2" +
		"d9+vvm7X+8vh+jIenJfjxf+8CWER+9adNfb4YUH07I+godNCV0O0J05gzqfKdT7J8MBZzFBtKrbk8oCagPpTs" +
		"q/wZyYFKFKKD+q+zh704dYBILvs5yXUA96pIAA=")
	if err != nil {
		t.Fatal(err)
	}
	if got := MessageHash(owner, 0, data); got != "4sMyAuaZlMwww3oFvfhazfw7ASx/7TDtO+TVc8aAjHs" {
		t.Errorf("hash %s", got)
	}
	// Another namespace is part of the hashed bytes, in decimal with its
	// sign (request_handler.cpp's computeMessageHash, std::to_chars): a
	// regression vector, upstream's test has namespace 0 only (checked
	// against Python's hashlib.blake2b when written).
	if got := MessageHash(owner, -11, data); got != "H0A6V4AfTsxOBhVIvKhiv8BThkMgBErlqMEgpaPmwgM" {
		t.Errorf("namespace -11: hash %s", got)
	}
}

// TestSignedStrings: what each method's signature covers. Known answers:
// session-desktop ts/test/session/unit/crypto/SnodeSignatures_test.ts
// (retrieve and store in the group namespaces 11-13, delete, expire, at
// timestamp 1234, hashes "hash4321" and "hash4221"); libsession-util
// tests/test_group_keys.cpp, "Group Keys - swarm authentication"
// ("retrieve9991693340111000"); the rest as session-storage-server's
// oxenss/rpc/request_handler.cpp builds them (the namespace by
// client_rpc_endpoints.h's signature_value: "" for 0, "all", or decimal).
func TestSignedStrings(t *testing.T) {
	hashes := []string{"hash4321", "hash4221"}
	tok, err := ParseToken("AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{RetrieveSigMsg(11, 1234), "retrieve111234"},
		{RetrieveSigMsg(12, 1234), "retrieve121234"},
		{RetrieveSigMsg(13, 1234), "retrieve131234"},
		{StoreSigMsg(11, 1234), "store111234"},
		{StoreSigMsg(12, 1234), "store121234"},
		{StoreSigMsg(13, 1234), "store131234"},
		{DeleteSigMsg(hashes), "deletehash4321hash4221"},
		{ExpireSigMsg(false, false, 1234, hashes), "expire1234hash4321hash4221"},
		{RetrieveSigMsg(999, 1693340111000), "retrieve9991693340111000"},
		{RetrieveSigMsg(0, 1234), "retrieve1234"},
		{StoreSigMsg(0, 1234), "store1234"},
		{ExpireSigMsg(true, false, 1234, hashes), "expireshorten1234hash4321hash4221"},
		{ExpireSigMsg(false, true, 1234, hashes), "expireextend1234hash4321hash4221"},
		{GetExpiriesSigMsg(1234, hashes), "get_expiries1234hash4321hash4221"},
		{DeleteAllSigMsg(NamespaceVar{}, 1234), "delete_all1234"},
		{DeleteAllSigMsg(NamespaceVar{All: true}, 1234), "delete_allall1234"},
		{DeleteAllSigMsg(NamespaceVar{NS: -10}, 1234), "delete_all-101234"},
		{DeleteBeforeSigMsg(NamespaceVar{NS: 5}, 1234), "delete_before51234"},
		{ExpireAllSigMsg(NamespaceVar{All: true}, 1234), "expire_allall1234"},
		{RevokeSigMsg("revoke_subaccount", 1234, []Token{tok}), "revoke_subaccount1234" + string(tok[:])},
		{RevokeSigMsg("unrevoke_subaccount", 1234, nil), "unrevoke_subaccount1234"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("signed %q, want %q", tc.got, tc.want)
		}
	}
}

// TestSubaccountKnownAnswer: a subaccount token's bytes (prefix, flags,
// two zero bytes, the holder's key), as the group signs it and as the
// holder's signature is checked against it. Known answers: libsession-util
// tests/test_group_keys.cpp, "Group Keys - swarm authentication".
func TestSubaccountKnownAnswer(t *testing.T) {
	const b64 = "AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5"
	tok, err := ParseToken(b64)
	if err != nil {
		t.Fatal(err)
	}
	if tok[0] != 0x03 || tok.Flags() != FlagRead|FlagWrite || base64.StdEncoding.EncodeToString(tok[:]) != b64 {
		t.Fatalf("token %s: prefix %02x flags %02x", tok, tok[0], tok.Flags())
	}
	if again, err := ParseToken(tok.String()); err != nil || again != tok {
		t.Fatalf("the token in hex: %v", err)
	}
	groupPK, _ := hex.DecodeString("c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625")
	groupSig, _ := base64.StdEncoding.DecodeString("6brvv/2jfciBAJeRKMGSepNJLullyrVVHijyVDE+8GC5Oc89UNxjNrq1kVV1P+pkUIRDOew24gSLFgLZfdl+BQ==")
	holderSig, _ := base64.StdEncoding.DecodeString("c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ==")
	if !ed25519.Verify(groupPK, tok[:], groupSig) {
		t.Error("the group's signature does not cover the token's bytes")
	}
	if !ed25519.Verify(tok.Key(), RetrieveSigMsg(999, 1693340111000), holderSig) {
		t.Error("the holder's signature does not verify with the token's key over the signed string")
	}
	// What a request made with it carries.
	_, sub := SignSubAuth(ed25519.NewKeyFromSeed(make([]byte, 32)), tok, groupSig, nil)
	if sub.Subaccount != hex.EncodeToString(tok[:]) || sub.SubaccountSig != base64.StdEncoding.EncodeToString(groupSig) {
		t.Errorf("subaccount fields %+v", sub)
	}
	for _, bad := range []string{"", "03030001" + tok.String()[8:], tok.String()[:70], "not a token"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

// TestSignGolden: a request's signature is Ed25519 over the signed string,
// in base64; a 05 account's request also names its Ed25519 key in hex. The
// keys are session-desktop's SnodeSignatures_test.ts ones (the group's seed
// 4db38882..., the user's b0e12943...), whose test only verifies the
// signatures; the signatures here are regression vectors (Ed25519 is
// deterministic).
func TestSignGolden(t *testing.T) {
	seed, _ := hex.DecodeString("4db38882cf0a0fffcbb971eb2b1420c92bc836c6946cd97bdc0c2787b806549d")
	group := ed25519.NewKeyFromSeed(seed)
	if hex.EncodeToString(group.Public().(ed25519.PublicKey)) != "0442ca9b758eefe0c42370696688b28f48f44bf44941fae4f3d5b41f6358c41d" {
		t.Fatal("the desktop test's group key")
	}
	if got := Sign(group, RetrieveSigMsg(13, 1234)); got != "Cvw2d5pHgSxprJcphud2C8yu7pIEPwLprjbLRNM0k+hwALMCiBzIw6BNLzmoCx8lqigNWFXqpQ0FffeoGnThBA==" {
		t.Errorf("retrieve signature %s", got)
	}
	if got := Sign(group, DeleteSigMsg([]string{"hash4321", "hash4221"})); got != "MEynTDMxhFHg2H6EFsURsYs3VWzH/p3whSV6jej1kRg8dtpq05ZgGETsLOQSLR0BJ1Ns4UZQ87yU9GWKs5BHBg==" {
		t.Errorf("delete signature %s", got)
	}
	userSeed, _ := hex.DecodeString("b0e12943e22e8f71774c2c4205fed59800000000000000000000000000000000")
	user := ed25519.NewKeyFromSeed(userSeed)
	x, err := identity.Ed25519ToX25519(user.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.ParseAccountID("05" + hex.EncodeToString(x[:]))
	if err != nil {
		t.Fatal(err)
	}
	a := SignAuth(user, id, ExpireSigMsg(false, false, 1234, []string{"hash4321", "hash4221"}))
	if a.PubkeyEd25519 != "bdd5eaf00eaf965ca63b7e8b119d8122d4647ffd5bb58daa1f78dfc54dd53989" ||
		a.Signature != "8SyXGg9Aplb4ra+0Ipga+zA9mEZ2CxBRK8w4zAKrQ4PUXFkDuT4JrTIqYbqUFW/U/FeAahWjPxj6yl+vkF8uAA==" {
		t.Errorf("a 05 account's auth %+v", a)
	}
	if b, _ := json.Marshal(a); string(b) != `{"pubkey_ed25519":"bdd5eaf00eaf965ca63b7e8b119d8122d4647ffd5bb58daa1f78dfc54dd53989","signature":"8SyXGg9Aplb4ra+0Ipga+zA9mEZ2CxBRK8w4zAKrQ4PUXFkDuT4JrTIqYbqUFW/U/FeAahWjPxj6yl+vkF8uAA=="}` {
		t.Errorf("auth JSON %s", b)
	}
	if g := SignAuth(group, identity.AccountID{Prefix: identity.PrefixGroup}, nil); g.PubkeyEd25519 != "" {
		t.Error("a group's request named an Ed25519 key")
	}
}

// TestPeerIDGolden: a node's libp2p peer ID is its Ed25519 key's identity
// multihash (a regression vector of the desktop test's group key).
func TestPeerIDGolden(t *testing.T) {
	p, err := PeerIDFromEd25519("0442ca9b758eefe0c42370696688b28f48f44bf44941fae4f3d5b41f6358c41d")
	if err != nil || p.String() != "12D3KooWA6zsRtf74CyRpKBVVnd8DJEzY4Dow7xkAyNLHRTqBMa4" {
		t.Fatalf("peer ID %s %v", p, err)
	}
	if _, err := PeerIDFromEd25519("0442"); err == nil {
		t.Fatal("a short key made a peer ID")
	}
}
