package groupkeys

import (
	"crypto/ed25519"
	"fmt"
	"sort"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/identity"
)

// A dump is what a client keeps of a group's keys between runs, in
// libsession-util's layout (Keys::make_dump and Keys::load_dump), a bt
// dict:
//
//	A  the stored keys messages in use: [[generation, hash...]...]
//	L  the keys held: [{g, k, t}...], oldest first
//	P  a pending key, if any: {c: its keys message, g, k}
//
// The group's private key is not in it: an admin's is kept apart.

// Dump is the state to keep: Restore reads it back.
func (k *Keys) Dump() []byte {
	gens := make([]int64, 0, len(k.active))
	for g := range k.active {
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	a := make([]any, 0, len(gens))
	for _, g := range gens {
		l := []any{g}
		hs := make([]string, 0, len(k.active[g]))
		for h := range k.active[g] {
			hs = append(hs, h)
		}
		sort.Strings(hs)
		for _, h := range hs {
			l = append(l, h)
		}
		a = append(a, l)
	}
	keys := make([]any, len(k.keys))
	for i, kk := range k.keys {
		keys[i] = configmsg.Dict{"g": kk.Generation, "k": kk.Key[:], "t": kk.Time}
	}
	d := configmsg.Dict{"A": a, "L": keys}
	if k.pending != nil {
		d["P"] = configmsg.Dict{"c": k.pending.msg, "g": k.pending.gen, "k": k.pending.key[:]}
	}
	return configmsg.Encode(d)
}

// Restore is New with the state a Dump kept. A dump that is malformed
// (or holds more than the bounds allow) is refused.
func Restore(user *identity.Keys, groupPub ed25519.PublicKey, groupSeed []byte, dump []byte) (*Keys, error) {
	k, err := New(user, groupPub, groupSeed)
	if err != nil {
		return nil, err
	}
	bad := func(what string) error { return malformedDump(what) }
	v, err := configmsg.Decode(dump)
	if err != nil {
		return nil, malformedDump(err.Error())
	}
	d, ok := v.(configmsg.Dict)
	if !ok {
		return nil, bad("not a dict")
	}
	a, ok := d["A"].([]any)
	if !ok || len(a) > MaxKeys {
		return nil, bad("no list of messages in use (A), or too long")
	}
	for _, e := range a {
		l, ok := e.([]any)
		if !ok || len(l) == 0 || len(l) > 1+MaxHashesPerGeneration {
			return nil, bad("an entry of A is not [generation, hash...]")
		}
		g, ok := l[0].(int64)
		if !ok {
			return nil, bad("an entry of A has no generation")
		}
		if _, dup := k.active[g]; dup {
			return nil, bad("generation repeated in A")
		}
		hs := map[string]struct{}{}
		for _, h := range l[1:] {
			s, ok := h.(string)
			if !ok || s == "" || len(s) > maxHashLength {
				return nil, bad("a hash in A is not a string of 1 to 128 bytes")
			}
			hs[s] = struct{}{}
		}
		k.active[g] = hs
	}
	keys, ok := d["L"].([]any)
	if !ok || len(keys) > MaxKeys {
		return nil, bad("no list of keys (L), or too long")
	}
	for i, e := range keys {
		kd, ok := e.(configmsg.Dict)
		if !ok {
			return nil, bad("a key is not a dict")
		}
		g, ok1 := kd["g"].(int64)
		kb, ok2 := kd["k"].(string)
		t, ok3 := kd["t"].(int64)
		if !ok1 || !ok2 || !ok3 || len(kb) != 32 || g < 0 {
			return nil, bad("a key lacks g, a 32-byte k or t")
		}
		nk := Key{Generation: g, Key: [32]byte([]byte(kb)), Time: t}
		if i > 0 && k.keys[i-1].cmp(nk) >= 0 {
			return nil, bad("the keys are not in order")
		}
		k.keys = append(k.keys, nk)
	}
	if p, ok := d["P"]; ok {
		pd, ok := p.(configmsg.Dict)
		if !ok {
			return nil, bad("the pending key is not a dict")
		}
		c, ok1 := pd["c"].(string)
		g, ok2 := pd["g"].(int64)
		kb, ok3 := pd["k"].(string)
		if !ok1 || !ok2 || !ok3 || len(kb) != 32 || len(c) == 0 || len(c) > maxKeysMessage {
			return nil, bad("the pending key lacks c, g or a 32-byte k")
		}
		k.pending = &pending{gen: g, key: [32]byte([]byte(kb)), msg: []byte(c)}
	}
	return k, nil
}

func malformedDump(what string) error {
	return fmt.Errorf("%w dump: %s", ErrMalformed, what)
}
