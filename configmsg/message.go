package configmsg

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/crypto/blake2b"
)

// A config message, decrypted (libsession-util's docs/config-merge-logic.md
// and src/config.cpp; the facts below are theirs):
//
//	d
//	  1:#  i<seqno>e
//	  1:&  d ...the data... e
//	  1:<  l l i<seqno>e 32:<hash> d ...diff... e e ... e   the lagged diffs
//	  1:=  d ...this message's diff... e
//	e
//
// The data is a dict whose values are integers, strings, sets (sorted
// lists of unique integers and strings, integers first) and dicts; empty
// sets and dicts are pruned. A diff mirrors the data: "" for a value
// assigned, "-" for one removed, a dict for changes inside a dict, and
// [added, removed] for a set. The hash of a message is the unkeyed
// BLAKE2b-256 of its encoding.
//
// Every change makes a message one seqno higher, carrying the diffs of the
// last Lag-1 messages it builds on. When two devices write at once, their
// messages share a seqno: any reader merges them the same way (Load): it
// starts from the data of the highest (seqno, hash) and replays every diff
// it knows in (seqno, hash) order, each assigned value taken from the
// message that carried the diff; the result is one seqno higher again.

// DefaultLag is how many seqnos of diffs a message carries (libsession's
// DEFAULT_DIFF_LAGS).
const DefaultLag = 5

// Hash is a config message's hash.
type Hash [32]byte

// SeqHash orders messages: by seqno, then by hash.
type SeqHash struct {
	Seqno int64
	Hash  Hash
}

func (a SeqHash) cmp(b SeqHash) int {
	if a.Seqno != b.Seqno {
		if a.Seqno < b.Seqno {
			return -1
		}
		return 1
	}
	return bytes.Compare(a.Hash[:], b.Hash[:])
}

type lagged struct {
	SeqHash
	diff Dict
}

// Message is a config message. One loaded from bytes or merged is read
// only; Edit gives a mutable successor whose Data may be changed, and whose
// diff is worked out from those changes when it is encoded.
type Message struct {
	seqHash SeqHash
	data    Dict
	diff    Dict     // a loaded message's own diff
	orig    Dict     // non-nil for a mutable message: its data when made
	lags    []lagged // sorted by SeqHash
	unknown Dict     // top-level keys this version does not know, kept
	lag     int
	merged  bool
	sig     []byte             // a loaded message's signature ("~"), as it came
	signer  ed25519.PrivateKey // signs what this message encodes (a group admin's)
}

// New is an empty mutable message with seqno 0.
func New(lag int) *Message {
	return &Message{data: Dict{}, orig: Dict{}, lag: lag}
}

// Seqno is the message's sequence number.
func (m *Message) Seqno() int64 { return m.seqHash.Seqno }

// Merged tells whether Load had to merge messages into this one.
func (m *Message) Merged() bool { return m.merged }

// Data is the message's data. Only a mutable message's may be changed.
func (m *Message) Data() Dict { return m.data }

// Hash is the hash of the message's encoding.
func (m *Message) Hash() Hash {
	if m.orig != nil {
		m.seqHash.Hash = blake2b.Sum256(m.Encode())
	}
	return m.seqHash.Hash
}

// Diff is what this message changed: for a mutable one, the changes made
// to Data since it was made.
func (m *Message) Diff() Dict {
	if m.orig == nil {
		return m.diff
	}
	prune(m.data)
	d := diffDict(m.orig, m.data)
	if d == nil {
		d = Dict{}
	}
	m.diff = d
	return d
}

// Encode bt-encodes the message. A message loaded with a signature keeps
// it; one made by a signer (NewSigned, or anything built on a message
// loaded with a signer) is signed; others (the user's own configs) are
// not.
func (m *Message) Encode() []byte {
	diff := m.Diff()
	lags := []any{}
	for _, l := range m.lags {
		if l.Seqno <= m.seqHash.Seqno-int64(m.lag) || l.Seqno >= m.seqHash.Seqno {
			continue
		}
		lags = append(lags, []any{l.Seqno, string(l.Hash[:]), l.diff})
	}
	top := Dict{}
	for k, v := range m.unknown {
		top[k] = v
	}
	top["#"] = m.seqHash.Seqno
	top["&"] = m.data
	top["<"] = lags
	top["="] = diff
	enc := Encode(top)
	switch {
	case m.sig != nil && m.orig == nil:
		return appendSig(enc, m.sig)
	case m.signer != nil:
		return appendSig(enc, ed25519.Sign(m.signer, enc[:len(enc)-1]))
	}
	return enc
}

// sigSuffix is what a signature adds at the end of an encoded message:
// "1:~64:" and the 64 bytes, before the dict's closing "e". What is signed
// is everything before it.
const sigSuffix = len("1:~64:") + ed25519.SignatureSize

// appendSig puts sig under "~", the last key, of the encoded dict enc.
func appendSig(enc, sig []byte) []byte {
	out := make([]byte, 0, len(enc)+sigSuffix)
	out = append(out, enc[:len(enc)-1]...)
	out = append(out, "1:~64:"...)
	out = append(out, sig...)
	return append(out, 'e')
}

// Edit returns a mutable message to make changes in: a merged message as
// it is (its seqno is already new), any other one seqno higher.
func (m *Message) Edit() *Message {
	if m.merged && m.orig == nil {
		n := *m
		n.data = copyDict(m.data)
		n.orig = copyDict(m.data)
		n.lags = slices.Clone(m.lags)
		n.merged = false
		n.sig = nil
		return &n
	}
	return m.Increment()
}

// Increment returns the mutable message that follows m: one seqno higher,
// carrying m's diff among its lagged ones.
func (m *Message) Increment() *Message {
	prev := SeqHash{m.seqHash.Seqno, m.Hash()}
	diff := m.Diff()
	n := &Message{data: copyDict(m.data), unknown: m.unknown, lag: m.lag, signer: m.signer}
	n.orig = copyDict(n.data)
	for _, l := range m.lags {
		if l.Seqno > prev.Seqno-int64(m.lag) && l.Seqno < prev.Seqno {
			n.lags = append(n.lags, l)
		}
	}
	n.lags = append(n.lags, lagged{prev, diff})
	n.seqHash.Seqno = prev.Seqno + 1
	return n
}

// Parse decodes one config message. lag is the reader's lag: lagged diffs
// older than it are dropped.
func Parse(b []byte, lag int) (*Message, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	top, ok := v.(Dict)
	if !ok {
		return nil, errors.New("configmsg: a config message is not a dict")
	}
	m := &Message{lag: lag, unknown: Dict{}}
	m.seqHash.Hash = blake2b.Sum256(b)
	for _, k := range sortedKeys(top) {
		switch {
		case k < "#":
			return nil, fmt.Errorf("configmsg: key %q comes before \"#\": a format this version cannot read", k)
		case k == "#":
			n, ok := top[k].(int64)
			if !ok {
				return nil, errors.New("configmsg: the seqno is not an integer")
			}
			m.seqHash.Seqno = n
		case k == "&":
			d, ok := top[k].(Dict)
			if !ok {
				return nil, errors.New("configmsg: the data is not a dict")
			}
			if err := checkData(d, true); err != nil {
				return nil, err
			}
			m.data = d
		case k == "<":
			if err := m.parseLags(top[k]); err != nil {
				return nil, err
			}
		case k == "=":
			d, ok := top[k].(Dict)
			if !ok {
				return nil, errors.New("configmsg: the diff is not a dict")
			}
			if err := checkDiff(d); err != nil {
				return nil, err
			}
			m.diff = d
		case k == "~":
			s, ok := top[k].(string)
			if !ok || len(s) != ed25519.SignatureSize {
				return nil, errors.New("configmsg: the signature is not 64 bytes")
			}
			m.sig = []byte(s)
		case k > "~":
			return nil, fmt.Errorf("configmsg: key %q after the signature", k)
		default:
			m.unknown[k] = top[k]
		}
	}
	if _, ok := top["#"]; !ok {
		return nil, errors.New("configmsg: no seqno (\"#\")")
	}
	if m.data == nil {
		return nil, errors.New("configmsg: no data (\"&\")")
	}
	if m.diff == nil {
		m.diff = Dict{}
	}
	return m, nil
}

// maxLags bounds the lagged diffs a message may carry (a few seqnos' worth
// of merges: DefaultLag seqnos, each rarely written by more than a few
// devices at once).
const maxLags = 1000

func (m *Message) parseLags(v any) error {
	list, ok := v.([]any)
	if !ok {
		return errors.New("configmsg: the lagged diffs are not a list")
	}
	if len(list) > maxLags {
		return fmt.Errorf("configmsg: %d lagged diffs, at most %d", len(list), maxLags)
	}
	for _, e := range list {
		t, ok := e.([]any)
		if !ok || len(t) != 3 {
			return errors.New("configmsg: a lagged diff is not [seqno, hash, diff]")
		}
		seq, ok1 := t[0].(int64)
		h, ok2 := t[1].(string)
		d, ok3 := t[2].(Dict)
		if !ok1 || !ok2 || !ok3 || len(h) != 32 {
			return errors.New("configmsg: a lagged diff is not [seqno, 32-byte hash, diff]")
		}
		if seq >= m.seqHash.Seqno {
			return errors.New("configmsg: a lagged diff's seqno is not below the message's")
		}
		if seq <= m.seqHash.Seqno-int64(m.lag) {
			continue // too old to matter
		}
		l := lagged{SeqHash{seq, Hash([]byte(h))}, d}
		if n := len(m.lags); n > 0 && l.cmp(m.lags[n-1].SeqHash) <= 0 {
			return errors.New("configmsg: the lagged diffs are out of order or repeated")
		}
		if err := checkDiff(d); err != nil {
			return err
		}
		m.lags = append(m.lags, l)
	}
	return nil
}

// ErrNoMessage is Load given nothing it could read.
var ErrNoMessage = errors.New("configmsg: no valid config message")

// Load reads the config messages an account's swarm holds for one config
// and settles them into one: the single message that includes all the
// others (its index is returned), or a new merged one (index -1). Messages
// that do not parse are skipped and reported in skipped; if none parses,
// the error is ErrNoMessage.
func Load(msgs [][]byte, lag int) (m *Message, used int, skipped []error, err error) {
	return load(msgs, lag, func(b []byte) (*Message, error) { return Parse(b, lag) }, nil, true)
}

func load(msgs [][]byte, lag int, parse func([]byte) (*Message, error), signer ed25519.PrivateKey, canMerge bool) (m *Message, used int, skipped []error, err error) {
	type cand struct {
		m         *Message
		i         int
		redundant bool
	}
	var cs []*cand
	for i, b := range msgs {
		pm, err := parse(b)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("message %d: %w", i, err))
			continue
		}
		pm.signer = signer
		cs = append(cs, &cand{m: pm, i: i})
	}
	if len(cs) == 0 {
		return nil, -1, skipped, ErrNoMessage
	}
	maxSeq := cs[0].m.seqHash.Seqno
	for i, c := range cs {
		maxSeq = max(maxSeq, c.m.seqHash.Seqno)
		for j, o := range cs {
			if i == j || c.redundant {
				continue
			}
			if o.m.hasLag(c.m.seqHash) || (j < i && o.m.seqHash == c.m.seqHash) {
				c.redundant = true
			}
		}
	}
	live := cs[:0:0]
	for _, c := range cs {
		if c.m.seqHash.Seqno+int64(lag) <= maxSeq {
			c.redundant = true
		}
		if !c.redundant {
			live = append(live, c)
		}
	}
	sort.Slice(live, func(a, b int) bool { return live[a].m.seqHash.cmp(live[b].m.seqHash) > 0 })
	if len(live) == 1 || !canMerge {
		// One message holds all the others; or this reader cannot sign a
		// merge, and takes the newest until someone who can merges them.
		return live[0].m, live[0].i, skipped, nil
	}
	out := &Message{lag: lag, merged: true, data: copyDict(live[0].m.data), diff: Dict{}, unknown: live[0].m.unknown, signer: signer}
	out.seqHash.Seqno = maxSeq + 1
	type entry struct {
		source Dict
		diff   Dict
	}
	replay := map[SeqHash]entry{}
	for _, c := range live {
		if _, ok := replay[c.m.seqHash]; !ok {
			replay[c.m.seqHash] = entry{c.m.data, c.m.diff}
		}
		for _, l := range c.m.lags {
			if _, ok := replay[l.SeqHash]; !ok {
				replay[l.SeqHash] = entry{c.m.data, l.diff}
			}
		}
	}
	order := make([]SeqHash, 0, len(replay))
	for sh := range replay {
		order = append(order, sh)
	}
	sort.Slice(order, func(a, b int) bool { return order[a].cmp(order[b]) < 0 })
	for _, sh := range order {
		e := replay[sh]
		applyDiff(out.data, e.diff, e.source)
		out.lags = append(out.lags, lagged{sh, e.diff})
	}
	prune(out.data)
	out.seqHash.Hash = blake2b.Sum256(out.Encode())
	return out, -1, skipped, nil
}

func (m *Message) hasLag(sh SeqHash) bool {
	for _, l := range m.lags {
		if l.SeqHash == sh {
			return true
		}
	}
	return false
}

// checkData checks a data dict: values are integers, strings, sets or
// non-empty dicts (the top one may be empty).
func checkData(d Dict, top bool) error {
	if !top && len(d) == 0 {
		return errors.New("configmsg: the data holds an empty dict")
	}
	for k, v := range d {
		switch x := v.(type) {
		case int64, string:
		case Dict:
			if err := checkData(x, false); err != nil {
				return err
			}
		case []any:
			if len(x) == 0 {
				return errors.New("configmsg: the data holds an empty set")
			}
			if err := checkSet(x); err != nil {
				return fmt.Errorf("configmsg: the data's set %q: %w", k, err)
			}
		}
	}
	return nil
}

// checkSet checks that s holds integers and strings only, sorted
// (integers first), without repeats.
func checkSet(s []any) error {
	for i, v := range s {
		if !isScalar(v) {
			return errors.New("a set holds something other than integers and strings")
		}
		if i > 0 && compareScalar(s[i-1], v) >= 0 {
			return errors.New("a set is out of order or repeats a value")
		}
	}
	return nil
}

// checkDiff checks a diff: "" and "-", [added, removed] pairs of sets, and
// dicts of those.
func checkDiff(d Dict) error {
	for k, v := range d {
		switch x := v.(type) {
		case string:
			if x != "" && x != "-" {
				return fmt.Errorf("configmsg: the diff's %q is %q, want \"\" or \"-\"", k, x)
			}
		case []any:
			if len(x) != 2 {
				return fmt.Errorf("configmsg: the diff's set %q is not [added, removed]", k)
			}
			for _, sub := range x {
				l, ok := sub.([]any)
				if !ok {
					return fmt.Errorf("configmsg: the diff's set %q is not [added, removed]", k)
				}
				if err := checkSet(l); err != nil {
					return fmt.Errorf("configmsg: the diff's set %q: %w", k, err)
				}
			}
		case Dict:
			if err := checkDiff(x); err != nil {
				return err
			}
		default:
			return fmt.Errorf("configmsg: the diff's %q is a %T", k, v)
		}
	}
	return nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case int64, string:
		return true
	}
	return false
}

// compareScalar orders set members: integers before strings, integers by
// value, strings bytewise.
func compareScalar(a, b any) int {
	ai, aInt := a.(int64)
	bi, bInt := b.(int64)
	switch {
	case aInt && bInt:
		switch {
		case ai < bi:
			return -1
		case ai > bi:
			return 1
		}
		return 0
	case aInt:
		return -1
	case bInt:
		return 1
	}
	as, bs := a.(string), b.(string)
	switch {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// SetInsert returns s with v (an int64 or a string) in its place.
func SetInsert(s []any, v any) []any {
	i, found := slices.BinarySearchFunc(s, v, compareScalar)
	if found {
		return s
	}
	return slices.Insert(slices.Clone(s), i, v)
}

// SetErase returns s without v.
func SetErase(s []any, v any) []any {
	i, found := slices.BinarySearchFunc(s, v, compareScalar)
	if !found {
		return s
	}
	return slices.Delete(slices.Clone(s), i, i+1)
}

// prune removes empty sets and dicts, depth first.
func prune(d Dict) {
	for k, v := range d {
		switch x := v.(type) {
		case Dict:
			prune(x)
			if len(x) == 0 {
				delete(d, k)
			}
		case []any:
			if len(x) == 0 {
				delete(d, k)
			}
		}
	}
}

func kind(v any) int {
	switch v.(type) {
	case Dict:
		return 2
	case []any:
		return 1
	}
	return 0
}

// diffDict is what changed from old to new (nil if nothing did).
func diffDict(old, new Dict) Dict {
	df := Dict{}
	for k, o := range old {
		n, ok := new[k]
		if ok && kind(o) == kind(n) {
			switch ov := o.(type) {
			case Dict:
				if sub := diffDict(ov, n.(Dict)); sub != nil {
					df[k] = sub
				}
			case []any:
				if sub := diffSet(ov, n.([]any)); sub != nil {
					df[k] = sub
				}
			default:
				if o != n {
					df[k] = ""
				}
			}
			continue
		}
		if !ok { // removed
			switch ov := o.(type) {
			case Dict:
				df[k] = diffDict(ov, Dict{})
			case []any:
				df[k] = diffSet(ov, nil)
			default:
				df[k] = "-"
			}
		}
	}
	for k, n := range new {
		if o, ok := old[k]; ok && kind(o) == kind(n) {
			continue
		}
		// new, or its kind changed: a new value
		switch nv := n.(type) {
		case Dict:
			df[k] = diffDict(Dict{}, nv)
		case []any:
			df[k] = diffSet(nil, nv)
		default:
			df[k] = ""
		}
	}
	if len(df) == 0 {
		return nil
	}
	return df
}

// diffSet is [added, removed] from old to new (nil if the same).
func diffSet(old, new []any) []any {
	added, removed := []any{}, []any{}
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case i == len(old) || (j < len(new) && compareScalar(new[j], old[i]) < 0):
			added = append(added, new[j])
			j++
		case j == len(new) || compareScalar(old[i], new[j]) < 0:
			removed = append(removed, old[i])
			i++
		default:
			i++
			j++
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	return []any{added, removed}
}

// applyDiff replays diff onto data, taking assigned values from source
// (the message that carried the diff). A key whose value source no longer
// has, or has with another kind, is removed: a later diff removes or
// replaces it.
func applyDiff(data, diff, source Dict) {
	for k, v := range diff {
		src, ok := source[k]
		switch dv := v.(type) {
		case string:
			if !ok || kind(src) != 0 {
				delete(data, k)
			} else if dv == "-" {
				delete(data, k)
			} else {
				data[k] = src
			}
		case Dict:
			sd, isDict := src.(Dict)
			if !ok || !isDict {
				delete(data, k)
				continue
			}
			sub, isDict := data[k].(Dict)
			if !isDict {
				sub = Dict{}
				data[k] = sub
			}
			applyDiff(sub, dv, sd)
		case []any:
			if _, isSet := src.([]any); !ok || !isSet {
				delete(data, k)
				continue
			}
			set, _ := data[k].([]any)
			for _, a := range dv[0].([]any) {
				set = SetInsert(set, a)
			}
			for _, r := range dv[1].([]any) {
				set = SetErase(set, r)
			}
			data[k] = set
		}
	}
}

func copyDict(d Dict) Dict {
	out := make(Dict, len(d))
	for k, v := range d {
		switch x := v.(type) {
		case Dict:
			out[k] = copyDict(x)
		case []any:
			out[k] = slices.Clone(x)
		default:
			out[k] = v
		}
	}
	return out
}
