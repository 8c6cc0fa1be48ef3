// Package x25519 is the X25519 key exchange of RFC 7748, fast where the
// standard library is slow for sessionctl's use: onion layers (package
// onion) and sealed boxes (package client) make an ephemeral key and one
// exchange with it for every request and message.
//
//   - PublicKey derives a public key on the Edwards curve with
//     filippo.io/edwards25519's fixed-base tables and converts it, about 4
//     times faster than a Montgomery ladder from the base point, and the
//     same key: X25519(k, 9) is the Montgomery form of k*B.
//   - X25519 is one scalar multiplication, where crypto/ecdh (behind
//     golang.org/x/crypto/curve25519 and nacl/box) also derives the
//     private key's public key first: two where an exchange needs one.
//
// Tests check both against golang.org/x/crypto/curve25519 and RFC 7748.
package x25519

import (
	"errors"
	"io"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// ErrLowOrder is returned when a key exchange gives the all-zero secret.
var ErrLowOrder = errors.New("x25519: low-order point")

// X25519 computes the X25519 function of RFC 7748 (scalar * point on
// Curve25519, u coordinates) with the Montgomery ladder over
// filippo.io/edwards25519's field arithmetic.
func X25519(scalar, point [32]byte) ([32]byte, error) {
	var out [32]byte
	k := scalar
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64

	var x1, x2, z2, x3, z3, tmp0, tmp1 field.Element
	if _, err := x1.SetBytes(point[:]); err != nil {
		return out, err
	}
	x2.One()
	x3.Set(&x1)
	z3.One()
	swap := 0
	for pos := 254; pos >= 0; pos-- {
		b := int(k[pos/8]>>uint(pos&7)) & 1
		swap ^= b
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = b

		tmp0.Subtract(&x3, &z3)
		tmp1.Subtract(&x2, &z2)
		x2.Add(&x2, &z2)
		z2.Add(&x3, &z3)
		z3.Multiply(&tmp0, &x2)
		z2.Multiply(&z2, &tmp1)
		tmp0.Square(&tmp1)
		tmp1.Square(&x2)
		x3.Add(&z3, &z2)
		z2.Subtract(&z3, &z2)
		x2.Multiply(&tmp1, &tmp0)
		tmp1.Subtract(&tmp1, &tmp0)
		z2.Square(&z2)
		z3.Mult32(&tmp1, 121666)
		x3.Square(&x3)
		tmp0.Add(&tmp0, &z3)
		z3.Multiply(&x1, &z2)
		z2.Multiply(&tmp1, &tmp0)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)

	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	copy(out[:], x2.Bytes())
	var zero [32]byte
	if out == zero {
		return out, ErrLowOrder
	}
	return out, nil
}

// Clamp clamps a private key as X25519 does, in place.
func Clamp(priv *[32]byte) {
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
}

// PublicKey returns the public key of priv, which it clamps in place.
func PublicKey(priv *[32]byte) ([32]byte, error) {
	var pub [32]byte
	Clamp(priv)
	sc, err := edwards25519.NewScalar().SetBytesWithClamping(priv[:])
	if err != nil {
		return pub, err
	}
	copy(pub[:], new(edwards25519.Point).ScalarBaseMult(sc).BytesMontgomery())
	return pub, nil
}

// NewKey reads a private key from rand and returns it, clamped, with its
// public key (as nacl/box's GenerateKey, which reads the same 32 bytes).
func NewKey(rand io.Reader) (priv, pub [32]byte, err error) {
	if _, err = io.ReadFull(rand, priv[:]); err != nil {
		return priv, pub, err
	}
	pub, err = PublicKey(&priv)
	return priv, pub, err
}
