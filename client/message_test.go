package client

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/nacl/box"
)

// detRand is a deterministic random stream: BLAKE2b-512 of a counter.
type detRand struct{ n byte }

func (r *detRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); {
		r.n++
		h := blake2b.Sum512([]byte{r.n})
		i += copy(p[i:], h[:])
	}
	return len(p), nil
}

// FuzzSealedBox: sealAnonymous writes what nacl/box's SealAnonymous writes
// from the same random bytes, and each opens what the other sealed.
func FuzzSealedBox(f *testing.F) {
	f.Add([]byte("hello"), byte(1))
	f.Add([]byte{}, byte(200))
	f.Fuzz(func(t *testing.T, msg []byte, seed byte) {
		pub, priv, err := box.GenerateKey(&detRand{n: seed})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := sealAnonymous(msg, pub, &detRand{n: seed + 1})
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := box.SealAnonymous(nil, msg, pub, &detRand{n: seed + 1})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("sealAnonymous = %x, box.SealAnonymous = %x", ours, theirs)
		}
		if got, ok := openAnonymous(theirs, pub, priv); !ok || !bytes.Equal(got, msg) {
			t.Fatalf("openAnonymous(box's) = %x, %v", got, ok)
		}
		if got, ok := box.OpenAnonymous(nil, ours, pub, priv); !ok || !bytes.Equal(got, msg) {
			t.Fatalf("box.OpenAnonymous(ours) = %x, %v", got, ok)
		}
		ours[len(ours)-1] ^= 1
		if _, ok := openAnonymous(ours, pub, priv); ok {
			t.Fatal("a changed box opened")
		}
		if _, ok := openAnonymous(ours[:47], pub, priv); ok {
			t.Fatal("a box shorter than its overhead opened")
		}
	})
}

// A box to a low-order key (one whose secret is all zeros, known to all)
// is refused.
func TestSealToLowOrderKey(t *testing.T) {
	var zero [32]byte
	if _, err := sealAnonymous([]byte("x"), &zero, rand.Reader); err == nil {
		t.Fatal("sealed to the zero key")
	}
}

// BenchmarkSealedBox: a message's sealed box, here and as nacl/box makes it.
func BenchmarkSealedBox(b *testing.B) {
	pub, priv, _ := box.GenerateKey(rand.Reader)
	msg := make([]byte, 300)
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			sealAnonymous(msg, pub, rand.Reader)
		}
	})
	b.Run("seal-nacl", func(b *testing.B) {
		for b.Loop() {
			box.SealAnonymous(nil, msg, pub, rand.Reader)
		}
	})
	sealed, _ := sealAnonymous(msg, pub, rand.Reader)
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			openAnonymous(sealed, pub, priv)
		}
	})
	b.Run("open-nacl", func(b *testing.B) {
		for b.Loop() {
			box.OpenAnonymous(nil, sealed, pub, priv)
		}
	})
}
