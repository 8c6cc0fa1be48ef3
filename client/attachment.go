package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"math"
)

// Attachments are encrypted as Session clients encrypt them (SPEC 6): a
// random 64-byte key, AES-256-CBC under its first half (PKCS#7, a random
// 16-byte IV), HMAC-SHA256 under its second half over IV || ciphertext;
// the upload is IV || ciphertext || MAC and its SHA-256 is the digest the
// message carries. The plaintext is padded with zeros first, to at least
// 541 bytes and then to the next power of 1.05, so that the server learns
// only a size class; the message's size says where the file ends.

// AttachmentKeySize is the length of an attachment's key.
const AttachmentKeySize = 64

// maxPaddedSize is the most an attachment is padded to (the file server's
// limit on a plaintext).
const maxPaddedSize = 10_000_000

// ErrAttachment is returned for an attachment that does not decrypt.
var ErrAttachment = errors.New("the attachment does not decrypt with its key")

// ErrAttachmentSize is a size beyond the decrypted attachment.
var ErrAttachmentSize = errors.New("the attachment is shorter than its size")

// PaddedAttachmentSize is the size a plaintext of n bytes is padded to:
// max(541, floor(1.05^ceil(log_1.05(n)))), at most 10 MB for a plaintext
// that fits.
func PaddedAttachmentSize(n int) int {
	p := 541
	if n > 1 {
		p = max(p, int(math.Floor(math.Pow(1.05, math.Ceil(math.Log(float64(n))/math.Log(1.05))))))
	}
	if p > maxPaddedSize && n <= maxPaddedSize {
		p = maxPaddedSize
	}
	return max(p, n)
}

// EncryptAttachment pads and encrypts data under a fresh key from rnd. It
// returns the upload, the key and the digest.
func EncryptAttachment(rnd io.Reader, data []byte) (blob, key, digest []byte, err error) {
	key = make([]byte, AttachmentKeySize)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, nil, nil, err
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, nil, nil, err
	}
	blob = encryptAttachment(data, key, iv)
	sum := sha256.Sum256(blob)
	return blob, key, sum[:], nil
}

// encryptAttachment is EncryptAttachment with a given key and IV.
func encryptAttachment(data, key, iv []byte) []byte {
	padded := make([]byte, PaddedAttachmentSize(len(data)))
	copy(padded, data)
	n := aes.BlockSize - len(padded)%aes.BlockSize // PKCS#7: 1 to 16 bytes of n
	plain := append(padded, make([]byte, n)...)
	for i := len(padded); i < len(plain); i++ {
		plain[i] = byte(n)
	}
	blob := make([]byte, aes.BlockSize+len(plain), aes.BlockSize+len(plain)+sha256.Size)
	copy(blob, iv)
	block, _ := aes.NewCipher(key[:32])
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(blob[aes.BlockSize:], plain)
	mac := hmac.New(sha256.New, key[32:])
	mac.Write(blob)
	return mac.Sum(blob)
}

// DecryptAttachment checks an upload's digest (when given) and MAC,
// decrypts it with key and cuts it to size bytes (size 0: keep the
// padding, for a file whose size is not known).
func DecryptAttachment(blob, key, digest []byte, size int) ([]byte, error) {
	if len(key) != AttachmentKeySize {
		return nil, ErrAttachment
	}
	if len(blob) < 2*aes.BlockSize+sha256.Size || (len(blob)-sha256.Size)%aes.BlockSize != 0 {
		return nil, ErrAttachment
	}
	// The digest and the MAC are two passes over the whole upload: side by
	// side.
	digestOK := make(chan bool, 1)
	go func() {
		sum := sha256.Sum256(blob)
		digestOK <- len(digest) == 0 || subtle.ConstantTimeCompare(sum[:], digest) == 1
	}()
	body, tag := blob[:len(blob)-sha256.Size], blob[len(blob)-sha256.Size:]
	mac := hmac.New(sha256.New, key[32:])
	mac.Write(body)
	macOK := hmac.Equal(mac.Sum(nil), tag)
	if !<-digestOK {
		return nil, errors.New("the attachment does not match its digest")
	}
	if !macOK {
		return nil, ErrAttachment
	}
	block, _ := aes.NewCipher(key[:32])
	plain := make([]byte, len(body)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, body[:aes.BlockSize]).CryptBlocks(plain, body[aes.BlockSize:])
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, ErrAttachment
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, ErrAttachment
		}
	}
	plain = plain[:len(plain)-n]
	if size < 0 || size > len(plain) {
		return nil, ErrAttachmentSize
	}
	if size > 0 {
		plain = plain[:size]
	}
	return plain, nil
}
