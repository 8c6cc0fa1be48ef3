package community_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/devnet/devnettest"
	"github.com/sessionctl/sessionctl/identity"
	_ "github.com/sessionctl/sessionctl/internal/sqlitedb"
)

type user struct {
	keys *identity.Keys
	c    *client.Client
	id   string // blinded for the server
}

func newUser(t *testing.T, nw *devnet.Network, k *identity.Keys, srv client.ServerInfo) *user {
	t.Helper()
	c := devnettest.Client(t, nw, k)
	b, _ := identity.Blind15(k, srv.X25519[:])
	return &user{keys: k, c: c, id: b.ID()}
}

func (u *user) do(t *testing.T, srv client.ServerInfo, method, path string, body any) (int, []byte) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	cc, err := community.NewClient(u.c, srv)
	if err != nil {
		t.Fatal(err)
	}
	code, out, err := cc.Do(context.Background(), method, path, b)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out
}

func (u *user) post(t *testing.T, srv client.ServerInfo, room, text string) (int, community.Message) {
	t.Helper()
	cc, err := community.NewClient(u.c, srv)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(cc.PostBody(text))
	code, out, err := cc.Do(context.Background(), "POST", "/room/"+room+"/message", body)
	if err != nil {
		t.Fatal(err)
	}
	var m community.Message
	json.Unmarshal(out, &m)
	return code, m
}

func TestCommunity(t *testing.T) {
	dir := t.TempDir()
	aliceK, bobK, carolK := newKeys(), newKeys(), newKeys()
	secret := [32]byte{1}
	key := devnet.CommunityKey(devnet.SecretLabel(secret))
	ab, _ := identity.Blind15(aliceK, key.Public[:])
	nw := devnettest.Start(t, devnet.Config{Dir: dir, Nodes: 7, Secret: secret, CommunityAdmins: []string{ab.ID()}})
	srv := client.ServerInfo{URL: nw.Community.URL(), X25519: key.Public}
	alice, bob, carol := newUser(t, nw, aliceK, srv), newUser(t, nw, bobK, srv), newUser(t, nw, carolK, srv)

	if code, m := alice.post(t, srv, "lobby", "welcome"); code != 201 || m.SessionID != alice.id {
		t.Fatalf("alice posts: %d %+v", code, m)
	}
	code, out := bob.do(t, srv, "GET", "/room/lobby/messages/since/0", nil)
	var msgs []community.Message
	json.Unmarshal(out, &msgs)
	if code != 200 || len(msgs) != 1 || msgs[0].SessionID != alice.id || !strings.HasPrefix(msgs[0].SessionID, "15") {
		t.Fatalf("bob reads: %d %s", code, out)
	}
	// Moderators: alice (admin) appoints bob; bob deletes carol's post and bans her.
	if code, out := bob.do(t, srv, "POST", "/user/"+carol.id+"/moderator", map[string]any{"rooms": []string{"lobby"}, "moderator": true}); code != 403 {
		t.Fatalf("a non-admin appoints: %d %s", code, out)
	}
	if code, out := alice.do(t, srv, "POST", "/user/"+bob.id+"/moderator", map[string]any{"rooms": []string{"lobby"}, "moderator": true}); code != 200 {
		t.Fatalf("alice appoints bob: %d %s", code, out)
	}
	_, spam := carol.post(t, srv, "lobby", "spam")
	if code, out := bob.do(t, srv, "DELETE", "/room/lobby/message/"+strconv.FormatInt(spam.ID, 10), nil); code != 200 {
		t.Fatalf("bob deletes: %d %s", code, out)
	}
	code, out = carol.do(t, srv, "GET", "/room/lobby/messages/since/"+strconv.FormatInt(spam.Seqno, 10), nil)
	json.Unmarshal(out, &msgs)
	if len(msgs) != 1 || !msgs[0].Deleted || msgs[0].Data != nil {
		t.Fatalf("the deletion: %s", out)
	}
	if code, _ := bob.do(t, srv, "POST", "/user/"+carol.id+"/ban", map[string]any{"rooms": []string{"lobby"}}); code != 200 {
		t.Fatalf("bob bans carol: %d", code)
	}
	if code, _ := carol.post(t, srv, "lobby", "let me back"); code != 403 {
		t.Fatalf("a banned user posts: %d", code)
	}
	bob.do(t, srv, "POST", "/user/"+carol.id+"/unban", map[string]any{"rooms": []string{"lobby"}})
	if code, _ := carol.post(t, srv, "lobby", "thanks"); code != 201 {
		t.Fatalf("an unbanned user posts: %d", code)
	}
	// Posting too fast: the sixth post in 16 s is refused.
	var last int
	for i := 0; i < 5; i++ {
		last, _ = carol.post(t, srv, "lobby", fmt.Sprint("quick ", i))
	}
	if last != 429 {
		t.Fatalf("posting too fast: %d", last)
	}
	// A message request between blinded IDs.
	if code, out := bob.do(t, srv, "POST", "/inbox/"+carol.id, map[string]string{"message": base64.StdEncoding.EncodeToString([]byte("hi carol"))}); code != 201 {
		t.Fatalf("dm: %d %s", code, out)
	}
	code, out = carol.do(t, srv, "GET", "/inbox", nil)
	var dms []community.DM
	json.Unmarshal(out, &dms)
	if len(dms) != 1 || dms[0].Sender != bob.id {
		t.Fatalf("carol's inbox: %s", out)
	}
	// Apps poll with a batch through the onion path: its answers come back
	// as pysogs's (code, headers, body).
	code, out = carol.do(t, srv, "POST", "/batch", []map[string]any{
		{"method": "GET", "path": "/capabilities"}, {"method": "GET", "path": "/room/lobby/pollInfo/0"},
		{"method": "GET", "path": "/room/lobby/messages/recent?reactors=5"}, {"method": "GET", "path": "/inbox"}})
	var subs []community.SubResponse
	json.Unmarshal(out, &subs)
	if code != 200 || len(subs) != 4 || subs[0].Code != 200 || subs[1].Code != 200 || subs[2].Code != 200 || subs[3].Code != 200 {
		t.Fatalf("a batch through the onion path: %d %s", code, out)
	}
	// Room files.
	code, out = alice.do(t, srv, "POST", "/room/lobby/file", nil)
	if code != 400 {
		t.Fatalf("an empty file: %d", code)
	}
	// The server never saw a Session ID.
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "community", "community.db")+"?_pragma=busy_timeout(5000)")
	defer db.Close()
	for _, k := range []*identity.Keys{aliceK, bobK, carolK} {
		var n int
		db.QueryRow(`SELECT (SELECT count(*) FROM messages WHERE session_id = ?) + (SELECT count(*) FROM inbox WHERE sender = ? OR recipient = ?)`,
			k.AccountID().String(), k.AccountID().String(), k.AccountID().String()).Scan(&n)
		if n != 0 {
			t.Fatal("the server stores a Session ID")
		}
	}
}

func newKeys() *identity.Keys {
	k, _ := identity.NewAccount(rand.Reader)
	return k
}

// TestAuthStatuses: straight to the server (no onion), the X-SOGS rules.
func TestAuthStatuses(t *testing.T) {
	key := devnet.CommunityKey("auth")
	srv, err := community.New(community.Config{Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddRoom(ctx, "lobby", "Lobby")
	k := newKeys()
	b, _ := identity.Blind15(k, key.Public[:])
	req := func(nonce string, ts int64, sigBy *identity.Blinded) int {
		path := "/room/lobby/messages/since/0"
		nb, _ := base64.StdEncoding.DecodeString(nonce)
		sig := sigBy.Sign(community.SigMessage(key.Public, nb, ts, "GET", path, nil))
		r, _ := http.NewRequest("GET", srv.URL()+path, nil)
		r.Header.Set("X-SOGS-Pubkey", b.ID())
		r.Header.Set("X-SOGS-Nonce", nonce)
		r.Header.Set("X-SOGS-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-SOGS-Signature", base64.StdEncoding.EncodeToString(sig))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	other, _ := identity.Blind15(newKeys(), key.Public[:])
	now := time.Now().Unix()
	n1 := community.NewNonce()
	for name, tc := range map[string]struct {
		got, want int
	}{
		"good":            {req(n1, now, b), 200},
		"reused nonce":    {req(n1, now, b), 425},
		"stale":           {req(community.NewNonce(), now-25*3600, b), 425},
		"from the future": {req(community.NewNonce(), now+25*3600, b), 425},
		"bad signature":   {req(community.NewNonce(), now, other), 401},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %d, want %d", name, tc.got, tc.want)
		}
	}
	// Without authentication a public room reads (pysogs: the room's
	// default_read), and nothing is written.
	resp, _ := http.Get(srv.URL() + "/room/lobby/messages/since/0")
	if resp.StatusCode != 200 {
		t.Errorf("reading without auth: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Post(srv.URL()+"/room/lobby/message", "application/json", strings.NewReader(`{"data":"aGk=","signature":"aGk="}`))
	if resp.StatusCode != 401 {
		t.Errorf("posting without auth: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Get(srv.URL() + "/capabilities")
	var caps map[string][]string
	json.NewDecoder(resp.Body).Decode(&caps)
	resp.Body.Close()
	if len(caps["capabilities"]) == 0 {
		t.Error("no capabilities")
	}
}

// FuzzRequest feeds the request parsers: headers and bodies of any shape.
func FuzzRequest(f *testing.F) {
	f.Add("15"+strings.Repeat("ab", 32), "AAAAAAAAAAAAAAAAAAAAAA==", "1700000000", "sig", []byte(`{"data":"aGk=","signature":"x"}`))
	f.Add("", "", "", "", []byte(`{"rooms":["lobby"]}`))
	key := devnet.CommunityKey("fuzz")
	srv, _ := community.New(community.Config{Dir: f.TempDir(), Key: key})
	if err := srv.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	srv.AddRoom(context.Background(), "lobby", "")
	f.Fuzz(func(t *testing.T, pk, nonce, ts, sig string, body []byte) {
		for _, p := range []string{"/room/lobby/message", "/user/" + pk + "/ban", "/inbox/" + pk} {
			r, err := http.NewRequest("POST", srv.URL()+p, bytes.NewReader(body))
			if err != nil {
				continue
			}
			for h, v := range map[string]string{"X-SOGS-Pubkey": pk, "X-SOGS-Nonce": nonce, "X-SOGS-Timestamp": ts, "X-SOGS-Signature": sig} {
				if !strings.ContainsAny(v, "\r\n\x00") {
					r.Header.Set(h, v)
				}
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 201 || resp.StatusCode >= 500 {
				t.Fatalf("%s with junk: %d", p, resp.StatusCode)
			}
		}
	})
}

// BenchmarkPost: room posts through the onion path, one after another.
func BenchmarkPost(b *testing.B) {
	secret := [32]byte{1}
	key := devnet.CommunityKey(devnet.SecretLabel(secret))
	k := newKeys()
	ab, _ := identity.Blind15(k, key.Public[:])
	nw := devnettest.Start(b, devnet.Config{Nodes: 7, Secret: secret, CommunityAdmins: []string{ab.ID()}})
	srv := client.ServerInfo{URL: nw.Community.URL(), X25519: key.Public}
	c := devnettest.Client(b, nw, k)
	b.ResetTimer()
	for b.Loop() {
		cc, _ := community.NewClient(c, srv)
		body, _ := json.Marshal(cc.PostBody("benchmark post"))
		code, _, err := cc.Do(context.Background(), "POST", "/room/lobby/message", body)
		if err != nil || code != 201 {
			b.Fatalf("%d %v", code, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// TestOneUserOneID: the same key spelled in upper-case hex is the same
// user (a nonce cannot be reused, the post limit counts both spellings, a
// ban holds, made by either sign of the ID); an unblinded 00 key is
// refused, as pysogs refuses it when it requires blinded IDs.
func TestOneUserOneID(t *testing.T) {
	key := devnet.CommunityKey("canon")
	adminK, userK := newKeys(), newKeys()
	ab, _ := identity.Blind15(adminK, key.Public[:])
	srv, err := community.New(community.Config{Dir: t.TempDir(), Key: key, Admins: []string{strings.ToUpper(ab.ID())}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddRoom(ctx, "lobby", "Lobby")
	ub, _ := identity.Blind15(userK, key.Public[:])
	type signer struct {
		pubkey string
		sign   func([]byte) []byte
	}
	blinded := signer{ub.ID(), ub.Sign}
	upper := signer{strings.ToUpper(ub.ID()), ub.Sign}
	unblinded := signer{"00" + fmt.Sprintf("%x", userK.Ed25519Public()), func(m []byte) []byte { return ed25519Sign(userK, m) }}
	admin := signer{ab.ID(), ab.Sign}
	do := func(s signer, nonce, method, path string, body []byte) int {
		t.Helper()
		nb, _ := base64.StdEncoding.DecodeString(nonce)
		ts := time.Now().Unix()
		r, _ := http.NewRequest(method, srv.URL()+path, bytes.NewReader(body))
		r.Header.Set("X-SOGS-Pubkey", s.pubkey)
		r.Header.Set("X-SOGS-Nonce", nonce)
		r.Header.Set("X-SOGS-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-SOGS-Signature", base64.StdEncoding.EncodeToString(s.sign(community.SigMessage(key.Public, nb, ts, method, path, body))))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	post := func(s signer, text string) int {
		body, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString([]byte(text)),
			"signature": base64.StdEncoding.EncodeToString(s.sign([]byte(text)))})
		return do(s, community.NewNonce(), "POST", "/room/lobby/message", body)
	}
	if code := post(unblinded, "unblinded"); code != 400 {
		t.Fatalf("an unblinded 00 key: %d, want 400", code)
	}
	// Five posts within the window, in two spellings: the sixth is over.
	for i, s := range []signer{blinded, upper, blinded, upper, blinded} {
		if code := post(s, fmt.Sprint("post ", i)); code != 201 {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	if code := post(upper, "sixth"); code != 429 {
		t.Fatalf("the sixth post in another spelling: %d, want 429", code)
	}
	n := community.NewNonce()
	if code := do(blinded, n, "GET", "/room/lobby", nil); code != 200 {
		t.Fatalf("get room: %d", code)
	}
	if code := do(upper, n, "GET", "/room/lobby", nil); code != 425 {
		t.Fatalf("a nonce reused in upper case: %d, want 425", code)
	}
	// The admin (configured in upper case) bans the user by the negation
	// of its ID.
	neg, _ := hex.DecodeString(ub.ID())
	neg[32] ^= 0x80
	ban, _ := json.Marshal(map[string][]string{"rooms": {"lobby"}})
	if code := do(admin, community.NewNonce(), "POST", "/user/"+hex.EncodeToString(neg)+"/ban", ban); code != 200 {
		t.Fatalf("ban: %d", code)
	}
	for name, s := range map[string]signer{"blinded": blinded, "upper": upper} {
		if code := do(s, community.NewNonce(), "GET", "/room/lobby/messages/since/0", nil); code != 403 {
			t.Errorf("banned user, %s: %d, want 403", name, code)
		}
	}
}

func ed25519Sign(k *identity.Keys, m []byte) []byte { return ed25519.Sign(k.Ed25519, m) }
