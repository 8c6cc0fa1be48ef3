package storagerpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// realParams are params as the devnet's clients and session.js send them.
func realParams() [][]byte {
	var out [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	const pk = "05d871fc80ca007eed9b2f4df72853e2a2d5465a92fcb1889fb5c84aa2833b3b40"
	add(StoreParams{Pubkey: pk, Timestamp: 1764770000123, TTL: 1209600000, Data: "CAESvgMKA1BVVBIPL2FwaS92MS9tZXNzYWdlGqIDCAYSQjA1ZDg3MWZjODBjYTAwN2VlZDliMmY0ZGY3Mjg1M2UyYTJk"})
	add(StoreParams{Pubkey: pk, Timestamp: 1764770000123, Expiry: 1764780000123, Data: "AAEC", Namespace: 3, SigTS: 1764770000124,
		Auth: Auth{PubkeyEd25519: "8f9e2b5c1f0a4e1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e", Signature: "q2Vq0D5Z2q3mB7v0l4o9Wm4w1i3rXbYcZQm5pG3x2YwU1M3L8Yd6z0Zx9lq6w7Yt2c4Y2l5a8b9c0d1e2f3g4h=="}})
	add(RetrieveParams{Pubkey: pk, Namespace: -10, LastHash: "Vq0D5Z2q3mB7v0l4o9Wm4w1i3rXbYcZQm5pG3x2YwU1", Timestamp: 1764770000123,
		Auth: Auth{Signature: "q2Vq0D5Z2q3mB7v0l4o9Wm4w1i3r=="}, SubAuth: SubAuth{Subaccount: "0301000012", SubaccountSig: "abc="}})
	add(RetrieveParams{Pubkey: pk, MaxCount: 100, MaxSize: -5, Timestamp: 1})
	add(MemberResult{Hash: "Vq0D5Z2q3mB7v0l4o9Wm4w1i3rXbYcZQm5pG3x2YwU1", Already: true, Expiry: 1764780000123, T: 1764770000200, Signature: "sig+/="})
	add(MemberResult{Failed: true, QueryFailure: true, Code: 500, Reason: "storage failure", Timeout: true, BadPeerResponse: true})
	mr := MemberResult{Hash: "Vq0D5Z2q3mB7v0l4o9Wm4w1i3rXbYcZQm5pG3x2YwU1", Expiry: 1764780000123, Signature: "c2ln"}
	add(SwarmResults{Hash: mr.Hash, Swarm: map[string]MemberResult{"8f9e": mr, "0a1b": {Failed: true, Timeout: true}}, Misc: Misc{T: 1764770000200, HF: []int{19, 3}}})
	add(RetrieveResult{Messages: []Message{{Hash: mr.Hash, Timestamp: 1764770000123, Expiration: 1764780000123, Data: "AAEC"}, {}}, More: true, Misc: Misc{T: 1}})
	add(RetrieveResult{Messages: []Message{}})
	// session.js: its own order of keys.
	out = append(out, []byte(`{"pubkey":"`+pk+`","data":"AAEC","ttl":86400000,"timestamp":1764770000123,"namespace":0}`),
		[]byte(`{"namespace":-10,"pubkey":"`+pk+`","lastHash":"","timestamp":1764770000123,"signature":"x","pubkey_ed25519":"ab"}`),
		[]byte(`{"pubkey":"a","timestamp":1,"pubkey":"b","Timestamp":2,"count":3}`),
		[]byte(`{"namespace":40000,"timestamp":1e3,"ttl":-0,"data":null,"failed":false}`),
		[]byte(`{"data":"a\u0041<&>","expiry":01} `), []byte(`{}`), []byte(`{"x":1}`),
		[]byte(`{"swarm":{"a":{}},"swarm":{"b":{"count":1}},"hf":[],"messages":[{"hash":"x"},{}],"more":false}`))
	return out
}

// FuzzPlainParams: store's and retrieve's params and a member's result,
// read by hand, are read as encoding/json reads them: the same fields,
// and an error where it gives one.
func FuzzPlainParams(f *testing.F) {
	for _, b := range realParams() {
		f.Add(b)
	}
	// Members naming the hash stored, or not, or not as a string.
	f.Add([]byte(`{"hash":"abc","swarm":{"k1":{"hash":"abc","signature":"s"},"k2":{"hash":"abd"},"k3":{"hash":1}}}`))
	f.Add([]byte(`{"swarm":{"k1":{"hash":""}},"hash":""}`))
	f.Add([]byte(`{"hash":"","swarm":{"k1":{"hash":12}}}`))
	f.Add([]byte(`{"hash":"abc","signature":"s","expiry":1}`))
	f.Add([]byte(`{"hash":"abd","hash":"abc"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(name string, got, want any, gerr, werr error) {
			if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
				t.Fatalf("%s of %q: error %v by hand, %v by encoding/json", name, data, gerr, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s of %q: %+v by hand, %+v by encoding/json", name, data, got, want)
			}
		}
		var s1, s2 StoreParams
		check("store", s1, s2, DecodeStoreParams(data, &s1), json.Unmarshal(data, &s2))
		check("store", s1, s2, nil, nil)
		var s3 StoreParams
		text, e3 := DecodeStoreParamsData(data, &s3)
		s3.Data = string(text)
		check("store's data", s3, s2, e3, json.Unmarshal(data, &s2))
		var r1, r2 RetrieveParams
		e1, e2 := DecodeRetrieveParams(data, &r1), json.Unmarshal(data, &r2)
		check("retrieve", r1, r2, e1, e2)
		var m1, m2 MemberResult
		e1, e2 = DecodeMemberResult(data, &m1), json.Unmarshal(data, &m2)
		check("member result", m1, m2, e1, e2)
		var m3 MemberResult
		check("member result of abc", m3, m2, DecodeMemberResultOf(data, &m3, "abc"), e2)
		var w1, w2 SwarmResults
		e1, e2 = DecodeSwarmResults(data, &w1), json.Unmarshal(data, &w2)
		check("swarm results", w1, w2, e1, e2)
		var t1, t2 RetrieveResult
		e1, e2 = DecodeRetrieveResult(data, &t1), json.Unmarshal(data, &t2)
		check("retrieve result", t1, t2, e1, e2)
	})
}

// FuzzPlainResults: a member's result, the swarm's results and retrieve's
// result written by hand are byte for byte json.Marshal's, and a member's
// result reads back as encoding/json reads it.
func FuzzPlainResults(f *testing.F) {
	f.Add("Vq0D5Z2q3mB7v0l4o9Wm4w1i3rXbYcZQm5pG3x2YwU1", "sig+/=", "CAESvgMK", "8f9e2b", int64(1764780000123), int64(1764770000200), 0, true, uint8(0))
	f.Add("a<b>&\"\\\n\u2028é\xff", "", "", "", int64(-1), int64(0), 500, false, uint8(0xff))
	f.Fuzz(func(t *testing.T, hash, sig, data, key string, expiry, ts int64, code int, more bool, flags uint8) {
		bit := func(i uint) bool { return flags&(1<<i) != 0 }
		m := MemberResult{Failed: bit(0), QueryFailure: bit(1), Code: code, Reason: data, Timeout: bit(2), BadPeerResponse: bit(3),
			Hash: hash, Already: bit(4), Expiry: expiry, T: ts, Signature: sig}
		if bit(5) {
			m.Count = &code
		}
		same := func(name string, got []byte, v any) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: by hand %s, json.Marshal %s", name, got, want)
			}
		}
		b, ok := m.AppendJSON(nil)
		if !ok {
			t.Fatal("a member's result not written")
		}
		same("member result", b, m)
		var back, want MemberResult
		if err := DecodeMemberResult(b, &back); err != nil || json.Unmarshal(b, &want) != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("%s read back as %+v (%v), by encoding/json as %+v", b, back, err, want)
		}
		misc := Misc{T: ts}
		if bit(6) {
			misc.HF = []int{19, code}
		}
		sr := SwarmResults{Hash: hash, Swarm: map[string]MemberResult{key: m, sig: {Hash: data}, "": {}}, Misc: misc}
		if bit(7) {
			sr.Swarm = nil
		}
		b, ok = sr.AppendJSON([]byte("x"))
		if !ok || b[0] != 'x' {
			t.Fatal("the swarm's results not written")
		}
		same("swarm results", b[1:], sr)
		rr := RetrieveResult{More: more, Misc: misc}
		if !bit(7) {
			rr.Messages = []Message{{Hash: hash, Timestamp: ts, Expiration: expiry, Data: data}, {Hash: key}}
		}
		if bit(0) && bit(1) {
			rr.Messages = []Message{}
		}
		same("retrieve result", rr.AppendJSON(nil), rr)
		var sr1, sr2 SwarmResults
		if err := DecodeSwarmResults(b[1:], &sr1); err != nil || json.Unmarshal(b[1:], &sr2) != nil || !reflect.DeepEqual(sr1, sr2) {
			t.Fatalf("%s read back as %+v (%v), by encoding/json as %+v", b[1:], sr1, err, sr2)
		}
		b = rr.AppendJSON(nil)
		var rr1, rr2 RetrieveResult
		if err := DecodeRetrieveResult(b, &rr1); err != nil || json.Unmarshal(b, &rr2) != nil || !reflect.DeepEqual(rr1, rr2) {
			t.Fatalf("%s read back as %+v (%v), by encoding/json as %+v", b, rr1, err, rr2)
		}
		sp := StoreParams{Pubkey: key, Timestamp: ts, Data: data, Namespace: Namespace(code), Auth: Auth{Signature: sig}}
		rp := RetrieveParams{Pubkey: key, Namespace: Namespace(code), Timestamp: ts, MaxCount: code, SubAuth: SubAuth{Subaccount: hash, SubaccountSig: sig}}
		if bit(1) {
			sp.TTL, sp.SigTS, sp.Auth.PubkeyEd25519, sp.SubAuth = expiry, expiry, hash, SubAuth{hash, data}
			rp.LastHash, rp.MaxSize, rp.Auth = hash, int(expiry), Auth{data, sig}
		}
		if bit(2) {
			sp.Expiry, rp.LastHashCamel = expiry, data
		}
		for _, v := range []any{m, sr, rr} {
			b, ok := MarshalResult(v)
			if !ok {
				t.Fatalf("%+v not written by hand", v)
			}
			same("result", b, v)
		}
		if _, ok := MarshalResult(sp); ok {
			t.Fatal("params written as a result")
		}
		for _, v := range []any{sp, rp} {
			b, err := MarshalParams(v)
			if err != nil {
				t.Fatal(err)
			}
			same("params", b, v)
		}
		m.Deleted = []string{hash}
		if b, ok := m.AppendJSON([]byte("x")); ok || string(b) != "x" {
			t.Fatalf("a delete's result written by hand: %s", b)
		}
	})
}

// TestPlainByHand: params and results as real clients and nodes write them
// are read by hand, not by encoding/json.
func TestPlainByHand(t *testing.T) {
	byHand := func(b []byte) bool {
		return plainObject(b, func(k, v []byte) bool { return true }) || new(SwarmResults).plain(b) || new(RetrieveResult).plain(b)
	}
	for _, b := range realParams()[:11] {
		if !byHand(b) {
			t.Errorf("%s not read by hand", b)
		}
	}
	for _, b := range realParams()[12:14] {
		if byHand(b) {
			t.Errorf("%s read by hand", b)
		}
	}
}
