package configmsg

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// What a config message is stored as (libsession-util's
// ConfigBase::push and _merge in src/config/base.cpp): its encoding,
// compressed with zstd behind a 'z' byte when that makes it smaller,
// padded with leading zero bytes (Pad), and encrypted (Encrypt) with the
// config's key. A group's info and members configs are encrypted with the
// group's current key; a reader tries each key it holds, newest first.

// MaxStored bounds a stored config message (libsession's MAX_MESSAGE_SIZE,
// the storage server's limit).
const MaxStored = 76800

// MaxPlain bounds a config message once decompressed.
const MaxPlain = 1 << 20

// ErrTooLarge is a config message too large to store.
var ErrTooLarge = errors.New("configmsg: the config message is too large to store")

// zstd coders are safe for concurrent use and costly to make: one of each,
// made when first needed. The encoder's options make what libzstd's level
// 1 (libsession's) makes of a config message, byte for byte on the
// messages tested: one frame, single segment, no checksum.
var (
	zEncoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false),
			zstd.WithSingleSegment(true), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic("configmsg: zstd encoder: " + err.Error()) // only bad options fail
		}
		return e
	})
	zDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxPlain))
		if err != nil {
			panic("configmsg: zstd decoder: " + err.Error())
		}
		return d
	})
)

// Compress is zstd-compressed b behind a 'z' byte if that is shorter than
// b, else b.
func Compress(b []byte) []byte {
	z := zEncoder().EncodeAll(b, []byte{'z'})
	if len(z) < len(b) {
		return z
	}
	return b
}

// Decompress undoes Compress: b as it is unless it starts with 'z'.
func Decompress(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != 'z' {
		return b, nil
	}
	return ZstdDecompress(b[1:], MaxPlain)
}

// ZstdCompress is b compressed with zstd (one frame, as libsession-util's
// zstd_compress at level 1 makes it, if not byte for byte).
func ZstdCompress(b []byte) []byte { return zEncoder().EncodeAll(b, nil) }

// ZstdDecompress decompresses zstd frames, refusing output larger than
// limit (at most MaxPlain).
func ZstdDecompress(b []byte, limit int) ([]byte, error) {
	out, err := zDecoder().DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("configmsg: compressed, and does not decompress: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("configmsg: decompresses to more than %d bytes", limit)
	}
	return out, nil
}

// Seal makes the stored form of the encoded message plain: compressed if
// that is shorter, padded, and encrypted with key in domain.
func Seal(plain, key []byte, domain string) ([]byte, error) {
	out, err := Encrypt(Pad(Compress(plain)), key, domain)
	if err != nil {
		return nil, err
	}
	if len(out) > MaxStored {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(out), MaxStored)
	}
	return out, nil
}

// Open undoes Seal with the first of keys that decrypts sealed; it returns
// the encoded message and the index of that key. ErrDecrypt when none
// does.
func Open(sealed []byte, keys [][]byte, domain string) (plain []byte, key int, err error) {
	if len(keys) == 0 {
		return nil, -1, fmt.Errorf("%w: no key to try", ErrDecrypt)
	}
	for i, k := range keys {
		plain, err = Decrypt(sealed, k, domain)
		if errors.Is(err, ErrDecrypt) {
			continue
		}
		if err != nil {
			return nil, -1, err
		}
		key = i
		break
	}
	if err != nil {
		return nil, -1, err
	}
	for len(plain) > 0 && plain[0] == 0 {
		plain = plain[1:]
	}
	if plain, err = Decompress(plain); err != nil {
		return nil, -1, err
	}
	switch {
	case len(plain) == 0:
		return nil, -1, errors.New("configmsg: the config message is empty")
	case plain[0] == 'm':
		return nil, -1, errors.New("configmsg: a config message in parts, which neither this reader nor libsession-util reads")
	case plain[0] != 'd':
		return nil, -1, fmt.Errorf("configmsg: a config message of type %q, which this reader does not know", plain[0])
	}
	return plain, key, nil
}
