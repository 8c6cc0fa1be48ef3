package client

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// Profile pictures, as Session apps encrypt them (session-desktop
// ts/util/crypto/profileEncrypter.ts, session.js src/profile): the
// picture is sealed with AES-256-GCM under a random 32-byte key (the
// "profile key", sent in every message as DataMessage.profileKey and kept
// in the user profile config as "q"), a fresh 12-byte IV before the
// ciphertext and a 16-byte tag after it, and uploaded to the file server
// as it is (no padding). The message's LokiProfile carries the file's URL.

// ProfileKeySize is the length of a profile picture's key.
const ProfileKeySize = 32

// MaxAvatarSize is the largest profile picture: what the file server takes
// once the IV and tag are added.
const MaxAvatarSize = maxPaddedSize

const (
	profileIVSize  = 12
	profileTagSize = 16
)

// ErrAvatar is a profile picture that does not open with its key.
var ErrAvatar = errors.New("the profile picture does not decrypt with its key")

// EncryptAvatar seals a picture under a fresh key from rnd and returns the
// upload and the key.
func EncryptAvatar(rnd io.Reader, pic []byte) (blob, key []byte, err error) {
	if len(pic) == 0 {
		return nil, nil, errors.New("an empty picture")
	}
	if len(pic) > MaxAvatarSize {
		return nil, nil, fmt.Errorf("a picture of %d bytes; at most %d", len(pic), MaxAvatarSize)
	}
	key = make([]byte, ProfileKeySize)
	iv := make([]byte, profileIVSize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, nil, err
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, nil, err
	}
	return sealAvatar(pic, key, iv), key, nil
}

func avatarAEAD(key []byte) cipher.AEAD {
	block, _ := aes.NewCipher(key) // a 32-byte key: never an error
	gcm, _ := cipher.NewGCM(block) // the standard nonce and tag sizes
	return gcm
}

// sealAvatar is EncryptAvatar with a given key and IV.
func sealAvatar(pic, key, iv []byte) []byte {
	out := make([]byte, profileIVSize, profileIVSize+len(pic)+profileTagSize)
	copy(out, iv)
	return avatarAEAD(key).Seal(out, iv, pic, nil)
}

// DecryptAvatar opens a downloaded picture with its key.
func DecryptAvatar(blob, key []byte) ([]byte, error) {
	if len(key) != ProfileKeySize {
		return nil, fmt.Errorf("%w: the key is %d bytes, not %d", ErrAvatar, len(key), ProfileKeySize)
	}
	if len(blob) < profileIVSize+profileTagSize+1 {
		return nil, fmt.Errorf("%w: %d bytes", ErrAvatar, len(blob))
	}
	pic, err := avatarAEAD(key).Open(nil, blob[:profileIVSize], blob[profileIVSize:], nil)
	if err != nil {
		return nil, ErrAvatar
	}
	return pic, nil
}
