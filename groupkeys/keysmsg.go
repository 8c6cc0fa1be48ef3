package groupkeys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sessionctl/sessionctl/configmsg"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// Keys messages (namespace 12), as libsession-util's Keys::rekey,
// Keys::key_supplement and Keys::load_key_message write and read them. A
// keys message is a bt dict, not encrypted as a whole, signed by the
// group's key under "~" (its last key, signing what precedes it):
//
//	#  the 24-byte nonce of every encrypted value in it
//	G  the generation of the new key (a supplement: the newest it holds)
//	K  the new key for admins: XChaCha20-Poly1305(key, #, admin key)
//	k  the new key for each member (multi.go), 48 bytes each, padded with
//	   random-looking junk entries to a multiple of 75
//	+  (a supplement, instead of K and k) for each member given keys they
//	   did not receive: the bt list of every key held, [{g, k, t}...],
//	   encrypted for them
//
// A new key is not random, so that two admins who rekey for the same
// change make the same key: with S = BLAKE2b-32(group seed, key
// "SessionGroupKeySeed"),
//
//	BLAKE2b-56(the members' Account IDs in hex, in order || the
//	           generation in decimal || S, key "SessionGroupKeyGen")
//
// gives the key (its first 32 bytes) and the nonce (the last 24). The
// admin key is BLAKE2b-32(group seed, key "SessionGroupKeyAdminKey"). The
// junk is ChaCha20 (IETF, nonce "LibsodiumDRG": libsodium's
// randombytes_buf_deterministic) keyed with BLAKE2b-32(the 56 bytes ||
// the group's 64-byte private key, key "SessionGroupJunkMembers"). A
// supplement's nonce is BLAKE2b-24(the recipients' Account IDs as given ||
// the key list || S, key "SessionGroupKeyGen").

const (
	nonceSize      = chacha20poly1305.NonceSizeX
	encKeySize     = 32 + chacha20poly1305.Overhead // an encrypted key
	minSuppSize    = 52 + chacha20poly1305.Overhead // an encrypted key list of one key
	seedHashKey    = "SessionGroupKeySeed"
	genHashKey     = "SessionGroupKeyGen"
	adminHashKey   = "SessionGroupKeyAdminKey"
	junkHashKey    = "SessionGroupJunkMembers"
	junkNonce      = "LibsodiumDRG"
	maxKeysMessage = configmsg.MaxStored // a keys message is stored whole
	maxHashLength  = 128                 // a swarm's message hash (43 base64 characters)
)

// memberX reads Account IDs (05 and 64 hex digits) into their X25519
// keys, lower-cased.
func memberX(ids []string) ([]string, [][]byte, error) {
	if len(ids) > MaxMembers {
		return nil, nil, fmt.Errorf("groupkeys: %d members, at most %d", len(ids), MaxMembers)
	}
	hexes := make([]string, len(ids))
	xs := make([][]byte, len(ids))
	for i, id := range ids {
		id = strings.ToLower(id)
		b, err := hex.DecodeString(id)
		if err != nil || len(b) != 33 || b[0] != 0x05 {
			return nil, nil, fmt.Errorf("groupkeys: member %q: want an Account ID (66 hex digits starting 05)", id)
		}
		hexes[i], xs[i] = id, b[1:]
	}
	return hexes, xs, nil
}

// Rekey makes a new key for the group, for members: every Account ID the
// members config lists (admins included; groupconfig.MemberIDs). It
// returns the keys message to store in namespace 12, which is also held
// as pending (and encrypts from now on) until Load sees it stored. The
// info and members configs must then be pushed again under the new key,
// even if unchanged. Admins only.
func (k *Keys) Rekey(members []string) ([]byte, error) {
	if k.admin == nil {
		return nil, ErrNotAdmin
	}
	ids, xs, err := memberX(members)
	if err != nil {
		return nil, err
	}
	// the members config's order: by Account ID, each once
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ids[order[a]] < ids[order[b]] })
	var gen int64
	if n := len(k.keys); n > 0 {
		gen = k.keys[n-1].Generation + 1
	}
	h, _ := blake2b.New(56, []byte(genHashKey))
	var last string
	var sorted [][]byte
	for n, i := range order {
		if n > 0 && ids[i] == last {
			continue
		}
		last = ids[i]
		h.Write([]byte(ids[i]))
		sorted = append(sorted, xs[i])
	}
	h.Write([]byte(strconv.FormatInt(gen, 10)))
	h.Write(k.seedHash(seedHashKey))
	h1 := h.Sum(nil)
	key, nonce := h1[:32], h1[32:]

	list := []any{}
	for _, x := range sorted {
		mk, err := multiKey(k.adminX.X25519Private[:], x, k.groupXPub[:], x)
		if err != nil {
			continue // a key no one holds (low order), as libsession skips it
		}
		list = append(list, sealFor(mk, nonce, key))
	}
	if r := len(list) % MessageKeyMultiple; r != 0 {
		js, _ := blake2b.New256([]byte(junkHashKey))
		js.Write(h1)
		js.Write(k.admin)
		junk := make([]byte, (MessageKeyMultiple-r)*encKeySize)
		c, _ := chacha20.NewUnauthenticatedCipher(js.Sum(nil), []byte(junkNonce))
		c.XORKeyStream(junk, junk)
		for len(junk) > 0 {
			list = append(list, junk[:encKeySize])
			junk = junk[encKeySize:]
		}
	}
	d := configmsg.Dict{
		"#": nonce,
		"G": gen,
		"K": sealFor(k.seedHash(adminHashKey), nonce, key),
		"k": list,
	}
	msg, err := configmsg.EncodeSigned(d, k.admin)
	if err != nil {
		return nil, err
	}
	k.pending = &pending{gen: gen, key: [32]byte(key), msg: msg}
	return msg, nil
}

// encodeKeyList is the bt list of keys a supplement gives: [{g, k, t}...],
// oldest first.
func encodeKeyList(keys []Key) []byte {
	l := make([]any, len(keys))
	for i, kk := range keys {
		l[i] = configmsg.Dict{"g": kk.Generation, "k": kk.Key[:], "t": kk.Time}
	}
	return configmsg.Encode(l)
}

// Supplement makes a supplemental keys message: every key held (not the
// pending one), encrypted for each of members (Account IDs, in the order
// given), so that members added without a new key read what the group
// wrote before. Admins only; ErrNoKeys before the group's first key is
// stored.
func (k *Keys) Supplement(members []string) ([]byte, error) {
	if k.admin == nil {
		return nil, ErrNotAdmin
	}
	if len(k.keys) == 0 {
		return nil, ErrNoKeys
	}
	ids, xs, err := memberX(members)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("groupkeys: a supplement for no member")
	}
	supp := encodeKeyList(k.keys)
	h, _ := blake2b.New(nonceSize, []byte(genHashKey))
	for _, id := range ids {
		h.Write([]byte(id))
	}
	h.Write(supp)
	h.Write(k.seedHash(seedHashKey))
	nonce := h.Sum(nil)
	list := []any{}
	for _, x := range xs {
		mk, err := multiKey(k.adminX.X25519Private[:], x, k.groupXPub[:], x)
		if err != nil {
			continue
		}
		list = append(list, sealFor(mk, nonce, supp))
	}
	if len(list) == 0 {
		return nil, errors.New("groupkeys: a supplement for no valid member")
	}
	d := configmsg.Dict{
		"#": nonce,
		"+": list,
		"G": k.keys[len(k.keys)-1].Generation,
	}
	return configmsg.EncodeSigned(d, k.admin)
}

// keysMessage is a keys message read and checked, not yet opened.
type keysMessage struct {
	nonce  []byte
	gen    int64
	supp   bool
	admin  []byte   // K
	copies []string // k, or + for a supplement
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w keys message: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parseKeysMessage checks a keys message's form and signature.
func (k *Keys) parseKeysMessage(msg []byte) (*keysMessage, error) {
	if len(msg) > maxKeysMessage {
		return nil, malformed("%d bytes, at most %d", len(msg), maxKeysMessage)
	}
	d, err := configmsg.DecodeSigned(msg, k.groupPub)
	switch {
	case errors.Is(err, configmsg.ErrSignature):
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	case err != nil:
		return nil, malformed("%v", err)
	}
	m := &keysMessage{}
	nonce, ok := d["#"].(string)
	if !ok || len(nonce) != nonceSize {
		return nil, malformed("no 24-byte nonce (#)")
	}
	m.nonce = []byte(nonce)
	gen, ok := d["G"].(int64)
	if !ok || gen < 0 {
		return nil, malformed("no generation (G), or a negative one")
	}
	m.gen = gen
	strs := func(key string, minSize, size int) ([]string, error) {
		l, ok := d[key].([]any)
		if !ok {
			return nil, malformed("no list %q", key)
		}
		out := make([]string, len(l))
		for i, v := range l {
			s, ok := v.(string)
			if !ok || len(s) < minSize || (size > 0 && len(s) != size) {
				return nil, malformed("entry %d of %q is not an encrypted key", i, key)
			}
			out[i] = s
		}
		return out, nil
	}
	if _, ok := d["+"]; ok {
		if _, ok := d["K"]; ok {
			return nil, malformed("both a supplement (+) and an admin key (K)")
		}
		if _, ok := d["k"]; ok {
			return nil, malformed("both a supplement (+) and member keys (k)")
		}
		m.supp = true
		if m.copies, err = strs("+", minSuppSize, 0); err != nil {
			return nil, err
		}
		return m, nil
	}
	admin, ok := d["K"].(string)
	if !ok || len(admin) != encKeySize {
		return nil, malformed("no %d-byte admin key (K)", encKeySize)
	}
	m.admin = []byte(admin)
	if m.copies, err = strs("k", encKeySize, encKeySize); err != nil {
		return nil, err
	}
	if len(m.copies)%MessageKeyMultiple != 0 {
		return nil, malformed("%d member keys, not a multiple of %d (no junk padding?)", len(m.copies), MessageKeyMultiple)
	}
	return m, nil
}

// parseKeyList reads a supplement's decrypted key list.
func parseKeyList(b []byte) ([]Key, error) {
	v, err := configmsg.Decode(b)
	if err != nil {
		return nil, malformed("supplement keys: %v", err)
	}
	l, ok := v.([]any)
	if !ok || len(l) > MaxKeys {
		return nil, malformed("supplement keys: not a list of at most %d", MaxKeys)
	}
	out := make([]Key, len(l))
	for i, e := range l {
		d, ok := e.(configmsg.Dict)
		if !ok {
			return nil, malformed("supplement key %d is not a dict", i)
		}
		g, ok1 := d["g"].(int64)
		kb, ok2 := d["k"].(string)
		t, ok3 := d["t"].(int64)
		if !ok1 || !ok2 || !ok3 || g < 0 || len(kb) != 32 {
			return nil, malformed("supplement key %d: want g (generation), k (32 bytes) and t", i)
		}
		out[i] = Key{Generation: g, Key: [32]byte([]byte(kb)), Time: t}
	}
	return out, nil
}

// Load reads a keys message the swarm stored (hash is its hash, storedAt
// its timestamp in unix ms), as libsession's Keys::load_key_message: the
// message must be signed by the group; an admin opens the admin key, a
// member the copy encrypted for it, or the key list of a supplement meant
// for it. It reports whether the message gave a key; one that gives none
// (not meant for this account: a removed member's view of a later key) is
// still remembered among the current hashes. A message that is malformed,
// not the group's, or not what it says is refused whole: nothing changes.
func (k *Keys) Load(hash string, msg []byte, storedAt int64) (bool, error) {
	if hash == "" || len(hash) > maxHashLength {
		return false, fmt.Errorf("groupkeys: a message hash of %d bytes, want 1 to %d", len(hash), maxHashLength)
	}
	m, err := k.parseKeysMessage(msg)
	if err != nil {
		return false, err
	}
	var found []Key
	switch {
	case m.supp && k.admin == nil:
		mk, err := multiKey(k.user.X25519Private[:], k.groupXPub[:], k.groupXPub[:], k.user.X25519Public[:])
		if err != nil {
			return false, fmt.Errorf("groupkeys: %w", err)
		}
		if plain, ok := openAny(mk, m.nonce, m.copies); ok {
			if found, err = parseKeyList(plain); err != nil {
				return false, err
			}
		}
	case m.supp: // an admin holds every key already
	case k.admin != nil:
		aead, _ := chacha20poly1305.NewX(k.seedHash(adminHashKey))
		key, err := aead.Open(nil, m.nonce, m.admin, nil)
		if err != nil {
			return false, malformed("the admin key (K) does not open with the group's admin key")
		}
		found = []Key{{Generation: m.gen, Key: [32]byte(key), Time: storedAt}}
	default:
		mk, err := multiKey(k.user.X25519Private[:], k.groupXPub[:], k.groupXPub[:], k.user.X25519Public[:])
		if err != nil {
			return false, fmt.Errorf("groupkeys: %w", err)
		}
		if key, ok := openAny(mk, m.nonce, m.copies); ok {
			if len(key) != 32 {
				return false, malformed("a member key of %d bytes", len(key))
			}
			found = []Key{{Generation: m.gen, Key: [32]byte(key), Time: storedAt}}
		}
	}
	if k.admin != nil && len(found) > 0 && k.pending != nil &&
		(found[0].Generation > k.pending.gen || found[0].Key == k.pending.key) {
		k.pending = nil // stored (or overtaken)
	}
	if len(found) == 0 {
		k.remember(m.gen, hash)
		k.removeExpired()
		return false, nil
	}
	for _, nk := range found {
		k.insert(hash, nk)
	}
	return true, nil
}
