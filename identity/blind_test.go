package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"testing"
)

func TestBlind15(t *testing.T) {
	server := make([]byte, 32)
	rand.Read(server)
	for i := 0; i < 50; i++ {
		k, _ := NewAccount(rand.Reader)
		b, err := Blind15(k, server)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := BlindedIDs(k.AccountID(), server)
		if err != nil {
			t.Fatal(err)
		}
		want := ids[0]
		if k.Ed25519Public()[31]&0x80 != 0 {
			want = ids[1]
		}
		if want != b.ID() {
			t.Fatalf("the blinded ID from the Session ID %s is not the account's %s", want, b.ID())
		}
		if got, _ := BlindEd25519(k.Ed25519Public(), server); got != b.ID() {
			t.Fatalf("BlindEd25519 %s, the account's %s", got, b.ID())
		}
		b25, err := Blind25(k, server)
		if err != nil {
			t.Fatal(err)
		}
		if id25, _ := Blinded25ID(k.AccountID(), server); id25 != b25.ID() {
			t.Fatalf("the 25-blinded ID from the Session ID %s is not the account's %s", id25, b25.ID())
		}
		msg := []byte("sign me")
		for _, b := range []*Blinded{b, b25} {
			if !VerifyBlinded(b.Public, msg, b.Sign(msg)) || VerifyBlinded(b.Public, []byte("other"), b.Sign(msg)) {
				t.Fatal("a blinded signature does not verify as Ed25519")
			}
		}
		other := make([]byte, 32)
		rand.Read(other)
		b2, _ := Blind15(k, other)
		if b2.ID() == b.ID() {
			t.Fatal("two servers see the same blinded ID")
		}
	}
	if _, err := BlindedIDs(AccountID{Prefix: PrefixGroup}, server); err == nil {
		t.Fatal("a group ID was blinded")
	}
}

// Known answers from libsession-util tests/test_blinding.cpp: two accounts
// (seed1 with a positive Ed25519 key, seed2 with a negative one), their
// 15- and 25-blinded IDs for a server key, and deterministic signatures.
func TestBlindingKnownAnswers(t *testing.T) {
	seed := func(h string) *Keys { return KeysFromEd25519Seed([32]byte(mustHex(t, h))) }
	k1 := seed("fecd9a6034bc9aba273925dee7062b123334587c3c6257341afae2d7fe85e122")
	k2 := seed("8659efdcbe0949e0f81141e6d397e8be75f45d09262f209d5950e97989eb43c7")
	if got := hex.EncodeToString(k1.X25519Public[:]); got != "fe94b7ad4b7f1cc1bb92671f1f0d243f226e115b33770465e82b503fc3e96e1f" {
		t.Fatalf("seed1's X25519 key %s", got)
	}
	if got := hex.EncodeToString(k2.X25519Public[:]); got != "05c9a9bf178fa644d44bebf628716dc7f2df3d0842e97881962c723699152073" {
		t.Fatalf("seed2's X25519 key %s", got)
	}
	const (
		srvA = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		srv0 = "00cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		srv9 = "999def0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		srv8 = "888def0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		srv7 = "777def0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	)
	for _, c := range []struct {
		k      *Keys
		server string
		want   string
	}{
		{k1, srvA, "253b991dcbba44cfdb45d5b38880d95cff723309e3ece6fd01415ad5fa1dccc7ac"},
		{k1, srv0, "2598589c7885b56cbeae6ab7b4224f202815520a54995872cb1833b44db6401c8d"},
		{k2, srvA, "25a69cc6884530bf8498d22892e563716c4742f2845a7eb608de2aecbe7b6b5996"},
	} {
		got, err := Blinded25ID(c.k.AccountID(), mustHex(t, c.server))
		if err != nil || got != c.want {
			t.Errorf("25-blinded ID of %s for %s…: %s %v, want %s", c.k.AccountID(), c.server[:6], got, err, c.want)
		}
		b, _ := Blind25(c.k, mustHex(t, c.server))
		if b.ID() != c.want {
			t.Errorf("Blind25 of %s for %s…: %s, want %s", c.k.AccountID(), c.server[:6], b.ID(), c.want)
		}
	}
	for _, c := range []struct {
		k    *Keys
		want string
	}{
		{k1, "15b74ed205f1f931e1bb1291183778a9456b835937d923b0f2e248aa3a44c07844"},
		{k2, "1561e070286ff7a71f167e92b18c709882b148d8238c8872caf414b301ba0564fd"},
	} {
		ids, err := BlindedIDs(c.k.AccountID(), mustHex(t, srvA))
		if err != nil || ids[0] != c.want {
			t.Errorf("15-blinded ID of %s: %s %v, want %s", c.k.AccountID(), ids[0], err, c.want)
		}
	}
	for _, c := range []struct {
		blind  func(*Keys, []byte) (*Blinded, error)
		k      *Keys
		server string
		msg    string
		want   string
	}{
		{Blind25, k1, srvA, "hello", "e6c57de4ac0cd278abbeef815bd88b163a037085deae789ecaaf4805884c4c3d3db25f3afa856241366cb341a3a4c9bbaa2cda81d028079c956fab16a7fe6206"},
		{Blind25, k1, srv0, "world", "4460b606e9f55a7cba0bbe24207fe2859c3422783373788b6b070b2fa62ceba4f2a50749a6cee68e095747a369927f9f4afa86edaf055cad68110e35e8b06607"},
		{Blind25, k2, srvA, "this", "57bb2f80c88ce2f677902ee58e02cbd83e4e1ec9e06e1c72a34b4ab76d0f5219cfd141ac5ce7016c73c8382db99df9f317f2bc0af6ca68edac2a9a7670938902"},
		{Blind25, k2, srv9, "is", "ecce032b27b09d2d3d6df4ebab8cae86656c64fd1e3e70d6f020cd7e1a8058c57e3df7b6b01e90ccd592ac4a845dde7a2fdceb1a328a6690686851583133ea0c"},
		{Blind25, k2, srv8, "", "bf2fb9a511adbf5827e2e3bcf09f0a1cff80f85556fb76d8001aa8483b5f22e14539b170eaa0dbfa1489d1b8618ce8b48d7512cb5602c7eb8a05ce330a68350b"},
		{Blind25, k1, srv7, "omg!", "322e280fbc3547c6b6512dbea4d60563d32acaa2df10d665c40a336c99fc3b8e4b13a7109dfdeadab2ab58b2cb314eb0510b947f43e5dfb6e0ce5bf1499d240f"},
		{Blind15, k1, srvA, "hello", "1a5ade20b43af0e16b3e591d6f86303938d7557c0ac54469dd4f5aea759f82d22cafa42587251756e133acdddd8cbec2f707a9ce09a49f2193f46a91502c5006"},
		{Blind15, k1, srv0, "world", "d357f74c5ec5536840aec575051f71fdb22d70f35ef31db1715f5f694842de3b39aa647c84aa8e28ec56eb762d237c9e030639c83f429826d419ac719cd4df03"},
		{Blind15, k2, srvA, "this", "dacf91dfb411e99cd8ef4cb07b195b49289cf1a724fef122c73462818560bc29832a98d870ec4feb79dedca5b59aba6a466d3ce8f3e35adf25a1813f6989fd0a"},
		{Blind15, k2, srv9, "is", "8339ea9887d3e44131e33403df160539cdc7a0a8107772172c311e95773660a0d39ed0a6c2b2c794dde1fdc640943e403497aa02c4d1a21a7d9030742beabb05"},
		{Blind15, k2, srv8, "", "8b0d6447decff3a21ec1809141580139c4a51e24977b0605fe7984439993f5377ebc9681e4962593108d03cc8b6873c5c5ba8c30287188137d2dee9ab10afd0f"},
		{Blind15, k1, srv7, "omg!", "946725055399376ecebb605c79f845fbf689a47f98507c2a1f239516fd9c9104e19fe533631c27ba4e7444574f0e4f0f0d422b7256ed63681a3ab2fe7e040601"},
	} {
		b, err := c.blind(c.k, mustHex(t, c.server))
		if err != nil {
			t.Fatal(err)
		}
		sig := b.Sign([]byte(c.msg))
		if got := hex.EncodeToString(sig); got != c.want {
			t.Errorf("%x-blinded signature of %q for %s…: %s, want %s", b.Prefix(), c.msg, c.server[:6], got, c.want)
		}
		// The upstream test checks each against the ID derived from the
		// Session ID (the negative one for seed2's 15-blinding).
		var id string
		if b.Prefix() == PrefixBlinded25 {
			id, _ = Blinded25ID(c.k.AccountID(), mustHex(t, c.server))
		} else {
			ids, _ := BlindedIDs(c.k.AccountID(), mustHex(t, c.server))
			id = ids[0]
			if c.k == k2 {
				id = ids[1]
			}
		}
		if !ed25519.Verify(mustHex(t, id)[1:], []byte(c.msg), sig) {
			t.Errorf("the signature of %q does not verify under %s", c.msg, id)
		}
	}
}
