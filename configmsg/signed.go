package configmsg

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Signed config messages: a closed group's info and members configs are
// written only by its admins, who sign each message with the group's
// Ed25519 key (libsession-util's src/config.cpp and config/base.cpp). The
// signature is the value of "~", the message's last key; it signs the
// message's encoding up to that key (from the opening "d" to just before
// "1:~"). A message's hash covers the signature too.
//
// A reader that holds only the group's public key cannot sign a merge: when
// two admins' messages conflict it takes the newest (highest seqno, then
// hash) until an admin pushes the merge.

// ErrSignature is a signed config message whose signature is missing or
// is not the group's.
var ErrSignature = errors.New("configmsg: the config message is not signed by the group")

// FirstSigned is the first message of a signed config: mutable, empty,
// seqno 1, whose encoding (and that of every message built on it) priv
// signs. It builds on an empty seqno 0 message that is not signed (its
// hash, in the lagged diffs, is that of the unsigned encoding), as
// libsession's default message is made before any key is set.
func FirstSigned(lag int, priv ed25519.PrivateKey) *Message {
	m := New(lag).Increment()
	m.signer = priv
	return m
}

// Signed tells whether the message was loaded with a signature, or will be
// signed when encoded.
func (m *Message) Signed() bool { return m.sig != nil || m.signer != nil }

// ParseSigned is Parse for a signed config: the message must carry a
// signature by pub.
func ParseSigned(b []byte, lag int, pub ed25519.PublicKey) (*Message, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("configmsg: a public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	m, err := Parse(b, lag)
	if err != nil {
		return nil, err
	}
	if m.sig == nil {
		return nil, fmt.Errorf("%w: no signature", ErrSignature)
	}
	// Parse took "~" as the last key, holding 64 bytes: the encoding ends
	// with "1:~64:", the signature and "e".
	signed := b[:len(b)-1-sigSuffix]
	if !bytes.HasPrefix(b[len(signed):], []byte("1:~64:")) || !ed25519.Verify(pub, signed, m.sig) {
		return nil, ErrSignature
	}
	return m, nil
}

// LoadSigned is Load for a signed config: messages not signed by pub are
// skipped. With the group's private key (an admin), conflicting messages
// are merged into a new message that priv signs, and messages made from
// the result are signed too; without it (priv nil) the newest is taken.
func LoadSigned(msgs [][]byte, lag int, pub ed25519.PublicKey, priv ed25519.PrivateKey) (m *Message, used int, skipped []error, err error) {
	if priv != nil && (len(priv) != ed25519.PrivateKeySize || !bytes.Equal(priv.Public().(ed25519.PublicKey), pub)) {
		return nil, -1, nil, errors.New("configmsg: the signing key is not the group's")
	}
	parse := func(b []byte) (*Message, error) { return ParseSigned(b, lag, pub) }
	return load(msgs, lag, parse, priv, priv != nil)
}

// EncodeSigned bt-encodes d with priv's signature under "~", as
// libsession-util signs its group keys messages (and config messages).
// d must not hold "~" or a key after it.
func EncodeSigned(d Dict, priv ed25519.PrivateKey) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("configmsg: a private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	for k := range d {
		if k >= "~" {
			return nil, fmt.Errorf("configmsg: key %q would come after the signature", k)
		}
	}
	enc := Encode(d)
	return appendSig(enc, ed25519.Sign(priv, enc[:len(enc)-1])), nil
}

// DecodeSigned decodes what EncodeSigned made: a canonical bt dict whose
// last key, "~", holds pub's signature over the encoding before it. The
// dict returned lacks "~". ErrSignature when the signature is missing or
// not pub's.
func DecodeSigned(b []byte, pub ed25519.PublicKey) (Dict, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("configmsg: a public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	d, ok := v.(Dict)
	if !ok {
		return nil, errors.New("configmsg: not a dict")
	}
	sig, ok := d["~"].(string)
	if !ok || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: no 64-byte signature under \"~\"", ErrSignature)
	}
	for k := range d {
		if k > "~" {
			return nil, fmt.Errorf("configmsg: key %q after the signature", k)
		}
	}
	signed := b[:len(b)-1-sigSuffix]
	if !bytes.HasPrefix(b[len(signed):], []byte("1:~64:")) || !ed25519.Verify(pub, signed, []byte(sig)) {
		return nil, ErrSignature
	}
	delete(d, "~")
	return d, nil
}
