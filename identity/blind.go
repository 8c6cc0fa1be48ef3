package identity

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"hash"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"golang.org/x/crypto/blake2b"
)

// 15-blinding (SPEC 9): a community server sees each Session account under
// a key blinded for that server only, k*A, where A is the account's Ed25519
// key and k = BLAKE2b-64(server public key) reduced mod L. Servers cannot
// link one account's blinded IDs across servers, and only the account can
// sign as its blinded key. The key is published as computed: a Session ID
// gives A only up to its sign (it is the X25519 form), so from an ID alone
// there are two candidate 15-blinded IDs (BlindedIDs).
//
// 25-blinding, which current clients use: k = BLAKE2b-64(05 || X25519 key ||
// server public key) reduced, and the blinded key is k*|A|, where |A| is the
// Ed25519 key with its sign bit clear (the account negates k when its own A
// is negative), so one Session ID has exactly one 25-blinded ID. Signatures
// take their nonce from BLAKE2b rather than SHA-512 (Blind25).
//
// Known answers: libsession-util tests/test_blinding.cpp (blind_test.go).

// blindFactor returns k for a server's public key.
func blindFactor(serverPub []byte) *edwards25519.Scalar {
	h := blake2b.Sum512(serverPub)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h[:])
	return k
}

// blind25Factor returns k for a Session ID's X25519 key and a server's key.
func blind25Factor(x25519, serverPub []byte) *edwards25519.Scalar {
	h, _ := blake2b.New512(nil)
	h.Write([]byte{byte(PrefixSession)})
	h.Write(x25519)
	h.Write(serverPub)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	return k
}

// Blinded is an account's key pair blinded for one community server.
type Blinded struct {
	prefix Prefix               // 15 or 25
	scalar *edwards25519.Scalar // the blinded private scalar
	a      *edwards25519.Scalar // the account's own scalar
	nonce  []byte               // the key of deterministic nonces
	Public [32]byte             // the blinded public key
}

// ID returns the blinded Account ID: "15" or "25" + the blinded key.
func (b *Blinded) ID() string { return AccountID{Prefix: b.prefix, Key: b.Public}.String() }

// Prefix says which blinding b is: PrefixBlinded15 or PrefixBlinded25.
func (b *Blinded) Prefix() Prefix { return b.prefix }

// secretScalar returns the account's clamped Ed25519 scalar a (A = a*G).
func secretScalar(keys *Keys) (*edwards25519.Scalar, error) {
	h := sha512.Sum512(keys.Ed25519.Seed())
	return edwards25519.NewScalar().SetBytesWithClamping(h[:32])
}

// Blind15 blinds keys for the server whose public key is serverPub.
func Blind15(keys *Keys, serverPub []byte) (*Blinded, error) {
	if len(serverPub) != 32 {
		return nil, errors.New("blind: a server key is 32 bytes")
	}
	a, err := secretScalar(keys)
	if err != nil {
		return nil, err
	}
	ka := edwards25519.NewScalar().Multiply(blindFactor(serverPub), a)
	pub := new(edwards25519.Point).ScalarBaseMult(ka).Bytes()
	// The nonce key is SHA-512 of the 64-byte libsodium secret key (seed
	// and public key), its second half.
	nk := sha512.Sum512(append(keys.Ed25519.Seed(), keys.Ed25519Public()...))
	return &Blinded{prefix: PrefixBlinded15, scalar: ka, a: a, nonce: nk[32:], Public: [32]byte(pub)}, nil
}

// Blind25 blinds keys for the server whose public key is serverPub, the
// 25 way.
func Blind25(keys *Keys, serverPub []byte) (*Blinded, error) {
	if len(serverPub) != 32 {
		return nil, errors.New("blind: a server key is 32 bytes")
	}
	a, err := secretScalar(keys)
	if err != nil {
		return nil, err
	}
	k := blind25Factor(keys.X25519Public[:], serverPub)
	if keys.Ed25519Public()[31]&0x80 != 0 {
		k.Negate(k)
	}
	ka := edwards25519.NewScalar().Multiply(k, a)
	pub := new(edwards25519.Point).ScalarBaseMult(ka).Bytes()
	sh, _ := blake2b.New256(blind25SeedKey)
	sh.Write(keys.Ed25519.Seed())
	return &Blinded{prefix: PrefixBlinded25, scalar: ka, a: a, nonce: sh.Sum(nil), Public: [32]byte(pub)}, nil
}

// The BLAKE2b keys of 25-blinded signatures' nonces (libsession).
var (
	blind25SeedKey = []byte("SessCommBlind25_seed")
	blind25SigKey  = []byte("SessCommBlind25_sig")
)

// Sign makes an Ed25519 signature by the blinded key: ed25519.Verify with
// Public accepts it. The nonce is deterministic, as libsession's, so the
// same message gives the same bytes: r = SHA-512(SHA-512(seed || A)[32:] ||
// key || msg) for 15; for 25, r = BLAKE2b-64 keyed "SessCommBlind25_sig"
// over (BLAKE2b-32 keyed "SessCommBlind25_seed" of the seed) || key || msg.
func (b *Blinded) Sign(msg []byte) []byte {
	var rh hash.Hash
	if b.prefix == PrefixBlinded25 {
		rh, _ = blake2b.New512(blind25SigKey)
	} else {
		rh = sha512.New()
	}
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

// SharedPoint is the Diffie-Hellman point of a message between this
// blinded key and another of the same server, as libsession's
// blinded_shared_secret computes it (src/session_encrypt.cpp): a*jB with
// the account's own scalar for 15-blinding (both sides blind by the same
// k, so k cancels), ka*jB for 25. Both ends get the same point. A peer
// key that is not a point of the prime-order group is refused.
func (b *Blinded) SharedPoint(peer [32]byte) ([32]byte, error) {
	P, err := new(edwards25519.Point).SetBytes(peer[:])
	if err != nil {
		return [32]byte{}, errors.New("blind: the other key is not a curve point")
	}
	id := edwards25519.NewIdentityPoint()
	if new(edwards25519.Point).MultByCofactor(P).Equal(id) == 1 {
		return [32]byte{}, errors.New("blind: the other key is of small order")
	}
	// (L-1)*P + P = L*P is the identity only in the prime-order group
	// (libsodium's noclamp multiplication refuses any other point).
	minusOne := edwards25519.NewScalar().Negate(scalarOne)
	if new(edwards25519.Point).Add(new(edwards25519.Point).ScalarMult(minusOne, P), P).Equal(id) != 1 {
		return [32]byte{}, errors.New("blind: the other key is not in the prime-order group")
	}
	x := b.a
	if b.prefix == PrefixBlinded25 {
		x = b.scalar
	}
	S := new(edwards25519.Point).ScalarMult(x, P)
	if S.Equal(id) == 1 {
		return [32]byte{}, errors.New("blind: no shared secret with that key")
	}
	return [32]byte(S.Bytes()), nil
}

var scalarOne, _ = edwards25519.NewScalar().SetCanonicalBytes(append([]byte{1}, make([]byte, 31)...))

// VerifyBlinded checks a signature by a blinded key.
func VerifyBlinded(pub [32]byte, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub[:], msg, sig)
}

// PositiveEd25519 returns the Ed25519 public key behind a Session ID's
// X25519 key with its sign bit clear (|A|; the ID does not say the sign).
func PositiveEd25519(x [32]byte) ([32]byte, error) {
	p, err := positiveEd25519(x)
	if err != nil {
		return [32]byte{}, err
	}
	return [32]byte(p.Bytes()), nil
}

// positiveEd25519 returns the Ed25519 point of a Session ID's X25519 key
// whose sign bit is clear: y = (u - 1) / (u + 1).
func positiveEd25519(x [32]byte) (*edwards25519.Point, error) {
	var u, one, num, den, y field.Element
	if _, err := u.SetBytes(x[:]); err != nil {
		return nil, err
	}
	one.One()
	num.Subtract(&u, &one)
	den.Add(&u, &one)
	y.Multiply(&num, den.Invert(&den))
	A, err := new(edwards25519.Point).SetBytes(y.Bytes())
	if err != nil {
		return nil, errors.New("blind: the Session ID is not a curve point")
	}
	return A, nil
}

func checkBlindable(id AccountID, serverPub []byte) error {
	if id.Prefix != PrefixSession {
		return errors.New("blind: only Session IDs (05) are blinded")
	}
	if len(serverPub) != 32 {
		return errors.New("blind: a server key is 32 bytes")
	}
	return nil
}

// BlindedIDs returns the two 15-blinded IDs a server could see for a Session
// ID, as libsession's blind15_id orders them: the first is the account's
// when its Ed25519 key is positive, the second (the first negated: its top
// bit flipped) when it is negative.
func BlindedIDs(id AccountID, serverPub []byte) ([2]string, error) {
	var out [2]string
	if err := checkBlindable(id, serverPub); err != nil {
		return out, err
	}
	A, err := positiveEd25519(id.Key)
	if err != nil {
		return out, err
	}
	kA := new(edwards25519.Point).ScalarMult(blindFactor(serverPub), A).Bytes()
	out[0] = AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String()
	kA[31] ^= 0x80
	out[1] = AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String()
	return out, nil
}

// Blinded25ID returns the one 25-blinded ID of a Session ID for a server.
func Blinded25ID(id AccountID, serverPub []byte) (string, error) {
	if err := checkBlindable(id, serverPub); err != nil {
		return "", err
	}
	A, err := positiveEd25519(id.Key)
	if err != nil {
		return "", err
	}
	kA := new(edwards25519.Point).ScalarMult(blind25Factor(id.Key[:], serverPub), A).Bytes()
	return AccountID{Prefix: PrefixBlinded25, Key: [32]byte(kA)}.String(), nil
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
	return AccountID{Prefix: PrefixBlinded15, Key: [32]byte(kA)}.String(), nil
}
