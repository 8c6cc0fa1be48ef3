package groupkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/configmsg/groupconfig"
	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/chacha20poly1305"
)

// Group messages (namespace 11), as libsession-util's
// Keys::encrypt_message and Keys::decrypt_message make and read them. The
// content (a padded Content protobuf) is compressed with zstd when that
// makes it smaller, signed by its author's Ed25519 key, and put in a bt
// dict
//
//	""  1 (the format's version)
//	a   the author's Ed25519 key
//	d   the content (or z: the content compressed)
//	s   the author's signature of the d (or z) bytes
//
// padded at the end with zero bytes so that with the nonce and tag it is a
// multiple of 256 bytes, and encrypted with XChaCha20-Poly1305 under the
// group's current key and a random nonce, which leads:
//
//	nonce (24) || ciphertext
//
// A reader tries its pending key, then every key it holds; a member
// removed from the group holds none of the keys made after, so it reads
// nothing sent after its removal.

const (
	messagePadding  = 256
	messageOverhead = nonceSize + chacha20poly1305.Overhead
	formatVersion   = 1
)

// Errors of DecryptMessage and CheckAuthor, for errors.Is.
var (
	// ErrNoKeyOpens is a group message none of the keys held opens: sent
	// under a key this account was not given (sent after its removal, or
	// before it joined), damaged, or not the group's.
	ErrNoKeyOpens = errors.New("groupkeys: no key of the group held opens the message")
	// ErrAuthorSignature is a group message whose author's signature does
	// not verify.
	ErrAuthorSignature = errors.New("groupkeys: the message's signature is not its author's")
	// ErrNotMember is a group message whose author is not (or no longer)
	// a member of the group.
	ErrNotMember = errors.New("groupkeys: the message's author is not a member of the group")
)

// Message is a group message opened.
type Message struct {
	// Author is the author's Account ID (05 and the X25519 form of
	// AuthorKey).
	Author    identity.AccountID
	AuthorKey ed25519.PublicKey
	Content   []byte
	// Generation is that of the key that opened the message.
	Generation int64
}

// EncryptMessage encrypts content (a padded Content) as a message of the
// group by this account, under the group's current key.
func (k *Keys) EncryptMessage(content []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.encryptMessage(content, nonce, true)
}

func (k *Keys) encryptMessage(content, nonce []byte, compress bool) ([]byte, error) {
	if len(content) > MaxPlaintext {
		return nil, fmt.Errorf("groupkeys: a message of %d bytes, at most %d", len(content), MaxPlaintext)
	}
	key, err := k.EncryptionKey()
	if err != nil {
		return nil, err
	}
	data, dataKey := content, "d"
	if compress {
		if z := configmsg.ZstdCompress(content); len(z) < len(content) {
			data, dataKey = z, "z"
		}
	}
	body := configmsg.Encode(configmsg.Dict{
		"":      int64(formatVersion),
		"a":     []byte(k.user.Ed25519Public()),
		dataKey: data,
		"s":     ed25519.Sign(k.user.Ed25519, data),
	})
	if r := (messageOverhead + len(body)) % messagePadding; r != 0 {
		body = append(body, make([]byte, messagePadding-r)...)
	}
	aead, _ := chacha20poly1305.NewX(key)
	out := make([]byte, nonceSize, messageOverhead+len(body))
	copy(out, nonce)
	return aead.Seal(out, nonce, body, nil), nil
}

// DecryptMessage opens a group message with the keys held, checks its
// author's signature and decompresses it. ErrNoKeyOpens when no key
// opens it; ErrMalformed or ErrAuthorSignature when what opens is not a
// good message. Whether the author may write to the group is CheckAuthor's
// question.
func (k *Keys) DecryptMessage(ct []byte) (*Message, error) {
	if len(ct) < messageOverhead {
		return nil, fmt.Errorf("%w group message: %d bytes, shorter than a nonce and tag", ErrMalformed, len(ct))
	}
	nonce, sealed := ct[:nonceSize], ct[nonceSize:]
	try := func(key []byte) ([]byte, bool) {
		aead, _ := chacha20poly1305.NewX(key)
		p, err := aead.Open(nil, nonce, sealed, nil)
		return p, err == nil
	}
	var plain []byte
	gen, ok := int64(0), false
	if k.pending != nil {
		plain, ok = try(k.pending.key[:])
		gen = k.pending.gen
	}
	for i := 0; !ok && i < len(k.keys); i++ {
		plain, ok = try(k.keys[i].Key[:])
		gen = k.keys[i].Generation
	}
	if !ok {
		return nil, ErrNoKeyOpens
	}
	m, err := readMessage(plain)
	if err != nil {
		return nil, err
	}
	m.Generation = gen
	return m, nil
}

// readMessage reads a decrypted group message: the signed dict, then the
// zero padding.
func readMessage(plain []byte) (*Message, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w group message: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	end := len(plain)
	for end > 0 && plain[end-1] == 0 {
		end--
	}
	plain = plain[:end]
	if len(plain) == 0 || plain[0] != 'd' || plain[len(plain)-1] != 'e' {
		return nil, bad("not a bt dict")
	}
	v, err := configmsg.Decode(plain)
	if err != nil {
		return nil, bad("%v", err)
	}
	d := v.(configmsg.Dict) // it starts with 'd'
	if ver, ok := d[""].(int64); !ok || ver != formatVersion {
		return nil, bad("version %v, this reader knows %d", d[""], formatVersion)
	}
	a, ok := d["a"].(string)
	if !ok || len(a) != ed25519.PublicKeySize {
		return nil, bad("no 32-byte author key (a)")
	}
	x, err := identity.Ed25519ToX25519([]byte(a))
	if err != nil {
		return nil, bad("the author key: %v", err)
	}
	sig, ok := d["s"].(string)
	if !ok || len(sig) != ed25519.SignatureSize {
		return nil, bad("no 64-byte signature (s)")
	}
	raw, plainOK := d["d"].(string)
	z, zOK := d["z"].(string)
	_, hasD := d["d"]
	_, hasZ := d["z"]
	switch {
	case hasD && hasZ:
		return nil, bad("both content (d) and compressed content (z)")
	case hasD && (!plainOK || raw == ""):
		return nil, bad("the content (d) is empty or not a string")
	case hasZ && (!zOK || z == ""):
		return nil, bad("the compressed content (z) is empty or not a string")
	case !hasD && !hasZ:
		return nil, bad("no content (d or z)")
	}
	if hasZ {
		raw = z
	}
	if !ed25519.Verify(ed25519.PublicKey(a), []byte(raw), []byte(sig)) {
		return nil, ErrAuthorSignature
	}
	content := []byte(raw)
	if hasZ {
		if content, err = configmsg.ZstdDecompress(content, MaxPlaintext); err != nil {
			return nil, bad("%v", err)
		}
	}
	return &Message{
		Author:    identity.AccountID{Prefix: identity.PrefixSession, Key: x},
		AuthorKey: ed25519.PublicKey(a),
		Content:   content,
	}, nil
}

// CheckAuthor refuses (ErrNotMember) a message whose author the members
// config does not list as an active member: one removed (or being
// removed), or never added. A client showing history stored before a
// removal may read such messages anyway; a message arriving now from a
// removed member is not the group's.
func (m *Message) CheckAuthor(members []groupconfig.Member) error {
	id := m.Author.String()
	for _, mb := range members {
		if mb.ID == id {
			if !mb.Active() {
				return fmt.Errorf("%w: %s was removed", ErrNotMember, id)
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrNotMember, id)
}
