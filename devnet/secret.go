package devnet

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"golang.org/x/crypto/blake2b"
)

// The seed is public (the default one is in the README), so it makes only
// what anyone may know: node keys, client identities and the swarm layout.
// The keys that only the devnet itself uses, the operator and contributor
// wallets that stake the nodes and the file and community servers' keys,
// derive from a secret made for each devnet and kept in <dir>/secret.key
// (mode 0600). The ledger keeps its authority key beside its database.

// secretFile is where a devnet keeps its secret.
const secretFile = "secret.key"

// LoadSecret reads the devnet secret of dir, making one the first time.
func LoadSecret(dir string) ([32]byte, error) {
	var s [32]byte
	path := Dir(dir).SecretFile()
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		b, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(b) != 32 {
			return s, fmt.Errorf("%s is damaged: want 64 hex characters", path)
		}
		return [32]byte(b), nil
	case !errors.Is(err, os.ErrNotExist):
		return s, fmt.Errorf("read the devnet secret: %w", err)
	}
	if _, err := rand.Read(s[:]); err != nil {
		return s, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s, err
	}
	if err := atomicfile.Write(path, []byte(hex.EncodeToString(s[:])+"\n"), 0o600); err != nil {
		return s, fmt.Errorf("write the devnet secret: %w", err)
	}
	return s, nil
}

// deriveSecret returns the Ed25519 key of a role's i-th member, from the
// devnet secret.
func deriveSecret(secret [32]byte, role string, i int) ed25519.PrivateKey {
	s := blake2b.Sum256(fmt.Appendf(nil, "sessionctl-secret-%s\x00%x\x00%d", role, secret, i))
	return ed25519.NewKeyFromSeed(s[:])
}
