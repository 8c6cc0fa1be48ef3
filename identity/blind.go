package identity

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"golang.org/x/crypto/blake2b"
)

// 15-blinding (SPEC 9): a community server sees each Session account under
// a key blinded for that server only, k*A, where A is the account's Ed25519
// key and k = BLAKE2b-64(server Ed25519 public key) reduced mod L. Servers
// cannot link one account's blinded IDs across servers, and only the
// account can sign as its blinded key.
//
// A Session ID gives A only up to its sign (it is the X25519 form), so the
// blinded key is kept with its sign bit clear: the account negates its
// blinded private scalar when k*A would have it set. Then the blinded ID
// anyone computes from a Session ID (BlindedIDs' first) is the one the
// account signs with.

// blindFactor returns k for a server's Ed25519 public key.
func blindFactor(serverPub []byte) *edwards25519.Scalar {
	h := blake2b.Sum512(serverPub)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h[:])
	return k
}

// Blinded is an account's key pair blinded for one community server.
type Blinded struct {
	scalar *edwards25519.Scalar // k*a, or its negation
	nonce  []byte               // the second half of SHA-512(seed), for deterministic nonces
	Public [32]byte             // k*A with the sign bit clear
}

// ID returns the blinded Account ID: "15" + the blinded key.
func (b *Blinded) ID() string { return AccountID{Prefix: PrefixBlinded15, Key: b.Public}.String() }

// Blind15 blinds keys for the server whose Ed25519 public key is serverPub.
func Blind15(keys *Keys, serverPub []byte) (*Blinded, error) {
	if len(serverPub) != 32 {
		return nil, errors.New("blind: a server key is 32 bytes")
	}
	h := sha512.Sum512(keys.Ed25519.Seed())
	a, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, err
	}
	ka := edwards25519.NewScalar().Multiply(blindFactor(serverPub), a)
	pub := new(edwards25519.Point).ScalarBaseMult(ka).Bytes()
	if pub[31]&0x80 != 0 {
		ka.Negate(ka)
		pub = new(edwards25519.Point).ScalarBaseMult(ka).Bytes()
	}
	return &Blinded{scalar: ka, nonce: h[32:], Public: [32]byte(pub)}, nil
}

// Sign makes an Ed25519 signature by the blinded key: ed25519.Verify with
// Public accepts it.
func (b *Blinded) Sign(msg []byte) []byte {
	rh := sha512.New()
	rh.Write(b.nonce)
	rh.Write(b.Public[:])
	rh.Write(msg)
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	kh := sha512.New()
	kh.Write(R)
	kh.Write(b.Public[:])
	kh.Write(msg)
	hram, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	s := edwards25519.NewScalar().MultiplyAdd(hram, b.scalar, r)
	return append(R, s.Bytes()...)
}

// VerifyBlinded checks a signature by a blinded key.
func VerifyBlinded(pub [32]byte, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub[:], msg, sig)
}

// BlindedIDs returns the two 15-blinded IDs a server could see for a Session
// ID (the sign of A is unknown): the first is the one the account uses.
func BlindedIDs(id AccountID, serverPub []byte) ([2]string, error) {
	var out [2]string
	if id.Prefix != PrefixSession {
		return out, errors.New("blind: only Session IDs (05) are blinded")
	}
	if len(serverPub) != 32 {
		return out, errors.New("blind: a server key is 32 bytes")
	}
	// The Edwards y of the Montgomery u: y = (u - 1) / (u + 1); sign bit clear.
	var u, one, num, den, y field.Element
	if _, err := u.SetBytes(id.Key[:]); err != nil {
		return out, err
	}
	one.One()
	num.Subtract(&u, &one)
	den.Add(&u, &one)
	y.Multiply(&num, den.Invert(&den))
	A, err := new(edwards25519.Point).SetBytes(y.Bytes())
	if err != nil {
		return out, errors.New("blind: the Session ID is not a curve point")
	}
	kA := new(edwards25519.Point).ScalarMult(blindFactor(serverPub), A).Bytes()
	kA[31] &^= 0x80
	out[0] = AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String()
	kA[31] |= 0x80
	out[1] = AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String()
	return out, nil
}

// BlindEd25519 returns the 15-blinded ID, for the server whose key is
// serverPub, of an account known by its Ed25519 key (a community server sees
// one when a client authenticates with an unblinded 00 key): the ID that
// account has when it blinds.
func BlindEd25519(pub, serverPub []byte) (string, error) {
	if len(pub) != 32 || len(serverPub) != 32 {
		return "", errors.New("blind: keys are 32 bytes")
	}
	A, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return "", errors.New("blind: the key is not a curve point")
	}
	kA := new(edwards25519.Point).ScalarMult(blindFactor(serverPub), A).Bytes()
	kA[31] &^= 0x80
	return AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String(), nil
}
