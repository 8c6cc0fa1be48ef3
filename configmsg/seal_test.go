package configmsg

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{0xaa}, 32), bytes.Repeat([]byte{0xbb}, 32)
	small := New(DefaultLag).Increment()
	small.Data()["n"] = "x"
	big := New(DefaultLag).Increment()
	big.Data()["n"] = strings.Repeat("compressible ", 200)
	for _, m := range []*Message{small, big} {
		plain := m.Encode()
		sealed, err := Seal(plain, k2, "groups::Info")
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed)%256 != 0 {
			t.Fatalf("sealed to %d bytes, not a multiple of 256", len(sealed))
		}
		got, key, err := Open(sealed, [][]byte{k1, k2}, "groups::Info")
		if err != nil || key != 1 || !bytes.Equal(got, plain) {
			t.Fatalf("open: key %d, %v", key, err)
		}
		if _, _, err := Open(sealed, [][]byte{k1}, "groups::Info"); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("without the key: %v", err)
		}
		if _, _, err := Open(sealed, [][]byte{k2}, "groups::Members"); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("another domain: %v", err)
		}
	}
	if z := Compress(big.Encode()); z[0] != 'z' || len(z) >= len(big.Encode())/4 {
		t.Fatalf("a repetitive message compressed to %d bytes", len(z))
	}
	if p := small.Encode(); !bytes.Equal(Compress(p), p) {
		t.Fatal("a short message was compressed though it does not shrink")
	}
	// not a config: parts, another type, nothing
	for _, plain := range [][]byte{[]byte("mparts"), []byte("x"), {}} {
		sealed, _ := Encrypt(Pad(plain), k1, "groups::Info")
		if _, _, err := Open(sealed, [][]byte{k1}, "groups::Info"); err == nil {
			t.Fatalf("%q opened", plain)
		}
	}
	// a zstd bomb is refused
	bomb := append([]byte{'z'}, ZstdCompress(make([]byte, MaxPlain+1))...)
	sealed, _ := Encrypt(Pad(bomb), k1, "groups::Info")
	if _, _, err := Open(sealed, [][]byte{k1}, "groups::Info"); err == nil {
		t.Fatal("a message decompressing past MaxPlain opened")
	}
	huge := make([]byte, MaxStored)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range huge {
		huge[i] = byte(r.Uint32())
	}
	if _, err := Seal(huge, k1, "groups::Info"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a message too large to store: %v", err)
	}
}

// FuzzOpen: whatever a swarm holds, Open answers without panicking.
func FuzzOpen(f *testing.F) {
	k := bytes.Repeat([]byte{0xaa}, 32)
	m := New(DefaultLag).Increment()
	m.Data()["n"] = strings.Repeat("abc", 100)
	sealed, _ := Seal(m.Encode(), k, "groups::Members")
	f.Add(sealed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		Open(b, [][]byte{k}, "groups::Members")
		Decompress(append([]byte{'z'}, b...))
	})
}
