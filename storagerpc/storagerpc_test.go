package storagerpc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"golang.org/x/crypto/blake2b"
)

// TestSnodeAddress: a node's Lokinet address is its key in z-base-32.
// Known answers: oxen-encoding tests/test_encoding.cpp, "base32z
// encoding/decoding".
func TestSnodeAddress(t *testing.T) {
	key, _ := hex.DecodeString("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if got := SnodeAddress(key); got != "yrtwk3hjixg66yjdeiuauk6p7hy1gtm8tgih55abrpnsxnpm3zzo.snode" {
		t.Errorf("address %q", got)
	}
	if got := SnodeAddress(make([]byte, 5)); got != "yyyyyyyy.snode" {
		t.Errorf("five zero bytes: %q", got)
	}
	if got := SnodeAddress([]byte("Hello")); got != "jb1sa5dx.snode" {
		t.Errorf("Hello: %q", got)
	}
	if got := SnodeAddress([]byte{0, 0xff}); got != "yd9o.snode" {
		t.Errorf("00ff: %q", got)
	}
	if got := SnodeAddress(bytes.Repeat([]byte{0xff}, 32)); len(got) != 52+len(".snode") {
		t.Errorf("a 32-byte key gives %d characters", len(got))
	}
}

// TestNamespaceClasses: the storage server's namespace classes
// (oxenss/common/namespace.h) and TTL limits (oxenss/rpc/request_handler.h).
func TestNamespaceClasses(t *testing.T) {
	for _, tc := range []struct {
		ns                                      Namespace
		public, outbox, noAuthRead, unrevocable bool
		maxTTL                                  time.Duration
	}{
		{0, true, false, false, false, 14 * 24 * time.Hour},
		{-10, true, false, true, false, 14 * 24 * time.Hour},
		{400, true, false, false, false, 14 * 24 * time.Hour},
		{2, false, false, false, false, 30 * 24 * time.Hour},
		{11, false, false, false, false, 30 * 24 * time.Hour},
		{-1, false, true, true, false, 30 * 24 * time.Hour},
		{-21, false, true, true, false, 30 * 24 * time.Hour},
		{-981, false, true, true, false, 30 * 24 * time.Hour},
		{-11, false, false, false, true, 30 * 24 * time.Hour},
		{-211, false, false, false, true, 30 * 24 * time.Hour},
		{-12311, false, false, false, true, 30 * 24 * time.Hour},
		{-111, false, false, false, true, 30 * 24 * time.Hour},
		{-32768, false, false, false, false, 30 * 24 * time.Hour},
		{32767, false, false, false, false, 30 * 24 * time.Hour},
	} {
		if tc.ns.Public() != tc.public || tc.ns.PublicOutbox() != tc.outbox || tc.ns.NoAuthRetrieve() != tc.noAuthRead ||
			tc.ns.Unrevocable() != tc.unrevocable || tc.ns.MaxTTL() != tc.maxTTL {
			t.Errorf("namespace %d: public %v, outbox %v, no-auth read %v, unrevocable %v, max ttl %v", tc.ns,
				tc.ns.Public(), tc.ns.PublicOutbox(), tc.ns.NoAuthRetrieve(), tc.ns.Unrevocable(), tc.ns.MaxTTL())
		}
	}
}

// FuzzEncodeJSON: EncodeRequest and Response.AppendJSON write what
// json.Marshal writes of a Request and a Response, for any method and any
// body json.Marshal made.
func FuzzEncodeJSON(f *testing.F) {
	f.Add("store", "hello", 200)
	f.Add("get_swarm", `<a href="x">&"\u2028`, 421)
	f.Add("odd method\x00é", "", 0)
	f.Fuzz(func(t *testing.T, method, text string, code int) {
		for _, raw := range []json.RawMessage{nil, mustMarshal(t, text), mustMarshal(t, map[string]any{"pubkey": text, "n": code, "list": []string{text, method}})} {
			want, err := json.Marshal(Request{Method: method, Params: raw})
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodeRequest(method, raw); !bytes.Equal(got, want) {
				t.Fatalf("EncodeRequest(%q, %s) = %s, want %s", method, raw, got, want)
			}
			r := Response{Code: code, Body: raw}
			if want, err = json.Marshal(r); err != nil {
				t.Fatal(err)
			}
			if got := r.AppendJSON([]byte("x")); !bytes.Equal(got[1:], want) || got[0] != 'x' {
				t.Fatalf("AppendJSON = %s, want x%s", got, want)
			}
		}
	})
}

func mustMarshal(t *testing.T, v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzEnvelope: an answer's envelope read by hand is read by encoding/json
// the same way.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`{"code":200,"body":{"hash":"x"}}`))
	f.Add([]byte(`{"status":-1,"body":null}`))
	f.Add([]byte(`{"code":007,"body":"x"}`))
	f.Add([]byte(`{"code":1,"body":{},"code":2}`))
	f.Add([]byte(`{"code":99999999999999999999,"body":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, key := range []string{"code", "status"} {
			code, body, ok := plainEnvelope(data, key)
			if !ok {
				continue
			}
			var env map[string]json.RawMessage
			var want int
			if err := json.Unmarshal(data, &env); err != nil || json.Unmarshal(env[key], &want) != nil {
				t.Fatalf("%q read by hand, refused by encoding/json: %v", data, err)
			}
			var r OnionAnswer
			if err := json.Unmarshal(data, &r); err != nil && key == "status" {
				t.Fatalf("%q read by hand, refused by encoding/json: %v", data, err)
			}
			if code != want || !bytes.Equal(body, env["body"]) || key == "status" && (r.Status != code || !bytes.Equal(r.Body, body)) {
				t.Fatalf("%q read by hand as %d %s, by encoding/json as %d %s", data, code, body, want, env["body"])
			}
		}
	})
}

// TestMessageHashFormula: MessageHash is its formula, for messages on its
// stack buffer and past it, in namespace 0 and others.
func TestMessageHashFormula(t *testing.T) {
	owner := identity.AccountID{Prefix: identity.PrefixSession, Key: [32]byte{1, 2, 3}}
	for _, size := range []int{0, 1, 1000, 2048 - 35, 2048 - 33, 2048, 5000} {
		for _, ns := range []Namespace{0, 3, -10, 32767} {
			data := bytes.Repeat([]byte{byte(size)}, size)
			h, _ := blake2b.New256(nil)
			h.Write(owner.Bytes())
			h.Write([]byte(ns.Sig()))
			h.Write(data)
			if got, want := MessageHash(owner, ns, data), base64.RawStdEncoding.EncodeToString(h.Sum(nil)); got != want {
				t.Fatalf("%d bytes in namespace %d: %s, want %s", size, ns, got, want)
			}
		}
	}
}
