package group

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// seal encrypts with the current generation: [u32 LE generation][24-byte nonce][ciphertext].
func (g *Group) seal(plain []byte) []byte {
	key, _ := hex.DecodeString(g.Keys[g.Generation])
	aead, _ := chacha20poly1305.NewX(key)
	out := make([]byte, 4+chacha20poly1305.NonceSizeX, 4+chacha20poly1305.NonceSizeX+len(plain)+aead.Overhead())
	binary.LittleEndian.PutUint32(out, uint32(g.Generation))
	rand.Read(out[4:])
	return aead.Seal(out, out[4:4+chacha20poly1305.NonceSizeX], plain, []byte(g.ID))
}

// open decrypts what seal made, with the generation it names, if known.
func (g *Group) open(data []byte) ([]byte, int, error) {
	if len(data) < 4+chacha20poly1305.NonceSizeX {
		return nil, 0, errors.New("too short")
	}
	gen := int(binary.LittleEndian.Uint32(data))
	k, ok := g.Keys[gen]
	if !ok {
		return nil, gen, fmt.Errorf("key generation %d is not ours", gen)
	}
	key, _ := hex.DecodeString(k)
	aead, _ := chacha20poly1305.NewX(key)
	plain, err := aead.Open(nil, data[4:4+chacha20poly1305.NonceSizeX], data[4+chacha20poly1305.NonceSizeX:], []byte(g.ID))
	if err != nil {
		return nil, gen, errors.New("does not decrypt")
	}
	return plain, gen, nil
}
