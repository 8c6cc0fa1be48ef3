package identity

import (
	"crypto/rand"
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
		if ids[0] != b.ID() {
			t.Fatalf("the blinded ID from the Session ID %s is not the account's %s", ids[0], b.ID())
		}
		msg := []byte("sign me")
		if !VerifyBlinded(b.Public, msg, b.Sign(msg)) || VerifyBlinded(b.Public, []byte("other"), b.Sign(msg)) {
			t.Fatal("a blinded signature does not verify as Ed25519")
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
