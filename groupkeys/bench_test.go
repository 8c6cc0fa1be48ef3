package groupkeys

import (
	"crypto/ed25519"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/sessionctl/sessionctl/identity"
)

// hundred is a group of 100 members (the admin and 99 others) and the last
// member's keys.
func hundred(b *testing.B) (admin, last *Keys, ids []string) {
	seed := unhex(b, groupSeedHex)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	admin, _ = New(userKeys(b, admin1SeedHex), pub, seed)
	ids = append(ids, admin.user.AccountID().String())
	for i := 1; i < MaxMembers; i++ {
		var s [32]byte
		binary.BigEndian.PutUint32(s[:], uint32(i))
		u := identity.KeysFromEd25519Seed(s)
		ids = append(ids, u.AccountID().String())
		if i == MaxMembers-1 {
			last, _ = New(u, pub, nil)
		}
	}
	return admin, last, ids
}

// BenchmarkRekey100: an admin's new key for 100 members.
func BenchmarkRekey100(b *testing.B) {
	admin, _, ids := hundred(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := admin.Rekey(ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad100: a member finds its copy of a key made for 100.
func BenchmarkLoad100(b *testing.B) {
	admin, last, ids := hundred(b)
	msg, _ := admin.Rekey(ids)
	b.ReportAllocs()
	for b.Loop() {
		if found, err := last.Load("h", msg, t0); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

// BenchmarkMessage: encrypting and decrypting a 1 kB message.
func BenchmarkMessage(b *testing.B) {
	admin, _, ids := hundred(b)
	admin.Rekey(ids)
	content := []byte(strings.Repeat("a kilobyte of chat ", 54))
	b.ReportAllocs()
	for b.Loop() {
		ct, err := admin.EncryptMessage(content)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := admin.DecryptMessage(ct); err != nil {
			b.Fatal(err)
		}
	}
}
