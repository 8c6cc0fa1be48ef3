package group

import (
	"encoding/hex"
	"testing"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
)

func keysOfSeed(t testing.TB, h string) *identity.Keys {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatalf("seed %q", h)
	}
	return identity.KeysFromEd25519Seed([32]byte(b))
}

// TestMultiEncryptLibsession: known answers from libsession-util's
// tests/test_multi_encrypt.cpp, "Multi-recipient encryption": the seeds'
// X25519 keys, then "hello" (and "hello", "cruel", "world") from the
// first to the next three, domain "test suite", the test's nonce.
func TestMultiEncryptLibsession(t *testing.T) {
	seeds := []string{
		"0123456789abcdef0123456789abcdef00000000000000000000000000000000",
		"0123456789abcdef000000000000000000000000000000000000000000000000",
		"0123456789abcdef111111111111111100000000000000000000000000000000",
		"0123456789abcdef222222222222222200000000000000000000000000000000",
		"0123456789abcdef333333333333333300000000000000000000000000000000",
	}
	wantX := []string{
		"d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72",
		"d673a8fb4800d2a252d2fc4e3342a88cdfa9412853934e8993d12d593be13371",
		"afd9716ea69ab8c7f475e1b250c86a6539e260804faecf2a803e9281a4160738",
		"03be14feabd59122349614b88bdc90db1d1af4c230e9a73c898beec833d51f11",
		"27b5c1ea87cef76284c752fa6ee1b9186b1a95e74e8f5b88f8b47e5191ce6f08",
	}
	keys := make([]*identity.Keys, len(seeds))
	for i, s := range seeds {
		keys[i] = keysOfSeed(t, s)
		if got := hex.EncodeToString(keys[i].X25519Public[:]); got != wantX[i] {
			t.Fatalf("x25519 key %d: %s", i, got)
		}
	}
	nonce, _ := hex.DecodeString("32ab4bb45d6df5cc14e1c330fb1a8b68ea3826a8c2213a49")
	recips := [][32]byte{keys[1].X25519Public, keys[2].X25519Public, keys[3].X25519Public}
	for _, tc := range []struct {
		msgs []string
		want []string
	}{
		{[]string{"hello"}, []string{"e64937e5ea201b84f4e88a976dad900d91caaf6a17", "b7a15bcd9f7b09445defcae2f1dc5085dd75cb085b", "01c4fc2156327735f3fb5063b11ea95f6ebcc5b6cc"}},
		{[]string{"hello", "cruel", "world"}, []string{"e64937e5ea201b84f4e88a976dad900d91caaf6a17", "bcb642c49c6da03f70cdaab2ed6666721318afd631", "1ecee2215d226817edfdb097f05037eb799309103a"}},
	} {
		var msgs [][]byte
		for _, m := range tc.msgs {
			msgs = append(msgs, []byte(m))
		}
		enc, err := multiEncrypt(msgs, recips, keys[0].X25519Private, keys[0].X25519Public, "test suite", nonce)
		if err != nil || len(enc) != 3 {
			t.Fatal(err)
		}
		for i := range enc {
			if got := hex.EncodeToString(enc[i]); got != tc.want[i] {
				t.Errorf("%v, ciphertext %d: %s, want %s", tc.msgs, i, got, tc.want[i])
			}
		}
		// Each recipient opens its own through the simple form.
		list := []any{}
		for _, e := range enc {
			list = append(list, e)
		}
		encoded := configmsg.Encode(configmsg.Dict{"#": nonce, "e": list})
		for i, k := range keys[1:4] {
			plain, err := multiDecryptSimple(encoded, k.X25519Private, k.X25519Public, keys[0].X25519Public, "test suite")
			want := tc.msgs[0]
			if len(tc.msgs) > 1 {
				want = tc.msgs[i]
			}
			if err != nil || string(plain) != want {
				t.Errorf("recipient %d: %q, %v", i+1, plain, err)
			}
		}
		// The sender itself and the last key were not recipients.
		for _, k := range []*identity.Keys{keys[4]} {
			if _, err := multiDecryptSimple(encoded, k.X25519Private, k.X25519Public, keys[0].X25519Public, "test suite"); err == nil {
				t.Error("a non-recipient opened it")
			}
		}
		if _, err := multiDecryptSimple(encoded, keys[1].X25519Private, keys[1].X25519Public, keys[0].X25519Public, "other domain"); err == nil {
			t.Error("opened in another domain")
		}
	}
}

// TestKickedNotice: a kicked member reads its notice from the group's
// key; another member finds nothing for it; malformed input is refused.
func TestKickedNotice(t *testing.T) {
	group := keysOfSeed(t, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")
	carol := keysOfSeed(t, "0123456789abcdef111111111111111100000000000000000000000000000000")
	bob := keysOfSeed(t, "0123456789abcdef222222222222222200000000000000000000000000000000")
	enc, err := multiEncryptSimple([][]byte{kickedNotice(carol.AccountID(), 4)}, [][32]byte{carol.X25519Public},
		group.X25519Private, group.X25519Public, kickedDomain)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := multiDecryptSimple(enc, carol.X25519Private, carol.X25519Public, group.X25519Public, kickedDomain)
	if err != nil {
		t.Fatal(err)
	}
	if gen, err := readKickedNotice(plain, carol.AccountID()); err != nil || gen != 4 {
		t.Fatalf("generation %d, %v", gen, err)
	}
	if _, err := readKickedNotice(plain, bob.AccountID()); err == nil {
		t.Fatal("bob read carol's notice as his")
	}
	if _, err := multiDecryptSimple(enc, bob.X25519Private, bob.X25519Public, group.X25519Public, kickedDomain); err == nil {
		t.Fatal("bob opened carol's notice")
	}
	for _, bad := range [][]byte{nil, []byte("de"), []byte("d1:#3:abc1:elee"), []byte("le"), enc[:len(enc)-1]} {
		if _, err := multiDecryptSimple(bad, carol.X25519Private, carol.X25519Public, group.X25519Public, kickedDomain); err == nil {
			t.Errorf("%q opened", bad)
		}
	}
	for _, bad := range [][]byte{nil, carol.X25519Public[:], append(carol.X25519Public[:], "x1"...), append(carol.X25519Public[:], "-1"...)} {
		if _, err := readKickedNotice(bad, carol.AccountID()); err == nil {
			t.Errorf("notice %q read", bad)
		}
	}
}

func FuzzMultiDecrypt(f *testing.F) {
	group := keysOfSeed(f, "0123456789abcdef0123456789abcdef00000000000000000000000000000000")
	carol := keysOfSeed(f, "0123456789abcdef111111111111111100000000000000000000000000000000")
	enc, _ := multiEncryptSimple([][]byte{kickedNotice(carol.AccountID(), 1)}, [][32]byte{carol.X25519Public},
		group.X25519Private, group.X25519Public, kickedDomain)
	f.Add(enc)
	f.Add([]byte("d1:#24:000000000000000000000000e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if plain, err := multiDecryptSimple(data, carol.X25519Private, carol.X25519Public, group.X25519Public, kickedDomain); err == nil {
			readKickedNotice(plain, carol.AccountID())
		}
	})
}
