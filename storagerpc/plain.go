package storagerpc

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// The hot parameters and results of a send and a fetch (store's and
// retrieve's params, a member's store result, the swarm's results and
// retrieve's result) are written and read by hand when they are plain, as
// json.Marshal writes them and as real clients send them: an object of
// known keys, spelled exactly, with no space, strings of printable ASCII
// without escapes, integers, true or false. Anything else (an escape, a
// key in another case, an unknown key, a null, a float, space) goes
// through encoding/json as before, which then accepts or refuses it as it
// always did. What is written by hand is byte for byte what json.Marshal
// writes. FuzzPlainParams and FuzzPlainResults hold both to encoding/json.

// plainObject calls f with each key and raw value of a flat object, in
// order: values are strings (quotes included), integers or true/false, as
// plain as said above. It reports false, at once, for anything else or
// when f does.
func plainObject(data []byte, f func(key, val []byte) bool) bool {
	end, ok := objectAt(data, 0, func(k []byte, i int) (int, bool) {
		v, end, ok := plainValue(data, i)
		return end, ok && f(k, v)
	})
	return ok && end == len(data)
}

// objectAt reads a plain object at data[i]: f reads the value of each key
// at its index and returns the index after it. It returns the index after
// the object.
func objectAt(data []byte, i int, f func(key []byte, i int) (int, bool)) (int, bool) {
	if i+1 >= len(data) || data[i] != '{' {
		return 0, false
	}
	if data[i+1] == '}' {
		return i + 2, true
	}
	i++
	for {
		k, n, ok := plainString(data, i)
		if !ok || n >= len(data) || data[n] != ':' {
			return 0, false
		}
		end, ok := f(k[1:len(k)-1], n+1)
		if !ok || end >= len(data) {
			return 0, false
		}
		switch data[end] {
		case ',':
			i = end + 1
		case '}':
			return end + 1, true
		default:
			return 0, false
		}
	}
}

// arrayAt reads a plain array at data[i], f each element, as objectAt.
func arrayAt(data []byte, i int, f func(i int) (int, bool)) (int, bool) {
	if i+1 >= len(data) || data[i] != '[' {
		return 0, false
	}
	if data[i+1] == ']' {
		return i + 2, true
	}
	i++
	for {
		end, ok := f(i)
		if !ok || end >= len(data) {
			return 0, false
		}
		switch data[end] {
		case ',':
			i = end + 1
		case ']':
			return end + 1, true
		default:
			return 0, false
		}
	}
}

// plainString reads a plain string at data[i]: it returns it with its
// quotes and the index after it.
func plainString(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	n := bytes.IndexByte(data[i+1:], '"')
	if n < 0 {
		return nil, 0, false
	}
	end := i + 1 + n
	for _, c := range data[i+1 : end] {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return nil, 0, false
		}
	}
	return data[i : end+1], end + 1, true
}

// plainValue reads a plain string, integer, true or false at data[i].
func plainValue(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) {
		return nil, 0, false
	}
	switch c := data[i]; {
	case c == '"':
		return plainString(data, i)
	case c == 't' || c == 'f':
		for _, w := range []string{"true", "false"} {
			if len(data)-i >= len(w) && string(data[i:i+len(w)]) == w {
				return data[i : i+len(w)], i + len(w), true
			}
		}
		return nil, 0, false
	case c == '-' || c >= '0' && c <= '9':
		j := i
		if c == '-' {
			j++
		}
		k := j
		for k < len(data) && data[k] >= '0' && data[k] <= '9' {
			k++
		}
		if k == j || k-j > 1 && data[j] == '0' {
			return nil, 0, false
		}
		return data[i:k], k, true
	}
	return nil, 0, false
}

// plainStr is a plain value as a string field.
func plainStr(v []byte, s *string) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	*s = string(v[1 : len(v)-1])
	return true
}

// plainInt is a plain value as an integer field of bits bits.
func plainInt(v []byte, bits int) (int64, bool) {
	if len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, bits)
	return n, err == nil
}

func plainInt64(v []byte, p *int64) bool {
	n, ok := plainInt(v, 64)
	*p = n
	return ok
}

func plainIntField(v []byte, p *int) bool {
	n, ok := plainInt(v, strconv.IntSize)
	*p = int(n)
	return ok
}

func plainBool(v []byte, p *bool) bool {
	switch string(v) {
	case "true":
		*p = true
	case "false":
		*p = false
	default:
		return false
	}
	return true
}

// plainAuth reads the keys of Auth and SubAuth; ok is false for others.
func plainAuth(a *Auth, s *SubAuth, key, v []byte) (known, ok bool) {
	switch string(key) {
	case "pubkey_ed25519":
		return true, plainStr(v, &a.PubkeyEd25519)
	case "signature":
		return true, plainStr(v, &a.Signature)
	case "subaccount":
		return true, plainStr(v, &s.Subaccount)
	case "subaccount_sig":
		return true, plainStr(v, &s.SubaccountSig)
	}
	return false, false
}

// DecodeStoreParams reads store's params into p, as json.Unmarshal does.
func DecodeStoreParams(data []byte, p *StoreParams) error {
	return decodeStoreParams(data, p, nil)
}

// DecodeStoreParamsData is DecodeStoreParams for a reader that only decodes
// the message's data: its text (the base64 Data holds) is returned rather
// than copied into p.Data, a slice of data when it is plain (a copy
// otherwise); p.Data is then left as it was.
func DecodeStoreParamsData(data []byte, p *StoreParams) (text []byte, err error) {
	err = decodeStoreParams(data, p, &text)
	return text, err
}

// decodeStoreParams is DecodeStoreParams, which leaves a plain Data's
// text in *text when text is not nil.
func decodeStoreParams(data []byte, p *StoreParams, text *[]byte) error {
	q := *p
	var t []byte
	if plainObject(data, func(k, v []byte) bool {
		switch string(k) {
		case "pubkey":
			return plainStr(v, &q.Pubkey)
		case "timestamp":
			return plainInt64(v, &q.Timestamp)
		case "ttl":
			return plainInt64(v, &q.TTL)
		case "expiry":
			return plainInt64(v, &q.Expiry)
		case "data":
			if text != nil {
				if len(v) < 2 || v[0] != '"' {
					return false
				}
				t = v[1 : len(v)-1]
				return true
			}
			return plainStr(v, &q.Data)
		case "namespace":
			n, ok := plainInt(v, 16)
			q.Namespace = Namespace(n)
			return ok
		case "sig_timestamp":
			return plainInt64(v, &q.SigTS)
		}
		_, ok := plainAuth(&q.Auth, &q.SubAuth, k, v)
		return ok
	}) {
		*p = q
		if text != nil {
			*text = t
		}
		return nil
	}
	if text == nil {
		return json.Unmarshal(data, p)
	}
	q = *p
	err := json.Unmarshal(data, &q)
	*text = []byte(q.Data)
	q.Data = p.Data
	*p = q
	return err
}

// DecodeRetrieveParams reads retrieve's params into p, as json.Unmarshal does.
func DecodeRetrieveParams(data []byte, p *RetrieveParams) error {
	q := *p
	if plainObject(data, func(k, v []byte) bool {
		switch string(k) {
		case "pubkey":
			return plainStr(v, &q.Pubkey)
		case "namespace":
			n, ok := plainInt(v, 16)
			q.Namespace = Namespace(n)
			return ok
		case "last_hash":
			return plainStr(v, &q.LastHash)
		case "lastHash":
			return plainStr(v, &q.LastHashCamel)
		case "max_count":
			return plainIntField(v, &q.MaxCount)
		case "max_size":
			return plainIntField(v, &q.MaxSize)
		case "timestamp":
			return plainInt64(v, &q.Timestamp)
		}
		_, ok := plainAuth(&q.Auth, &q.SubAuth, k, v)
		return ok
	}) {
		*p = q
		return nil
	}
	return json.Unmarshal(data, p)
}

// DecodeMemberResult reads a member's result into r, as json.Unmarshal
// does (plain: the flat results of store and the like; a delete's lists go
// through encoding/json).
func DecodeMemberResult(data []byte, r *MemberResult) error {
	return DecodeMemberResultOf(data, r, "")
}

// DecodeMemberResultOf is DecodeMemberResult for a result that should
// name hash (a store's, of the message hash): r.Hash is then hash itself,
// not a copy.
func DecodeMemberResultOf(data []byte, r *MemberResult, hash string) error {
	q := *r
	if plainObject(data, func(k, v []byte) bool {
		if string(k) == "hash" && hash != "" && len(v) >= 2 && v[0] == '"' && string(v[1:len(v)-1]) == hash {
			q.Hash = hash
			return true
		}
		return q.plainField(k, v)
	}) {
		*r = q
		return nil
	}
	return json.Unmarshal(data, r)
}

// plainField reads one key of a member's result.
func (q *MemberResult) plainField(k, v []byte) bool {
	switch string(k) {
	case "failed":
		return plainBool(v, &q.Failed)
	case "query_failure":
		return plainBool(v, &q.QueryFailure)
	case "code":
		return plainIntField(v, &q.Code)
	case "reason":
		return plainStr(v, &q.Reason)
	case "timeout":
		return plainBool(v, &q.Timeout)
	case "bad_peer_response":
		return plainBool(v, &q.BadPeerResponse)
	case "hash":
		return plainStr(v, &q.Hash)
	case "already":
		return plainBool(v, &q.Already)
	case "count":
		c := new(int)
		q.Count = c
		return plainIntField(v, c)
	case "expiry":
		return plainInt64(v, &q.Expiry)
	case "t":
		return plainInt64(v, &q.T)
	case "signature":
		return plainStr(v, &q.Signature)
	}
	return false
}

// appendStr appends s as json.Marshal writes a string: as it is when it is
// printable ASCII with nothing to escape (< > & are escaped by it).
func appendStr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// field appends ,"key": (or {"key": first) to b.
func field(b []byte, key string) []byte {
	if len(b) > 0 && b[len(b)-1] == '{' {
		b = append(b, '"')
	} else {
		b = append(b, ',', '"')
	}
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendBool(b []byte, v bool) []byte { return strconv.AppendBool(b, v) }

// AppendJSON appends the result's JSON, as json.Marshal writes it, to b;
// ok is false (and b as it was) for a result with a delete's or an
// expire's lists, which json.Marshal is for.
func (r *MemberResult) AppendJSON(b []byte) ([]byte, bool) {
	if r.Deleted != nil || r.Updated != nil || r.Unchanged != nil {
		return b, false
	}
	b = append(b, '{')
	if r.Failed {
		b = appendBool(field(b, "failed"), true)
	}
	if r.QueryFailure {
		b = appendBool(field(b, "query_failure"), true)
	}
	if r.Code != 0 {
		b = strconv.AppendInt(field(b, "code"), int64(r.Code), 10)
	}
	if r.Reason != "" {
		b = appendStr(field(b, "reason"), r.Reason)
	}
	if r.Timeout {
		b = appendBool(field(b, "timeout"), true)
	}
	if r.BadPeerResponse {
		b = appendBool(field(b, "bad_peer_response"), true)
	}
	if r.Hash != "" {
		b = appendStr(field(b, "hash"), r.Hash)
	}
	if r.Already {
		b = appendBool(field(b, "already"), true)
	}
	if r.Count != nil {
		b = strconv.AppendInt(field(b, "count"), int64(*r.Count), 10)
	}
	if r.Expiry != 0 {
		b = strconv.AppendInt(field(b, "expiry"), r.Expiry, 10)
	}
	if r.T != 0 {
		b = strconv.AppendInt(field(b, "t"), r.T, 10)
	}
	if r.Signature != "" {
		b = appendStr(field(b, "signature"), r.Signature)
	}
	return append(b, '}'), true
}

// appendJSON appends t and hf, as json.Marshal writes them embedded.
func (m *Misc) appendJSON(b []byte) []byte {
	if m.T != 0 {
		b = strconv.AppendInt(field(b, "t"), m.T, 10)
	}
	if len(m.HF) > 0 {
		b = append(field(b, "hf"), '[')
		for i, v := range m.HF {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(v), 10)
		}
		b = append(b, ']')
	}
	return b
}

// AppendJSON appends the results' JSON, as json.Marshal writes it (the
// members by key, in order), to b; ok is false (and b as it was) when a
// member's result is not one MemberResult.AppendJSON writes.
func (r *SwarmResults) AppendJSON(b []byte) ([]byte, bool) {
	start := len(b)
	b = append(b, '{')
	if r.Hash != "" {
		b = appendStr(field(b, "hash"), r.Hash)
	}
	b = field(b, "swarm")
	if r.Swarm == nil {
		b = append(b, "null"...)
	} else {
		keys := make([]string, 0, len(r.Swarm))
		for k := range r.Swarm {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendStr(b, k), ':')
			m := r.Swarm[k]
			var ok bool
			if b, ok = m.AppendJSON(b); !ok {
				return b[:start], false
			}
		}
		b = append(b, '}')
	}
	b = r.Misc.appendJSON(b)
	return append(b, '}'), true
}

// AppendJSON appends the result's JSON, as json.Marshal writes it, to b.
func (r *RetrieveResult) AppendJSON(b []byte) []byte {
	b = append(b, `{"messages":`...)
	if r.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Messages {
			m := &r.Messages[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"hash":`...)
			b = appendStr(b, m.Hash)
			b = strconv.AppendInt(append(b, `,"timestamp":`...), m.Timestamp, 10)
			b = strconv.AppendInt(append(b, `,"expiration":`...), m.Expiration, 10)
			b = appendStr(append(b, `,"data":`...), m.Data)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendBool(append(b, `,"more":`...), r.More)
	b = r.Misc.appendJSON(b)
	return append(b, '}')
}

// plainField reads t or hf.
func (m *Misc) plainField(data, k []byte, i int) (int, bool) {
	switch string(k) {
	case "t":
		v, end, ok := plainValue(data, i)
		return end, ok && plainInt64(v, &m.T)
	case "hf":
		hf := make([]int, 0, 2)
		end, ok := arrayAt(data, i, func(i int) (int, bool) {
			v, end, ok := plainValue(data, i)
			var n int
			ok = ok && plainIntField(v, &n)
			hf = append(hf, n)
			return end, ok
		})
		m.HF = hf
		return end, ok
	}
	return 0, false
}

// DecodeSwarmResults reads the swarm's results (store's and the like's
// body) into r, as json.Unmarshal does (plain: members' results as
// DecodeMemberResult reads them by hand; r's Swarm nil).
func DecodeSwarmResults(data []byte, r *SwarmResults) error {
	q := *r
	if q.Swarm == nil && q.plain(data) {
		*r = q
		return nil
	}
	return json.Unmarshal(data, r)
}

// plain reads plain results into q.
func (q *SwarmResults) plain(data []byte) bool {
	return plainWhole(data, func(k []byte, i int) (int, bool) {
		switch string(k) {
		case "hash":
			v, end, ok := plainValue(data, i)
			return end, ok && plainStr(v, &q.Hash)
		case "swarm":
			if q.Swarm == nil { // a second "swarm" adds to the first, as in encoding/json
				q.Swarm = map[string]MemberResult{}
			}
			return objectAt(data, i, func(key []byte, i int) (int, bool) {
				var m MemberResult
				end, ok := objectAt(data, i, func(k []byte, i int) (int, bool) {
					v, end, ok := plainValue(data, i)
					if ok && string(k) == "hash" && len(v) >= 2 && v[0] == '"' && string(v[1:len(v)-1]) == q.Hash {
						m.Hash = q.Hash // each member names the hash stored: one string for all
						return end, true
					}
					return end, ok && m.plainField(k, v)
				})
				q.Swarm[string(key)] = m
				return end, ok
			})
		}
		return q.Misc.plainField(data, k, i)
	})
}

// DecodeRetrieveResult reads retrieve's body into r, as json.Unmarshal
// does (plain; r's Messages nil).
func DecodeRetrieveResult(data []byte, r *RetrieveResult) error {
	q := *r
	if q.Messages == nil && q.plain(data) {
		*r = q
		return nil
	}
	return json.Unmarshal(data, r)
}

// plain reads a plain result into q.
func (q *RetrieveResult) plain(data []byte) bool {
	return plainWhole(data, func(k []byte, i int) (int, bool) {
		switch string(k) {
		case "messages":
			q.Messages = []Message{}
			return arrayAt(data, i, func(i int) (int, bool) {
				var m Message
				end, ok := objectAt(data, i, func(k []byte, i int) (int, bool) {
					v, end, ok := plainValue(data, i)
					if !ok {
						return 0, false
					}
					switch string(k) {
					case "hash":
						return end, plainStr(v, &m.Hash)
					case "timestamp":
						return end, plainInt64(v, &m.Timestamp)
					case "expiration":
						return end, plainInt64(v, &m.Expiration)
					case "data":
						return end, plainStr(v, &m.Data)
					}
					return 0, false
				})
				q.Messages = append(q.Messages, m)
				return end, ok
			})
		case "more":
			v, end, ok := plainValue(data, i)
			return end, ok && plainBool(v, &q.More)
		}
		return q.Misc.plainField(data, k, i)
	})
}

// plainWhole reads a plain object that is the whole of data.
func plainWhole(data []byte, f func(key []byte, i int) (int, bool)) bool {
	end, ok := objectAt(data, 0, f)
	return ok && end == len(data)
}

// MarshalParams is json.Marshal of a method's params: store's and
// retrieve's written by hand, byte for byte as json.Marshal writes them.
func MarshalParams(v any) ([]byte, error) {
	switch p := v.(type) {
	case StoreParams:
		n := len(p.Pubkey) + len(p.Data) + len(p.PubkeyEd25519) + len(p.Signature) + len(p.Subaccount) + len(p.SubaccountSig)
		return p.AppendJSON(make([]byte, 0, n+plainSlack)), nil
	case RetrieveParams:
		n := len(p.Pubkey) + len(p.LastHash) + len(p.LastHashCamel) + len(p.PubkeyEd25519) + len(p.Signature) + len(p.Subaccount) + len(p.SubaccountSig)
		return p.AppendJSON(make([]byte, 0, n+plainSlack)), nil
	}
	return json.Marshal(v)
}

// plainSlack is room for an object's keys and numbers beside its strings:
// a buffer made once, not grown.
const plainSlack = 256

func (r *MemberResult) size() int {
	return len(r.Reason) + len(r.Hash) + len(r.Signature) + plainSlack
}

// MarshalResult is json.Marshal of a member's result, the swarm's results
// or retrieve's result, written by hand; ok is false for any other value,
// and for results MemberResult.AppendJSON does not write.
func MarshalResult(v any) ([]byte, bool) {
	switch r := v.(type) {
	case MemberResult:
		return r.AppendJSON(make([]byte, 0, r.size()))
	case SwarmResults:
		n := len(r.Hash) + plainSlack
		for k, m := range r.Swarm {
			n += len(k) + m.size()
		}
		return r.AppendJSON(make([]byte, 0, n))
	case RetrieveResult:
		n := plainSlack
		for i := range r.Messages {
			n += len(r.Messages[i].Hash) + len(r.Messages[i].Data) + 96
		}
		return r.AppendJSON(make([]byte, 0, n)), true
	}
	return nil, false
}

func (a *Auth) appendJSON(b []byte, s *SubAuth) []byte {
	if a.PubkeyEd25519 != "" {
		b = appendStr(field(b, "pubkey_ed25519"), a.PubkeyEd25519)
	}
	if a.Signature != "" {
		b = appendStr(field(b, "signature"), a.Signature)
	}
	if s.Subaccount != "" {
		b = appendStr(field(b, "subaccount"), s.Subaccount)
	}
	if s.SubaccountSig != "" {
		b = appendStr(field(b, "subaccount_sig"), s.SubaccountSig)
	}
	return b
}

// AppendJSON appends the params' JSON, as json.Marshal writes it, to b.
func (p *StoreParams) AppendJSON(b []byte) []byte {
	b = appendStr(append(b, `{"pubkey":`...), p.Pubkey)
	b = strconv.AppendInt(append(b, `,"timestamp":`...), p.Timestamp, 10)
	if p.TTL != 0 {
		b = strconv.AppendInt(field(b, "ttl"), p.TTL, 10)
	}
	if p.Expiry != 0 {
		b = strconv.AppendInt(field(b, "expiry"), p.Expiry, 10)
	}
	b = appendStr(field(b, "data"), p.Data)
	if p.Namespace != 0 {
		b = strconv.AppendInt(field(b, "namespace"), int64(p.Namespace), 10)
	}
	if p.SigTS != 0 {
		b = strconv.AppendInt(field(b, "sig_timestamp"), p.SigTS, 10)
	}
	return append(p.Auth.appendJSON(b, &p.SubAuth), '}')
}

// AppendJSON appends the params' JSON, as json.Marshal writes it, to b.
func (p *RetrieveParams) AppendJSON(b []byte) []byte {
	b = appendStr(append(b, `{"pubkey":`...), p.Pubkey)
	if p.Namespace != 0 {
		b = strconv.AppendInt(field(b, "namespace"), int64(p.Namespace), 10)
	}
	if p.LastHash != "" {
		b = appendStr(field(b, "last_hash"), p.LastHash)
	}
	if p.LastHashCamel != "" {
		b = appendStr(field(b, "lastHash"), p.LastHashCamel)
	}
	if p.MaxCount != 0 {
		b = strconv.AppendInt(field(b, "max_count"), int64(p.MaxCount), 10)
	}
	if p.MaxSize != 0 {
		b = strconv.AppendInt(field(b, "max_size"), int64(p.MaxSize), 10)
	}
	b = strconv.AppendInt(field(b, "timestamp"), p.Timestamp, 10)
	return append(p.Auth.appendJSON(b, &p.SubAuth), '}')
}
