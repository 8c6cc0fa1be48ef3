package group

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// Messages for many recipients, as libsession-util's src/multi_encrypt.cpp
// makes them (encrypt_for_multiple_simple): one random nonce, and for each
// recipient its message encrypted with XChaCha20-Poly1305 under
//
//	key = BLAKE2b-32(X25519(a, B) || A || B, key = domain)
//
// where a/A is the sender's X25519 key pair and B the recipient's (the
// recipient computes X25519(b, A) || A || B). Stored as the bt dict
// {"#": nonce, "e": [ciphertext...]}; a recipient tries each ciphertext.
//
// A kick uses it: the admin stores in namespace -11 (which a revoked
// member may still read) the kicked members' notices, each the member's
// X25519 key and the group's key generation in decimal, from the group's
// key (its X25519 twin), domain "SessionGroupKickedMessage" (session-
// desktop's GroupPendingRemovalsJob and handleLibSessionKickedMessage).

// kickedDomain is the domain of the notices to kicked members.
const kickedDomain = "SessionGroupKickedMessage"

// maxMultiCopies bounds the ciphertexts a reader tries.
const maxMultiCopies = 1000

var errMultiMalformed = errors.New("not a message for many recipients")

// multiKey is the key between the X25519 key pair (priv, pub) and peer;
// sending says which of the two is the sender (whose key comes first).
func multiKey(priv, pub, peer []byte, sending bool, domain string) ([]byte, error) {
	shared, err := curve25519.X25519(priv, peer)
	if err != nil {
		return nil, err
	}
	h, _ := blake2b.New256([]byte(domain))
	h.Write(shared)
	if sending {
		h.Write(pub)
		h.Write(peer)
	} else {
		h.Write(peer)
		h.Write(pub)
	}
	return h.Sum(nil), nil
}

// multiEncrypt encrypts messages[i] for recipients[i] (or the single
// message for every recipient) with one nonce; recipients whose key makes
// no shared secret are skipped.
func multiEncrypt(messages [][]byte, recipients [][32]byte, priv, pub [32]byte, domain string, nonce []byte) ([][]byte, error) {
	if len(messages) != 1 && len(messages) != len(recipients) {
		return nil, fmt.Errorf("%d messages for %d recipients", len(messages), len(recipients))
	}
	if len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("a nonce of %d bytes", len(nonce))
	}
	var out [][]byte
	for i, r := range recipients {
		key, err := multiKey(priv[:], pub[:], r[:], true, domain)
		if err != nil {
			continue
		}
		m := messages[0]
		if len(messages) > 1 {
			m = messages[i]
		}
		aead, _ := chacha20poly1305.NewX(key)
		out = append(out, aead.Seal(nil, nonce, m, nil))
	}
	return out, nil
}

// multiEncryptSimple is multiEncrypt under a random nonce, encoded as the
// bt dict {"#", "e"}.
func multiEncryptSimple(messages [][]byte, recipients [][32]byte, priv, pub [32]byte, domain string) ([]byte, error) {
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	enc, err := multiEncrypt(messages, recipients, priv, pub, domain, nonce)
	if err != nil {
		return nil, err
	}
	list := make([]any, len(enc))
	for i, e := range enc {
		list[i] = e
	}
	return configmsg.Encode(configmsg.Dict{"#": nonce, "e": list}), nil
}

// multiDecryptSimple opens what multiEncryptSimple made, as the recipient
// (priv, pub) of sender senderPub: the first ciphertext that opens.
func multiDecryptSimple(encoded []byte, priv, pub, senderPub [32]byte, domain string) ([]byte, error) {
	v, err := configmsg.Decode(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMultiMalformed, err)
	}
	d, ok := v.(configmsg.Dict)
	if !ok {
		return nil, errMultiMalformed
	}
	nonce, ok := d["#"].(string)
	if !ok || len(nonce) != chacha20poly1305.NonceSizeX {
		return nil, fmt.Errorf("%w: no 24-byte nonce", errMultiMalformed)
	}
	list, ok := d["e"].([]any)
	if !ok || len(list) > maxMultiCopies {
		return nil, fmt.Errorf("%w: no list of at most %d ciphertexts", errMultiMalformed, maxMultiCopies)
	}
	key, err := multiKey(priv[:], pub[:], senderPub[:], false, domain)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMultiMalformed, err)
	}
	aead, _ := chacha20poly1305.NewX(key)
	for _, c := range list {
		if s, ok := c.(string); ok {
			if plain, err := aead.Open(nil, []byte(nonce), []byte(s), nil); err == nil {
				return plain, nil
			}
		}
	}
	return nil, errors.New("none of it is for this account")
}

// kickedNotice is what a kicked member finds in namespace -11: its X25519
// key and the group's key generation when it was removed, in decimal.
func kickedNotice(member identity.AccountID, gen int64) []byte {
	return append(append([]byte{}, member.Key[:]...), strconv.FormatInt(gen, 10)...)
}

// readKickedNotice reads a notice opened by the member me: the generation
// it names, if it names me.
func readKickedNotice(plain []byte, me identity.AccountID) (int64, error) {
	if len(plain) <= 32 || [32]byte(plain[:32]) != me.Key {
		return 0, errors.New("the notice names another account")
	}
	gen, err := strconv.ParseInt(string(plain[32:]), 10, 64)
	if err != nil || gen < 0 {
		return 0, errors.New("the notice's generation is not a number")
	}
	return gen, nil
}

// groupXKey is the X25519 twin of the group's Ed25519 key: the sender of
// its kicked notices.
func groupXKey(pub []byte) ([32]byte, error) { return identity.Ed25519ToX25519(pub) }
