package community_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
)

// Known answers from session-desktop
// ts/test/session/unit/crypto/OpenGroupAuthentication_test.ts: one account,
// one server key, one nonce and timestamp, GET
// /room/the-best-room/messages/recent?limit=25 with and without a body.
// The unblinded signatures are plain Ed25519, so they must match to the
// byte; the desktop's blinded ones take their nonce from SHA-512(seed)
// where libsession (which we follow) hashes seed || public key, so those
// must verify under the blinded key, and the key must match.
func TestXSOGSKnownAnswers(t *testing.T) {
	seed, _ := hex.DecodeString("c010d89eccbaf5d1c6d19df766c6eedf965d4a28a56f87c9fc819edb59896dd9")
	server, _ := hex.DecodeString("c3b3c6f32f0ab5a57f853cc4f30f5da7fda5624b0c77b3fb0829de562ada081d")
	nonce, _ := hex.DecodeString("09d0799f2295990182c3ab3406fbfc5b")
	if got := base64.StdEncoding.EncodeToString(nonce); got != "CdB5nyKVmQGCw6s0Bvv8Ww==" {
		t.Fatalf("nonce %s", got)
	}
	keys := identity.KeysFromEd25519Seed([32]byte(seed))
	if got := "00" + hex.EncodeToString(keys.Ed25519Public()); got != "00bac6e71efd7dfa4a83c98ed24f254ab2c267f9ccdb172a5280a0444ad24e89cc" {
		t.Fatalf("unblinded pubkey %s", got)
	}
	b, err := identity.Blind15(keys, server)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID() != "1598932d4bccbe595a8789d7eb1629cefc483a0eaddc7e20e8fe5c771efafd9af5" {
		t.Fatalf("blinded pubkey %s", b.ID())
	}
	const path = "/room/the-best-room/messages/recent?limit=25"
	body := []byte("This is a test message body 12345")
	for _, c := range []struct {
		body               []byte
		unblinded, blinded string
	}{
		{nil, "xxLpXHbomAJMB9AtGMyqvBsXrdd2040y+Ol/IKzElWfKJa3EYZRv1GLO6CTLhrDFUwVQe8PPltyGs54Kd7O5Cg==",
			"gYqpWZX6fnF4Gb2xQM3xaXs0WIYEI49+B8q4mUUEg8Rw0ObaHUWfoWjMHMArAtP9QlORfiydsKWz1o6zdPVeCQ=="},
		{body, "2w9zMiGPqa3RApSpVbL0zhh7cUd6Z9skbZlf2XqyDTND2aDadGOAcKpXANcOSA+zi+kmgP8+zVkDdz0JOiB1Cw==",
			"Bs680K7t2VOmbiXNX+uIPa7dDWzxKQfLk8SxdGxe2wwadFQOr9KdAetVmVQ6w4MfyHOD6WiP0JAVb4Tb8I5lAA=="},
	} {
		msg := community.SigMessage([32]byte(server), nonce, 1642472103, "GET", path, c.body)
		if got := base64.StdEncoding.EncodeToString(ed25519.Sign(keys.Ed25519, msg)); got != c.unblinded {
			t.Errorf("unblinded signature (body %v): %s, want %s", c.body != nil, got, c.unblinded)
		}
		sig, _ := base64.StdEncoding.DecodeString(c.blinded)
		if !identity.VerifyBlinded(b.Public, msg, sig) {
			t.Errorf("the desktop's blinded signature (body %v) does not verify", c.body != nil)
		}
		if !identity.VerifyBlinded(b.Public, msg, b.Sign(msg)) {
			t.Errorf("our blinded signature (body %v) does not verify", c.body != nil)
		}
	}
}

// TestSignedPathIsDecoded: the server checks X-SOGS-Signature over the
// percent-decoded path, as real clients sign it; a 25-blinded user is let
// in; and a 15-blinded key and its negation are one user (a ban holds).
func TestSignedPathIsDecoded(t *testing.T) {
	ctx := context.Background()
	key, _ := onion.NewKeyPair(rand.Reader)
	adminK, _ := identity.NewAccount(rand.Reader)
	ab, _ := identity.Blind15(adminK, key.Public[:])
	srv, err := community.New(community.Config{Dir: t.TempDir(), Key: key, Admins: []string{ab.ID()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.AddRoom(ctx, "lobby", "Lobby"); err != nil {
		t.Fatal(err)
	}
	userK, _ := identity.NewAccount(rand.Reader)
	b15, _ := identity.Blind15(userK, key.Public[:])
	b25, _ := identity.Blind25(userK, key.Public[:])
	do := func(id string, sign func([]byte) []byte, method, sent, signed string, body []byte) int {
		t.Helper()
		nonce := community.NewNonce()
		nb, _ := base64.StdEncoding.DecodeString(nonce)
		ts := time.Now().Unix()
		r, _ := http.NewRequest(method, srv.URL()+sent, bytes.NewReader(body))
		r.Header.Set("X-SOGS-Pubkey", id)
		r.Header.Set("X-SOGS-Nonce", nonce)
		r.Header.Set("X-SOGS-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-SOGS-Signature", base64.StdEncoding.EncodeToString(sign(community.SigMessage(key.Public, nb, ts, method, signed, body))))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(b15.ID(), b15.Sign, "GET", "/room/%6cobby", "/room/lobby", nil); code != 200 {
		t.Fatalf("signed decoded, sent encoded: %d, want 200", code)
	}
	if code := do(b15.ID(), b15.Sign, "GET", "/room/%6cobby", "/room/%6cobby", nil); code != 401 {
		t.Fatalf("signed encoded: %d, want 401", code)
	}
	if got := community.ClientSignedPath("/room/%6cobby?x=%20"); got != "/room/lobby?x=%20" {
		t.Fatalf("ClientSignedPath %q", got)
	}
	if code := do(b25.ID(), b25.Sign, "GET", "/room/lobby", "/room/lobby", nil); code != 200 {
		t.Fatalf("a 25-blinded user: %d, want 200", code)
	}
	// The admin bans the user by the other of its two candidate 15 IDs.
	other, _ := hex.DecodeString(b15.ID())
	other[32] ^= 0x80
	ban := []byte(`{"rooms": ["lobby"]}`)
	if code := do(ab.ID(), ab.Sign, "POST", "/user/"+hex.EncodeToString(other)+"/ban", "/user/"+hex.EncodeToString(other)+"/ban", ban); code != 200 {
		t.Fatalf("ban: %d", code)
	}
	if code := do(b15.ID(), b15.Sign, "GET", "/room/lobby", "/room/lobby", nil); code != 404 {
		t.Fatalf("banned by its negated ID, the room: %d, want 404 (pysogs hides it)", code)
	}
	if code := do(b15.ID(), b15.Sign, "GET", "/room/lobby/messages/recent", "/room/lobby/messages/recent", nil); code != 403 {
		t.Fatalf("banned by its negated ID, reading: %d, want 403", code)
	}
}
