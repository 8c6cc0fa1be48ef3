package groupkeys

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
)

// Limits and constants, libsession-util's (include/session/config/groups/
// keys.hpp) unless said otherwise.
const (
	// KeyExpiry is how long a key is kept once a newer generation has
	// been stored (twice the 30 days config messages live).
	KeyExpiry = 60 * 24 * time.Hour
	// MessageKeyMultiple: a keys message's member list is padded with
	// junk entries to a multiple of this.
	MessageKeyMultiple = 75
	// MaxPlaintext bounds a group message's content, before compression
	// and after decompression.
	MaxPlaintext = 1_000_000
	// MaxKeys bounds the keys held (sessionctl's bound; libsession keeps
	// keys by age only). Past it the oldest generations are dropped.
	MaxKeys = 1024
	// MaxHashesPerGeneration bounds the stored keys messages remembered
	// for one generation (sessionctl's bound).
	MaxHashesPerGeneration = 256
	// MaxMembers bounds the members a key is encrypted for (Session apps'
	// limit; groupconfig.MaxMembers).
	MaxMembers = 100
)

// Errors, for errors.Is.
var (
	// ErrNotAdmin is an operation that needs the group's private key.
	ErrNotAdmin = errors.New("groupkeys: only a group admin (with the group's private key) can do this")
	// ErrNoKeys is a group of which no key is known yet.
	ErrNoKeys = errors.New("groupkeys: no key of the group is known")
	// ErrMalformed is a keys message, dump or group message that is not
	// well formed.
	ErrMalformed = errors.New("groupkeys: malformed")
	// ErrSignature is a keys message not signed by the group.
	ErrSignature = errors.New("groupkeys: the keys message is not signed by the group")
)

// Key is one of a group's encryption keys.
type Key struct {
	Generation int64
	Key        [32]byte
	// Time is when the swarm stored the keys message that gave it, unix
	// ms (the message's timestamp, not this machine's clock).
	Time int64
}

func (a Key) cmp(b Key) int {
	if a.Generation != b.Generation {
		return cmpInt(a.Generation, b.Generation)
	}
	if a.Time != b.Time {
		return cmpInt(a.Time, b.Time)
	}
	return bytes.Compare(a.Key[:], b.Key[:])
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pending is a new key an admin made and has not yet seen stored.
type pending struct {
	gen int64
	key [32]byte
	msg []byte // the keys message to push
}

// Keys is one account's view of a group's keys config: the keys it can
// read, and for an admin the group's private key. It is not safe for
// concurrent use.
type Keys struct {
	user      *identity.Keys
	groupPub  ed25519.PublicKey
	groupXPub [32]byte
	admin     ed25519.PrivateKey // nil for members
	adminX    *identity.Keys     // the group key's X25519 twin, for admins

	keys    []Key                         // sorted by cmp
	active  map[int64]map[string]struct{} // stored keys messages by generation
	pending *pending
}

// New is an empty view of a group's keys for user, the account whose
// keys messages it reads. groupPub is the group's Ed25519 key (its ID
// without the 03); groupSeed is the group's 32-byte Ed25519 seed for an
// admin, nil for a member. A new group's admin then calls Rekey for its
// first key.
func New(user *identity.Keys, groupPub ed25519.PublicKey, groupSeed []byte) (*Keys, error) {
	if user == nil {
		return nil, errors.New("groupkeys: no user keys")
	}
	if len(groupPub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("groupkeys: a group key of %d bytes, want %d", len(groupPub), ed25519.PublicKeySize)
	}
	x, err := identity.Ed25519ToX25519(groupPub)
	if err != nil {
		return nil, fmt.Errorf("groupkeys: the group key: %w", err)
	}
	k := &Keys{user: user, groupPub: slices.Clone(groupPub), groupXPub: x, active: map[int64]map[string]struct{}{}}
	if groupSeed != nil {
		if err := k.LoadAdminKey(groupSeed); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// LoadAdminKey makes this view an admin's: seed is the group's 32-byte
// Ed25519 seed (or the 64-byte private key), as a promotion gives it. It
// is refused if it is not the group's key.
func (k *Keys) LoadAdminKey(seed []byte) error {
	if len(seed) == ed25519.PrivateKeySize {
		seed = seed[:ed25519.SeedSize]
	}
	if len(seed) != ed25519.SeedSize {
		return fmt.Errorf("groupkeys: a group seed of %d bytes, want 32 (or the 64-byte private key)", len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), k.groupPub) {
		return errors.New("groupkeys: the admin key given is not the group's")
	}
	k.admin = priv
	k.adminX = identity.KeysFromEd25519Seed([32]byte(seed))
	return nil
}

// Admin tells whether this view holds the group's private key.
func (k *Keys) Admin() bool { return k.admin != nil }

// GroupPublic is the group's Ed25519 key.
func (k *Keys) GroupPublic() ed25519.PublicKey { return slices.Clone(k.groupPub) }

// GroupID is the group's Account ID: 03 and its Ed25519 key.
func (k *Keys) GroupID() identity.AccountID {
	return identity.AccountID{Prefix: identity.PrefixGroup, Key: [32]byte(k.groupPub)}
}

// AdminPrivate is the group's private key (nil for a member): what signs
// the group's info and members configs.
func (k *Keys) AdminPrivate() ed25519.PrivateKey { return slices.Clone(k.admin) }

// seedHash is BLAKE2b-32 of the group's seed keyed with key: the group's
// secrets derived for each use.
func (k *Keys) seedHash(key string) []byte {
	h, _ := blake2b.New256([]byte(key))
	h.Write(k.admin.Seed())
	return h.Sum(nil)
}

// Keys lists the keys held, oldest first (not the pending one).
func (k *Keys) Keys() []Key { return slices.Clone(k.keys) }

// Size is the number of keys held, the pending one included.
func (k *Keys) Size() int {
	if k.pending != nil {
		return len(k.keys) + 1
	}
	return len(k.keys)
}

// GroupKeys lists the keys to decrypt the group's info and members
// configs with, newest first: the pending key, then the others. The first
// is the key to encrypt them with.
func (k *Keys) GroupKeys() [][]byte {
	out := make([][]byte, 0, k.Size())
	if k.pending != nil {
		out = append(out, slices.Clone(k.pending.key[:]))
	}
	for i := len(k.keys) - 1; i >= 0; i-- {
		out = append(out, slices.Clone(k.keys[i].Key[:]))
	}
	return out
}

// EncryptionKey is the key new messages and configs are encrypted with:
// the pending one, or the newest.
func (k *Keys) EncryptionKey() ([]byte, error) {
	if k.pending != nil {
		return slices.Clone(k.pending.key[:]), nil
	}
	if len(k.keys) == 0 {
		return nil, ErrNoKeys
	}
	return slices.Clone(k.keys[len(k.keys)-1].Key[:]), nil
}

// CurrentGeneration is the newest generation held (0 with none), not
// counting a pending key.
func (k *Keys) CurrentGeneration() int64 {
	if len(k.keys) == 0 {
		return 0
	}
	return k.keys[len(k.keys)-1].Generation
}

// Pending is the keys message an admin's Rekey made and has not yet seen
// stored (Load clears it), with its generation; ok false if none.
func (k *Keys) Pending() (msg []byte, gen int64, ok bool) {
	if k.pending == nil {
		return nil, 0, false
	}
	return slices.Clone(k.pending.msg), k.pending.gen, true
}

// CurrentHashes lists the hashes of the stored keys messages still in use
// (those of the generations kept), sorted: the messages whose expiry the
// group's clients extend.
func (k *Keys) CurrentHashes() []string {
	var out []string
	for _, hs := range k.active {
		for h := range hs {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return slices.Compact(out) // a supplement's hash is under each generation it gave
}

// NeedsRekey tells an admin that two admins made keys of the same (the
// newest) generation at once: a new key settles it.
func (k *Keys) NeedsRekey() bool {
	if k.admin == nil || len(k.keys) < 2 {
		return false
	}
	n := len(k.keys)
	return k.keys[n-1].Generation == k.keys[n-2].Generation
}

// remember notes that the stored keys message hash belongs to gen.
func (k *Keys) remember(gen int64, hash string) {
	hs := k.active[gen]
	if hs == nil {
		if len(k.active) >= MaxKeys {
			// bounded: forget the oldest generation's messages
			oldest := gen
			for g := range k.active {
				oldest = min(oldest, g)
			}
			if oldest == gen {
				return
			}
			delete(k.active, oldest)
		}
		hs = map[string]struct{}{}
		k.active[gen] = hs
	}
	if len(hs) < MaxHashesPerGeneration {
		hs[hash] = struct{}{}
	}
}

// insert adds a key from the stored message hash, as libsession's
// Keys::insert_key does: a key already held only gains the hash; a key of
// a generation older than all held, when those are themselves expired, is
// stale and dropped.
func (k *Keys) insert(hash string, nk Key) {
	for _, o := range k.keys {
		if o.Generation == nk.Generation && o.Key == nk.Key {
			k.remember(nk.Generation, hash)
			return
		}
	}
	i, _ := slices.BinarySearchFunc(k.keys, nk, Key.cmp)
	if n := len(k.keys); n >= 2 && i == 0 && nk.Generation < k.keys[0].Generation &&
		k.keys[0].Time+KeyExpiry.Milliseconds() < k.keys[n-1].Time {
		return
	}
	k.remember(nk.Generation, hash)
	k.keys = slices.Insert(k.keys, i, nk)
	k.removeExpired()
}

// removeExpired drops the generations a newer one replaced more than
// KeyExpiry before the newest key was stored (libsession's
// Keys::remove_expired: by the swarm's timestamps, not the local clock),
// then the oldest past MaxKeys, then the hashes of generations dropped.
func (k *Keys) removeExpired() {
	if len(k.keys) >= 2 {
		newest := k.keys[len(k.keys)-1].Time
		keep := 0 // the first key kept
		for i := 0; i < len(k.keys); {
			j := i + 1 // the first key of the next generation
			for j < len(k.keys) && k.keys[j].Generation == k.keys[i].Generation {
				j++
			}
			if j == len(k.keys) {
				break
			}
			if k.keys[j].Time+KeyExpiry.Milliseconds() < newest {
				keep = j
			} else {
				break
			}
			i = j
		}
		k.keys = slices.Delete(k.keys, 0, keep)
	}
	if extra := len(k.keys) - MaxKeys; extra > 0 {
		k.keys = slices.Delete(k.keys, 0, extra)
	}
	if len(k.keys) == 0 {
		clear(k.active)
		return
	}
	for g := range k.active {
		if g < k.keys[0].Generation {
			delete(k.active, g)
		}
	}
}
