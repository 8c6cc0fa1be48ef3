package group

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// TestSubaccountKnownAnswer: libsession-util tests/test_group_keys.cpp,
// "Group Keys - swarm authentication": a group seed, a member seed, the
// member's token, the group's signature over it, and the member's signature
// of "retrieve9991693340111000", byte for byte.
func TestSubaccountKnownAnswer(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	groupSeed := h("0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210")
	member := identity.KeysFromEd25519Seed([32]byte(h("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")))
	groupPub := ed25519.NewKeyFromSeed(groupSeed).Public().(ed25519.PublicKey)
	if hex.EncodeToString(groupPub) != "c50cb3ae956947a8de19135b5be2685ff348afc63fc34a837aca12bc5c1f5625" {
		t.Fatalf("group key %x", groupPub)
	}
	if member.AccountID().String() != "05c5ba413c336f2fe1fb9a2c525f8a86a412a1db128a7841b4e0e217fa9eb7fd5e" {
		t.Fatalf("member %s", member.AccountID())
	}
	auth, err := MakeAuthData(groupSeed, member.AccountID(), storagerpc.FlagRead|storagerpc.FlagWrite)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := newMemberSigner(member, groupPub, auth)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("retrieve9991693340111000")
	b64 := base64.StdEncoding.EncodeToString
	if got := b64(ms.token[:]); got != "AwMAAIWvMR2nJXCFnK5+hNahNecWqMC39/TVVLjaR3imNug5" {
		t.Errorf("subaccount %s", got)
	}
	if got := b64(ms.tokenSig); got != "6brvv/2jfciBAJeRKMGSepNJLullyrVVHijyVDE+8GC5Oc89UNxjNrq1kVV1P+pkUIRDOew24gSLFgLZfdl+BQ==" {
		t.Errorf("subaccount_sig %s", got)
	}
	sig := ms.sign(msg)
	if got := b64(sig); got != "c3PJ4g29v5RivKm8Tdg49vGU2/6kVd0yONnpz5U5zePMYptqW3iYQ0TYf2rEzv3qqkPhS5p67M5GAccHoBHGDQ==" {
		t.Errorf("signature %s", got)
	}
	if !ed25519.Verify(ms.token[4:], msg, sig) {
		t.Error("the signature does not verify under kT")
	}
	if tok, _ := MemberToken(groupSeed, member.AccountID(), storagerpc.FlagRead|storagerpc.FlagWrite); tok != ms.token {
		t.Error("the admin's token differs from the member's")
	}
	// Another member cannot use these auth data: the token it derives is
	// not the one the group signed.
	other, _ := identity.NewAccount(bytes.NewReader(make([]byte, 64)))
	if _, err := newMemberSigner(other, groupPub, auth); err == nil {
		t.Error("another account used the member's auth data")
	}
	// Any flipped bit is refused (the group's signature, the flags, k).
	for i := 0; i < len(auth); i++ {
		bad := bytes.Clone(auth)
		bad[i] ^= 1
		if _, err := newMemberSigner(member, groupPub, bad); err == nil {
			t.Errorf("auth data with byte %d flipped accepted", i)
		}
	}
}
