package onion

import (
	"errors"

	"filippo.io/edwards25519/field"
)

// errLowOrder is returned when a key exchange gives the all-zero secret.
var errLowOrder = errors.New("x25519: low-order point")

// x25519 computes the X25519 function of RFC 7748 (scalar * point on
// Curve25519, u coordinates) with the Montgomery ladder over
// filippo.io/edwards25519's field arithmetic. It exists because
// golang.org/x/crypto/curve25519 now goes through crypto/ecdh, whose
// NewPrivateKey also derives the public key: two scalar multiplications where
// a key exchange needs one, on every onion hop. Tests check it against
// curve25519.X25519 and RFC 7748's vectors.
func x25519(scalar, point [32]byte) ([32]byte, error) {
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
		return out, errLowOrder
	}
	return out, nil
}
