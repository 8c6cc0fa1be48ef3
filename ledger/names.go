package ledger

import (
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/sessionctl/sessionctl/chain"
	"io"
	"regexp"
	"strings"

	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

// The Session Name Service (SPEC 2). The chain stores only the name's hash
// and the Account ID encrypted under a key derived from the name, so reading
// the chain never shows which name maps to which account; whoever knows a
// name can find and decrypt its value.

// MaxNameLen is the longest session name.
const MaxNameLen = 64

// ErrNameRules is returned for a name that breaks the SNS rules.
var ErrNameRules = errors.New("a session name is 1-64 characters of a-z, 0-9, '_' and '-', not starting or ending with '-'")

var snsNameRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$`)

// NormalizeName lowercases name and checks the SNS rules.
func NormalizeName(name string) (string, error) {
	n := strings.ToLower(name)
	if len(n) > MaxNameLen || !snsNameRE.MatchString(n) {
		return "", fmt.Errorf("%w: %q", ErrNameRules, name)
	}
	return n, nil
}

// NameHash returns the base64 BLAKE2b-32 hash of a normalized name: its key
// on the chain.
func NameHash(name string) string {
	h := blake2b.Sum256([]byte(name))
	return base64.StdEncoding.EncodeToString(h[:])
}

// nameKey is BLAKE2b-32(name) keyed with BLAKE2b-32(name).
func nameKey(name string) []byte {
	h := blake2b.Sum256([]byte(name))
	mac, err := blake2b.New256(h[:])
	if err != nil {
		panic("ledger: a 32-byte BLAKE2b key is valid: " + err.Error())
	}
	mac.Write([]byte(name))
	return mac.Sum(nil)
}

// EncryptedNameSize is the size of an encrypted SNS value: the 33-byte
// Account ID, the 16-byte tag and the 24-byte nonce that follows them.
const EncryptedNameSize = chain.EncryptedNameSize

var _ [chain.EncryptedNameSize - (33 + chacha20poly1305.Overhead + chacha20poly1305.NonceSizeX)]struct{} // they agree

// EncryptName encrypts the Account ID a normalized name maps to, with
// XChaCha20-Poly1305, as ciphertext||tag||nonce.
func EncryptName(name string, id identity.AccountID, rand io.Reader) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(nameKey(name))
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return append(aead.Seal(nil, nonce, id.Bytes(), nil), nonce...), nil
}

// ErrNameValue is returned when a value does not decrypt under the name.
var ErrNameValue = errors.New("the name's value does not decrypt to an account ID")

// DecryptName recovers the Account ID from a value stored under name.
func DecryptName(name string, value []byte) (identity.AccountID, error) {
	var id identity.AccountID
	if len(value) != EncryptedNameSize {
		return id, fmt.Errorf("%w: %d bytes", ErrNameValue, len(value))
	}
	aead, err := chacha20poly1305.NewX(nameKey(name))
	if err != nil {
		return id, err
	}
	split := len(value) - chacha20poly1305.NonceSizeX
	plain, err := aead.Open(nil, value[split:], value[:split], nil)
	if err != nil {
		return id, ErrNameValue
	}
	id.Prefix = identity.Prefix(plain[0])
	copy(id.Key[:], plain[1:])
	return identity.ParseAccountID(id.String())
}
