package identity

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
)

// The known answer, worked by hand from SPEC 1 for the seed
// 39038c8988db02c1af44e8c847bd9713 (n = 1626):
//
//	group  bytes     x (LE)      w1=x%n  w2=(x/n+w1)%n  w3=(x/n/n+w2)%n  words
//	0      39038c89  2307654457  1111    834            80               puffin luxury annoyed
//	1      88db02c1  3238189960  1204    860            458              rustled memoir faxed
//	2      af44e8c8  3370665135  1281    1110           758              smidgen puddle kiwi
//	3      47bd9713  328711495   961     1496           1620             nylon utopia zinger
//
// prefixes "pufluxannrusmemfaxsmipudkiwnylutozin", CRC-32 = 1496672336,
// 1496672336 mod 12 = 8, word 8 (0-based) is "kiwi": the 13th word.
//
// The Account ID and Ed25519 key are the published answers of the Session
// JavaScript libraries for the same seed, so the Session apps agree. Its
// swarm space: 4830367d369d9460 ^ 5247999a375dbd0a ^ 0f65fdec5de15356 ^
// 12bcb6d4de452c69 = 07aee4df82645655 = 553631452829603413.
const (
	kaSeed    = "39038c8988db02c1af44e8c847bd9713"
	kaPhrase  = "puffin luxury annoyed rustled memoir faxed smidgen puddle kiwi nylon utopia zinger kiwi"
	kaAccount = "054830367d369d94605247999a375dbd0a0f65fdec5de1535612bcb6d4de452c69"
	kaEd25519 = "f661a69453ef81a3b75bfcf954eb1f439d4d74edcab0e72a5c435ee418a907be"
	kaX25519K = "38826f05b06ae13d8e9fa7ebc694410979339df07731e6300128dab10ccd9d7b"
	kaSwarm   = uint64(553631452829603413)
)

func TestKnownAnswer(t *testing.T) {
	seed := [SeedSize]byte(mustHex(t, kaSeed))
	if got := EncodePhrase(seed); got != kaPhrase {
		t.Fatalf("EncodePhrase = %q, want %q", got, kaPhrase)
	}
	k := AccountFromSeed(seed)
	if got := k.AccountID().String(); got != kaAccount {
		t.Errorf("account = %s, want %s", got, kaAccount)
	}
	if got := hex.EncodeToString(k.Ed25519Public()); got != kaEd25519 {
		t.Errorf("ed25519 = %s, want %s", got, kaEd25519)
	}
	if got := hex.EncodeToString(k.X25519Private[:]); got != kaX25519K {
		t.Errorf("x25519 private = %s, want %s", got, kaX25519K)
	}
	if got := k.AccountID().SwarmSpace(); got != kaSwarm {
		t.Errorf("swarm space = %d, want %d", got, kaSwarm)
	}
}

// Phrases and Account IDs published with the Session JavaScript and Python
// client libraries.
func TestPhraseToAccountID(t *testing.T) {
	for _, tc := range []struct{ phrase, account string }{
		{"session session session session session session session session session session session session session", "0512742fb4ac033a8a33f5776aa0e7e88f35f7af9f65dee31e57fbc7d6f8664b12"},
		{"love love love love love love love love love love love love love", "053db493811f729da20289e31498b8fe2b28edc90358cd3ec11a6b12ac1b9fb818"},
		{kaPhrase, kaAccount},
		{"unknown number jukebox pledge lipstick sieve tumbling federal womanly outbreak tapestry gorilla sieve", "05ab0badfc19ac18f71d7bb10d5ca5c92731aa301cc483169c691cf697b83e765a"},
		// Only the first three letters count, in any case.
		{"PUF lux ann rus mem fax smi pud kiw nyl uto zin kiw", kaAccount},
		{"  puffins   luxuryX annoyed rustled memoir faxed smidgen puddle kiwi nylon utopia zinger kiwi ", kaAccount},
	} {
		k, err := AccountFromPhrase(tc.phrase)
		if err != nil {
			t.Errorf("%q: %v", tc.phrase, err)
			continue
		}
		if got := k.AccountID().String(); got != tc.account {
			t.Errorf("%q: account %s, want %s", tc.phrase, got, tc.account)
		}
	}
}

func TestDecodePhraseErrors(t *testing.T) {
	for _, tc := range []struct {
		phrase string
		want   error
	}{
		{"", ErrPhraseLength},
		{"puffin luxury annoyed", ErrPhraseLength},
		{kaPhrase + " kiwi", ErrPhraseLength},
		{strings.Replace(kaPhrase, "memoir", "qqqqqq", 1), ErrUnknownWord},
		{strings.Replace(kaPhrase, "memoir", "me", 1), ErrUnknownWord},
		{strings.TrimSuffix(kaPhrase, "kiwi") + "puffin", ErrChecksum},
		// abbey zoom zones: 0 + 1626*1625 + 1626^2*1625 > 2^32, no 32-bit value.
		{withChecksum("abbey zoom zones abbey zoom zones abbey zoom zones abbey zoom zones"), ErrPhraseInvalid},
	} {
		_, err := DecodePhrase(tc.phrase)
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v, want %v", tc.phrase, err, tc.want)
		}
	}
}

// withChecksum appends the right checksum word to 12 words.
func withChecksum(twelve string) string {
	ws := strings.Fields(twelve)
	return twelve + " " + ws[checksumIndex(ws)]
}

func TestPhraseRoundTrip(t *testing.T) {
	for i := 0; i < 1000; i++ {
		var seed [SeedSize]byte
		rand.Read(seed[:])
		got, err := DecodePhrase(EncodePhrase(seed))
		if err != nil || got != seed {
			t.Fatalf("seed %x: decode(encode) = %x, %v", seed, got, err)
		}
	}
}

// The X25519 key derived from the Ed25519 seed and the one converted from the
// Ed25519 public key must be the same key pair.
func TestX25519PairMatches(t *testing.T) {
	for i := 0; i < 50; i++ {
		k, err := NewAccount(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := curve25519.X25519(k.X25519Private[:], curve25519.Basepoint)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pub, k.X25519Public[:]) {
			t.Fatalf("x25519 pub from private %x != converted %x", pub, k.X25519Public)
		}
	}
}

func TestEd25519ToX25519Rejects(t *testing.T) {
	identityPoint := make([]byte, 32)
	identityPoint[0] = 1
	for _, pub := range [][]byte{nil, make([]byte, 31), identityPoint, bytes.Repeat([]byte{0xff}, 32)} {
		if _, err := Ed25519ToX25519(pub); !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("%x: err = %v, want ErrBadPublicKey", pub, err)
		}
	}
}

func TestParseAccountID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{kaAccount, nil},
		{"03" + kaAccount[2:], nil},
		{"15" + kaAccount[2:], nil},
		{kaAccount[:65], ErrAccountIDFormat},
		{kaAccount + "0", ErrAccountIDFormat},
		{"05" + strings.Repeat("zz", 32), ErrAccountIDFormat},
		{"06" + kaAccount[2:], ErrAccountIDPrefix},
	} {
		id, err := ParseAccountID(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v, want %v", tc.in, err, tc.want)
		}
		if err == nil && id.String() != tc.in {
			t.Errorf("%q: round trip gives %q", tc.in, id.String())
		}
	}
}

func TestSwarmSpace(t *testing.T) {
	// Worked by hand: each 8-byte chunk read big-endian, then XORed.
	var key [32]byte
	key[7] = 0x01  // chunk 0 = 1
	key[15] = 0x02 // chunk 1 = 2
	key[16] = 0x80 // chunk 2 = 1<<63
	key[31] = 0x05 // chunk 3 = 5 -> 1^2^5 = 6, plus the top bit
	if got, want := SwarmSpace(key), uint64(1)<<63|6; got != want {
		t.Fatalf("SwarmSpace = %#x, want %#x", got, want)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodePhrase(f *testing.F) {
	f.Add(kaPhrase)
	f.Add("love love love love love love love love love love love love love")
	f.Add("PUF lux ann rus mem fax smi pud kiw nyl uto zin kiw")
	f.Add(withChecksum("abbey zoom zones abbey zoom zones abbey zoom zones abbey zoom zones"))
	f.Add("")
	f.Fuzz(func(t *testing.T, phrase string) {
		seed, err := DecodePhrase(phrase)
		if err != nil {
			return
		}
		// A phrase that decodes re-encodes to the same words (by prefix).
		in := strings.Fields(strings.ToLower(phrase))
		out := strings.Fields(EncodePhrase(seed))
		for i := range in {
			if prefix(in[i]) != prefix(out[i]) {
				t.Fatalf("word %d: %q re-encoded as %q", i+1, in[i], out[i])
			}
		}
		if again, err := DecodePhrase(strings.Join(out, " ")); err != nil || again != seed {
			t.Fatalf("re-decode = %x, %v; want %x", again, err, seed)
		}
	})
}

func BenchmarkAccountFromSeed(b *testing.B) {
	seed := [SeedSize]byte(mustHex(b, kaSeed))
	b.ReportAllocs()
	for b.Loop() {
		AccountFromSeed(seed)
	}
}

func BenchmarkAccountFromPhrase(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AccountFromPhrase(kaPhrase); err != nil {
			b.Fatal(err)
		}
	}
}
