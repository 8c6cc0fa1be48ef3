package community_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/community"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
)

// A community server in-process, spoken to directly over HTTP with X-SOGS
// headers, as session.js speaks to one (and as the onion exit does).

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type tsrv struct {
	t     *testing.T
	srv   *community.Server
	key   onion.KeyPair
	clock *clock
}

type tuser struct {
	keys *identity.Keys
	b    *identity.Blinded
	id   string
}

func newTUser(t *testing.T, key onion.KeyPair) *tuser {
	t.Helper()
	k, _ := identity.NewAccount(rand.Reader)
	b, err := identity.Blind15(k, key.Public[:])
	if err != nil {
		t.Fatal(err)
	}
	return &tuser{keys: k, b: b, id: b.ID()}
}

// negativeUser is a user whose 15-blinded ID has its sign bit set: the
// server used to clear it.
func negativeUser(t *testing.T, key onion.KeyPair) *tuser {
	for {
		u := newTUser(t, key)
		if u.b.Public[31]&0x80 != 0 {
			return u
		}
	}
}

func startTServer(t *testing.T, admins ...*tuser) *tsrv {
	t.Helper()
	key, _ := onion.NewKeyPair(rand.Reader)
	return startTServerKey(t, key, admins...)
}

func startTServerKey(t *testing.T, key onion.KeyPair, admins ...*tuser) *tsrv {
	t.Helper()
	clk := &clock{t: time.Now()}
	var ids []string
	for _, a := range admins {
		ids = append(ids, a.id)
	}
	srv, err := community.New(community.Config{Dir: t.TempDir(), Key: key, Admins: ids, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, r := range []string{"lobby", "games"} {
		if err := srv.AddRoom(context.Background(), r, strings.ToUpper(r[:1])+r[1:]); err != nil {
			t.Fatal(err)
		}
	}
	return &tsrv{t: t, srv: srv, key: key, clock: clk}
}

type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %q: %v", a.code, a.body, err)
	}
}

// do sends method path as u (nil: no authentication); body is []byte as
// is, or anything else as JSON.
func (s *tsrv) do(u *tuser, method, path string, body any, headers ...string) answer {
	s.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	r, err := http.NewRequest(method, s.srv.URL()+path, bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	if u != nil {
		nonce := community.NewNonce()
		nb, _ := base64.StdEncoding.DecodeString(nonce)
		ts := s.clock.Now().Unix()
		sig := u.b.Sign(community.SigMessage(s.key.Public, nb, ts, method, community.ClientSignedPath(path), b))
		r.Header.Set("X-SOGS-Pubkey", u.id)
		r.Header.Set("X-SOGS-Nonce", nonce)
		r.Header.Set("X-SOGS-Timestamp", strconv.FormatInt(ts, 10))
		r.Header.Set("X-SOGS-Signature", base64.StdEncoding.EncodeToString(sig))
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, out}
}

// post posts text as u to room and returns the status and message.
func (s *tsrv) post(u *tuser, room, text string) (int, community.Message) {
	s.t.Helper()
	data, err := community.EncodeContent(community.Content{Text: text, SentAt: 1})
	if err != nil {
		s.t.Fatal(err)
	}
	a := s.do(u, "POST", "/room/"+room+"/message", map[string]string{
		"data": base64.StdEncoding.EncodeToString(data), "signature": base64.StdEncoding.EncodeToString(u.b.Sign(data))})
	var m community.Message
	if a.code == 201 {
		a.json(s.t, &m)
	}
	return a.code, m
}

func keysOf(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCapabilities: known answer, session-pysogs tests/test_routes_general.py
// test_capabilities (with 'blind', which a server requiring blinded IDs
// adds: sogs/model/__init__.py).
func TestCapabilities(t *testing.T) {
	s := startTServer(t)
	caps := []any{"blind", "reactions", "sogs"}
	for _, c := range []struct {
		query string
		code  int
		want  map[string]any
	}{
		{"", 200, map[string]any{"capabilities": caps}},
		{"?required=sogs", 200, map[string]any{"capabilities": caps}},
		{"?required=magic", 412, map[string]any{"capabilities": caps, "missing": []any{"magic"}}},
		{"?required=magic,sogs", 412, map[string]any{"capabilities": caps, "missing": []any{"magic"}}},
		{"?required=sogs,sogs", 200, map[string]any{"capabilities": caps}},
		{"?required=reactions,blind", 200, map[string]any{"capabilities": caps}},
	} {
		a := s.do(nil, "GET", "/capabilities"+c.query, nil)
		var got map[string]any
		a.json(t, &got)
		if a.code != c.code || !reflect.DeepEqual(got, c.want) {
			t.Errorf("capabilities%s: %d %v, want %d %v", c.query, a.code, got, c.code, c.want)
		}
	}
}

func TestUnknownEndpointIsJSON404(t *testing.T) {
	s := startTServer(t)
	u := newTUser(t, s.key)
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"}, {"POST", "/room/lobby/nope"}, {"GET", "/room/nosuchroom"}, {"GET", "/room/lobby/messages/since/x"},
		{"PATCH", "/rooms"}, {"GET", "/room/lobby/message/999"},
	} {
		a := s.do(u, c.method, c.path, nil)
		var e map[string]string
		if a.code != 404 || json.Unmarshal(a.body, &e) != nil || e["error"] == "" {
			t.Errorf("%s %s: %d %q, want 404 with a JSON error", c.method, c.path, a.code, a.body)
		}
	}
}

// TestRoomObject: the keys of a room as a user, a moderator and an admin
// read it (known answer: session-pysogs tests/test_room_routes.py
// test_list, r_expected / exp_mod / exp_admin).
func TestRoomObject(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	user, mod := newTUser(t, key), negativeUser(t, key)
	if a := s.do(admin, "POST", "/user/"+mod.id+"/moderator", map[string]any{"rooms": []string{"lobby"}, "moderator": true}); a.code != 200 {
		t.Fatalf("appoint: %d %s", a.code, a.body)
	}
	base := []string{"active_users", "active_users_cutoff", "admins", "created", "info_updates", "message_sequence", "moderators", "name", "read", "token", "upload", "write"}
	defaults := []string{"default_accessible", "default_read", "default_upload", "default_write"}
	for _, c := range []struct {
		name  string
		u     *tuser
		extra []string
	}{
		{"anonymous", nil, nil},
		{"user", user, nil},
		{"moderator", mod, append([]string{"hidden_admins", "moderator"}, defaults...)},
		{"global admin", admin, append([]string{"admin", "global_admin", "global_moderator", "hidden_admins", "moderator"}, defaults...)},
	} {
		a := s.do(c.u, "GET", "/room/lobby", nil)
		want := append(append([]string{}, base...), c.extra...)
		sort.Strings(want)
		if got := keysOf(t, a.body); a.code != 200 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d keys %v, want %v", c.name, a.code, got, want)
		}
	}
	var ri community.RoomInfo
	s.do(user, "GET", "/room/lobby", nil).json(t, &ri)
	// The moderator shows exactly as it authenticated, sign bit and all.
	if !reflect.DeepEqual(ri.Moderators, []string{mod.id}) || len(ri.Admins) != 0 || ri.ActiveUsersCutoff != 604800 || !ri.Read || !ri.Write || !ri.Upload {
		t.Errorf("room as a user: %+v", ri)
	}
	if ri.InfoUpdates != 1 {
		t.Errorf("info_updates after appointing a moderator: %d, want 1", ri.InfoUpdates)
	}
	var rm community.RoomInfo
	s.do(mod, "GET", "/room/lobby", nil).json(t, &rm)
	if !reflect.DeepEqual(rm.HiddenAdmins, []string{admin.id}) {
		t.Errorf("hidden admins for a moderator: %v", rm.HiddenAdmins)
	}
	// pollInfo: details only when info_updates differs; active users count.
	s.do(user, "GET", "/room/lobby/messages/recent", nil)
	var p community.PollInfo
	a := s.do(user, "GET", "/room/lobby/pollInfo/1", nil)
	a.json(t, &p)
	if a.code != 200 || p.Details != nil || p.ActiveUsers < 1 || !p.Read || p.Token != "lobby" {
		t.Errorf("pollInfo/1: %d %s", a.code, a.body)
	}
	s.do(user, "GET", "/room/lobby/pollInfo/0", nil).json(t, &p)
	if p.Details == nil || p.Details.Token != "lobby" {
		t.Errorf("pollInfo/0 has no details")
	}
	var rooms []community.RoomInfo
	s.do(nil, "GET", "/rooms", nil).json(t, &rooms)
	if len(rooms) != 2 || rooms[0].Token != "games" || rooms[1].Token != "lobby" {
		t.Errorf("rooms: %+v", rooms)
	}
}

// TestMessageShapes: post, recent, before, since, single; deletion in a
// poll; limit over 256 clamped.
func TestMessageShapes(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	user := negativeUser(t, key)
	code, m := s.post(user, "lobby", "first")
	if code != 201 || m.SessionID != user.id || m.Seqno != 1 || m.Reactions == nil || len(*m.Reactions) != 0 {
		t.Fatalf("post: %d %+v", code, m)
	}
	a := s.do(user, "GET", "/room/lobby/message/"+strconv.FormatInt(m.ID, 10), nil)
	if got := keysOf(t, a.body); !reflect.DeepEqual(got, []string{"data", "id", "posted", "reactions", "seqno", "session_id", "signature"}) {
		t.Errorf("a message's keys: %v", got)
	}
	if ct := (&m).Content(); ct.Text != "first" {
		t.Errorf("content: %+v", ct)
	}
	for i := 0; i < 270; i++ { // an admin is not rate limited
		if code, _ := s.post(admin, "lobby", fmt.Sprint("post ", i)); code != 201 {
			t.Fatalf("admin post %d: %d", i, code)
		}
	}
	var list []community.Message
	for _, c := range []struct {
		path  string
		n     int
		first int64
	}{
		{"/room/lobby/messages/recent", 100, 271},
		{"/room/lobby/messages/recent?limit=1000", 256, 271},
		{"/room/lobby/messages/recent?limit=0", 1, 271},
		{"/room/lobby/messages/before/10?limit=3", 3, 9},
		{"/room/lobby/messages/since/0?limit=5000", 256, 1},
		{"/room/lobby/messages/since/270", 1, 271},
	} {
		a := s.do(user, "GET", c.path, nil)
		a.json(t, &list)
		if a.code != 200 || len(list) != c.n || list[0].ID != c.first {
			t.Errorf("%s: %d, %d messages from %v; want %d from %d", c.path, a.code, len(list), list[0].ID, c.n, c.first)
		}
	}
	if a := s.do(user, "GET", "/room/lobby/messages/recent?limit=x", nil); a.code != 400 {
		t.Errorf("limit=x: %d", a.code)
	}
	// A deletion reaches a poller as data null, deleted true, no signature.
	if a := s.do(user, "DELETE", "/room/lobby/message/"+strconv.FormatInt(m.ID, 10), nil); a.code != 200 || string(bytes.TrimSpace(a.body)) != "{}" {
		t.Fatalf("delete: %d %s", a.code, a.body)
	}
	a = s.do(user, "GET", "/room/lobby/messages/since/271", nil)
	var raw []map[string]any
	a.json(t, &raw)
	if len(raw) != 1 || raw[0]["deleted"] != true || raw[0]["data"] != nil || raw[0]["signature"] != nil {
		t.Fatalf("deletion in a poll: %s", a.body)
	}
	if _, ok := raw[0]["data"]; !ok {
		t.Errorf("a deletion has no data key: %s", a.body)
	}
	if a := s.do(user, "GET", "/room/lobby/messages/recent?limit=1", nil); bytes.Contains(a.body, []byte(`"id":1,`)) {
		t.Errorf("recent shows a deleted message")
	}
}

// TestReactions: known answer, session-pysogs tests/test_reactions.py
// test_reactions (its first steps): each new reaction moves the message's
// seqno by one; adding one again is "added": false; without t=r a poll
// has no reaction-only updates, with it one holding only id, seqno and
// reactions.
func TestReactions(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	user, user2 := newTUser(t, key), newTUser(t, key)
	var ids []int64
	for i := 1; i <= 10; i++ {
		_, m := s.post(admin, "lobby", fmt.Sprint("fake data ", i))
		ids = append(ids, m.ID)
	}
	seqno := int64(10)
	four := fmt.Sprintf("/room/lobby/reaction/%d/", ids[3])
	for _, x := range []string{"🖕", "🍆", "f", "y/n", "abcdefghijkl"} {
		seqno++
		a := s.do(user, "PUT", four+url.PathEscape(x), map[string]any{})
		if a.code != 200 || strings.TrimSpace(string(a.body)) != fmt.Sprintf(`{"added":true,"seqno":%d}`, seqno) {
			t.Fatalf("react %s: %d %s", x, a.code, a.body)
		}
	}
	if a := s.do(user2, "GET", "/room/lobby/messages/since/10", nil); strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("since without t=r: %s", a.body)
	}
	a := s.do(user2, "GET", "/room/lobby/messages/since/10?t=r", nil)
	var raw []json.RawMessage
	a.json(t, &raw)
	if len(raw) != 1 || !reflect.DeepEqual(keysOf(t, raw[0]), []string{"id", "reactions", "seqno"}) {
		t.Fatalf("since with t=r: %s", a.body)
	}
	if a := s.do(user, "PUT", four+url.PathEscape("🖕"), map[string]any{}); strings.TrimSpace(string(a.body)) != fmt.Sprintf(`{"added":false,"seqno":%d}`, seqno) {
		t.Errorf("again: %s", a.body)
	}
	s.do(user2, "PUT", four+url.PathEscape("🖕"), map[string]any{})
	var m community.Message
	s.do(user2, "GET", fmt.Sprintf("/room/lobby/message/%d?reactors=1", ids[3]), nil).json(t, &m)
	want := map[string]community.Reaction{
		"🖕": {Index: 0, Count: 2, Reactors: []string{user.id}, You: true}, "🍆": {Index: 1, Count: 1, Reactors: []string{user.id}},
		"f": {Index: 2, Count: 1, Reactors: []string{user.id}}, "y/n": {Index: 3, Count: 1, Reactors: []string{user.id}},
		"abcdefghijkl": {Index: 4, Count: 1, Reactors: []string{user.id}},
	}
	if m.Reactions == nil || !reflect.DeepEqual(*m.Reactions, want) {
		t.Errorf("reactions: %+v", m.Reactions)
	}
	var who [][2]any
	s.do(user, "GET", fmt.Sprintf("/room/lobby/reactors/%d/%s", ids[3], url.PathEscape("🖕")), nil).json(t, &who)
	if len(who) != 2 || who[0][0] != user.id || who[1][0] != user2.id {
		t.Errorf("reactors: %v", who)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"PUT", "/room/lobby/reaction/999/x", 404},                       // no such message
		{"PUT", four + "abcdefghijklm", 400},                             // 13 characters
		{"DELETE", four + "f", 200},                                      // removed
		{"DELETE", fmt.Sprintf("/room/lobby/reactions/%d", ids[3]), 403}, // moderators only
	} {
		if a := s.do(user, c.method, c.path, map[string]any{}); a.code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, a.code, a.body, c.code)
		}
	}
	if a := s.do(nil, "PUT", four+"x", map[string]any{}); a.code != 401 {
		t.Errorf("reaction without a user: %d", a.code)
	}
	a = s.do(admin, "DELETE", fmt.Sprintf("/room/lobby/reactions/%d", ids[3]), nil)
	var cleared map[string]int64
	a.json(t, &cleared)
	if a.code != 200 || cleared["removed"] != 5 {
		t.Errorf("a moderator clears: %d %s", a.code, a.body)
	}
}

func TestPins(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	user := newTUser(t, key)
	_, m := s.post(user, "lobby", "pin me")
	path := fmt.Sprintf("/room/lobby/pin/%d", m.ID)
	if a := s.do(user, "POST", path, map[string]any{}); a.code != 403 {
		t.Errorf("a user pins: %d", a.code)
	}
	a := s.do(admin, "POST", path, map[string]any{})
	if a.code != 200 || strings.TrimSpace(string(a.body)) != `{"info_updates":1}` {
		t.Fatalf("pin: %d %s", a.code, a.body)
	}
	var ri community.RoomInfo
	s.do(user, "GET", "/room/lobby", nil).json(t, &ri)
	if len(ri.PinnedMessages) != 1 || ri.PinnedMessages[0].ID != m.ID || ri.PinnedMessages[0].PinnedBy != admin.id {
		t.Errorf("pinned_messages: %+v", ri.PinnedMessages)
	}
	a = s.do(admin, "POST", fmt.Sprintf("/room/lobby/unpin/%d", m.ID), map[string]any{})
	if strings.TrimSpace(string(a.body)) != `{"info_updates":2,"unpinned":true}` {
		t.Errorf("unpin: %s", a.body)
	}
	a = s.do(admin, "POST", "/room/lobby/unpin/all", map[string]any{})
	if strings.TrimSpace(string(a.body)) != `{"info_updates":2,"unpinned":0}` {
		t.Errorf("unpin all: %s", a.body)
	}
}

func TestRoomFiles(t *testing.T) {
	s := startTServer(t)
	user := newTUser(t, s.key)
	a := s.do(user, "POST", "/room/lobby/file", []byte("hello file"), "Content-Type", "application/octet-stream",
		"Content-Disposition", "attachment; filename*=UTF-8''caf%c3%a9%20%f0%9f%8e%82.txt")
	var up map[string]int64
	a.json(t, &up)
	if a.code != 201 || up["id"] == 0 {
		t.Fatalf("upload: %d %s", a.code, a.body)
	}
	a = s.do(user, "GET", fmt.Sprintf("/room/lobby/file/%d", up["id"]), nil)
	// pysogs keeps the name with a run of what is not a letter, digit or
	// +-.'()@[] made "_" (UPLOAD_FILENAME_BAD: " 🎂"), and names it RFC 5987
	// style.
	if a.code != 200 || string(a.body) != "hello file" || a.header.Get("Content-Disposition") != "attachment; filename*=UTF-8''caf%C3%A9_.txt" ||
		a.header.Get("Content-Length") != "10" || a.header.Get("Expires") == "" {
		t.Errorf("download: %d %q %v", a.code, a.body, a.header)
	}
	if a := s.do(nil, "GET", fmt.Sprintf("/room/lobby/file/%d/any-name.txt", up["id"]), nil); a.code != 200 {
		t.Errorf("download with a name: %d", a.code)
	}
	if a := s.do(user, "GET", fmt.Sprintf("/room/games/file/%d", up["id"]), nil); a.code != 404 {
		t.Errorf("another room's file: %d", a.code)
	}
	if a := s.do(user, "POST", "/room/lobby/file", []byte{}); a.code != 400 {
		t.Errorf("an empty file: %d", a.code)
	}
	if a := s.do(user, "POST", "/room/lobby/file", make([]byte, 10_000_001)); a.code != 413 {
		t.Errorf("a file over 10 MB: %d", a.code)
	}
	s.clock.Add(16 * 24 * time.Hour)
	if a := s.do(nil, "GET", fmt.Sprintf("/room/lobby/file/%d", up["id"]), nil); a.code != 404 {
		t.Errorf("an expired file: %d", a.code)
	}
}

// TestBatch: known answer for the shape, session-pysogs
// tests/test_routes_general.py test_batch/test_sequence: each answer is
// {code, headers: {content-type}, body}, JSON as JSON and anything else
// base64; a sequence stops after the first failure.
func TestBatch(t *testing.T) {
	s := startTServer(t)
	user := newTUser(t, s.key)
	data, _ := community.EncodeContent(community.Content{Text: "from a batch", SentAt: 1})
	post := map[string]string{"data": base64.StdEncoding.EncodeToString(data), "signature": base64.StdEncoding.EncodeToString(user.b.Sign(data))}
	s.do(user, "POST", "/room/lobby/file", []byte("abcdef"))
	reqs := []map[string]any{
		{"method": "GET", "path": "/capabilities"},
		{"method": "GET", "path": "/capabilities?required=magic"},
		{"method": "POST", "path": "/room/lobby/message", "json": post},
		{"method": "GET", "path": "/room/lobby/file/1"},
		{"method": "GET", "path": "/room/lobby/messages/since/0?t=r&reactors=5"},
	}
	var got []community.SubResponse
	a := s.do(user, "POST", "/batch", reqs)
	a.json(t, &got)
	if a.code != 200 || len(got) != 5 {
		t.Fatalf("batch: %d %s", a.code, a.body)
	}
	for i, want := range []struct {
		code  int
		ctype string
		body  string
	}{
		{200, "application/json", `{"capabilities":["blind","reactions","sogs"]}`},
		{412, "application/json", `{"capabilities":["blind","reactions","sogs"],"missing":["magic"]}`},
		{201, "application/json", ""},
		{200, "application/octet-stream", `"YWJjZGVm"`},
		{200, "application/json", ""},
	} {
		if got[i].Code != want.code || got[i].Headers["content-type"] != want.ctype || (want.body != "" && string(got[i].Body) != want.body) {
			t.Errorf("subrequest %d: %d %v %s", i, got[i].Code, got[i].Headers, got[i].Body)
		}
	}
	a = s.do(user, "POST", "/sequence", reqs)
	a.json(t, &got)
	if len(got) != 2 || got[1].Code != 412 {
		t.Errorf("sequence: %s", a.body)
	}
	// Malformed: refused whole, nothing done.
	var before []community.Message
	s.do(user, "GET", "/room/lobby/messages/recent", nil).json(t, &before)
	for name, body := range map[string]any{
		"not a list":         map[string]any{"method": "GET"},
		"a bad method":       []map[string]any{{"method": "POST", "path": "/room/lobby/message", "json": post}, {"method": "PATCH", "path": "/rooms"}},
		"a body on GET":      []map[string]any{{"method": "POST", "path": "/room/lobby/message", "json": post}, {"method": "GET", "path": "/rooms", "json": 1}},
		"no body on POST":    []map[string]any{{"method": "POST", "path": "/room/lobby/message", "json": post}, {"method": "POST", "path": "/rooms"}},
		"a relative path":    []map[string]any{{"method": "POST", "path": "/room/lobby/message", "json": post}, {"method": "GET", "path": "rooms"}},
		"a nested batch":     []map[string]any{{"method": "POST", "path": "/batch", "json": []any{}}},
		"1,000 subrequests":  make([]map[string]any, 1000),
		"two bodies on POST": []map[string]any{{"method": "POST", "path": "/room/lobby/message", "json": post, "b64": "aGk="}},
	} {
		if name == "1,000 subrequests" {
			l := body.([]map[string]any)
			for i := range l {
				l[i] = map[string]any{"method": "POST", "path": "/room/lobby/message", "json": post}
			}
		}
		a := s.do(user, "POST", "/batch", body)
		var e map[string]string
		if a.code != 400 || json.Unmarshal(a.body, &e) != nil || e["error"] == "" {
			t.Errorf("%s: %d %s, want 400 with an error", name, a.code, a.body)
		}
	}
	var after []community.Message
	s.do(user, "GET", "/room/lobby/messages/recent", nil).json(t, &after)
	if len(after) != len(before) {
		t.Errorf("a refused batch posted: %d messages, were %d", len(after), len(before))
	}
	if a := s.do(user, "POST", "/batch", make([]map[string]any, 0)); a.code != 200 || strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("an empty batch: %d %s", a.code, a.body)
	}
}

// TestRateLimit: pysogs exempts admins only (sogs/model/room.py add_post);
// moderators are limited, 5 posts in 16 seconds per room.
func TestRateLimit(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	mod, roomAdmin := newTUser(t, key), newTUser(t, key)
	s.do(admin, "POST", "/user/"+mod.id+"/moderator", map[string]any{"rooms": []string{"lobby"}, "moderator": true})
	s.do(admin, "POST", "/user/"+roomAdmin.id+"/moderator", map[string]any{"rooms": []string{"lobby"}, "admin": true})
	for _, c := range []struct {
		name    string
		u       *tuser
		limited bool
	}{{"moderator", mod, true}, {"room admin", roomAdmin, false}, {"global admin", admin, false}} {
		var last int
		for i := 0; i < 6; i++ {
			last, _ = s.post(c.u, "lobby", fmt.Sprint(c.name, i))
		}
		if (last == 429) != c.limited {
			t.Errorf("%s: the sixth post is %d", c.name, last)
		}
	}
	// Per room: the moderator may post in another room; and after the
	// window again.
	if code, _ := s.post(mod, "games", "elsewhere"); code != 201 {
		t.Errorf("another room: %d", code)
	}
	s.clock.Add(17 * time.Second)
	if code, _ := s.post(mod, "lobby", "later"); code != 201 {
		t.Errorf("after the window: %d", code)
	}
}

// TestModeration: global moderators and bans, a banned user's answers
// (404 for the room, 403 to read or post), and a 15-blinded ID with its
// sign bit set kept as it is.
func TestModeration(t *testing.T) {
	key, _ := onion.NewKeyPair(rand.Reader)
	admin := newTUser(t, key)
	s := startTServerKey(t, key, admin)
	gmod, user, bob := negativeUser(t, key), newTUser(t, key), newTUser(t, key)
	s.do(user, "GET", "/rooms", nil)
	// Only a global admin makes a global moderator.
	if a := s.do(user, "POST", "/user/"+gmod.id+"/moderator", map[string]any{"global": true, "moderator": true}); a.code != 403 {
		t.Errorf("a user appoints a global moderator: %d", a.code)
	}
	a := s.do(admin, "POST", "/user/"+gmod.id+"/moderator", map[string]any{"global": true, "moderator": true})
	var info map[string]map[string]int64
	a.json(t, &info)
	if a.code != 200 || len(info["info_updates"]) != 2 {
		t.Fatalf("global moderator: %d %s", a.code, a.body)
	}
	for name, c := range map[string]struct {
		body map[string]any
		code int
	}{
		"both rooms and global": {map[string]any{"rooms": []string{"lobby"}, "global": true, "moderator": true}, 400},
		"neither":               {map[string]any{"moderator": true}, 400},
		"admin without mod":     {map[string]any{"rooms": []string{"lobby"}, "admin": true, "moderator": false}, 400},
		"no such room":          {map[string]any{"rooms": []string{"nope"}, "moderator": true}, 404},
	} {
		if a := s.do(admin, "POST", "/user/"+bob.id+"/moderator", c.body); a.code != c.code {
			t.Errorf("%s: %d, want %d", name, a.code, c.code)
		}
	}
	// The global moderator acts in every room, and is a hidden moderator.
	_, m := s.post(user, "games", "spam")
	if a := s.do(gmod, "DELETE", fmt.Sprintf("/room/games/message/%d", m.ID), nil); a.code != 200 {
		t.Errorf("a global moderator deletes: %d", a.code)
	}
	var ri community.RoomInfo
	s.do(admin, "GET", "/room/games", nil).json(t, &ri)
	if !reflect.DeepEqual(ri.HiddenModerators, []string{gmod.id}) {
		t.Errorf("hidden moderators: %v (want the ID as it authenticated, %s)", ri.HiddenModerators, gmod.id)
	}
	// A room ban: the room is hidden (404), reading and posting 403.
	if a := s.do(gmod, "POST", "/user/"+user.id+"/ban", map[string]any{"rooms": []string{"lobby"}}); a.code != 200 {
		t.Fatalf("ban: %d %s", a.code, a.body)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/room/lobby", 404}, {"GET", "/room/lobby/messages/recent", 403}, {"GET", "/room/lobby/pollInfo/0", 403}, {"GET", "/room/games", 200}} {
		if a := s.do(user, c.method, c.path, nil); a.code != c.code {
			t.Errorf("banned %s %s: %d, want %d", c.method, c.path, a.code, c.code)
		}
	}
	if code, _ := s.post(user, "lobby", "let me back"); code != 403 {
		t.Errorf("a banned user posts: %d", code)
	}
	var rooms []community.RoomInfo
	s.do(user, "GET", "/rooms", nil).json(t, &rooms)
	if len(rooms) != 1 || rooms[0].Token != "games" {
		t.Errorf("a banned user's rooms: %+v", rooms)
	}
	// Nobody bans a global moderator; a moderator does not ban itself.
	if a := s.do(admin, "POST", "/user/"+gmod.id+"/ban", map[string]any{"rooms": []string{"lobby"}}); a.code != 403 {
		t.Errorf("ban a global moderator: %d", a.code)
	}
	// A global ban refuses everything, by either sign of the key.
	if a := s.do(gmod, "POST", "/user/"+bob.id+"/ban", map[string]any{"global": true}); a.code != 200 {
		t.Fatalf("global ban: %d %s", a.code, a.body)
	}
	neg, _ := hex.DecodeString(bob.id)
	neg[32] ^= 0x80
	for _, path := range []string{"/rooms", "/room/games/messages/recent", "/capabilities"} {
		if a := s.do(bob, "GET", path, nil); a.code != 403 {
			t.Errorf("globally banned GET %s: %d", path, a.code)
		}
	}
	s.do(gmod, "POST", "/user/"+hex.EncodeToString(neg)+"/unban", map[string]any{"global": true})
	if a := s.do(bob, "GET", "/rooms", nil); a.code != 200 {
		t.Errorf("unbanned by the negated ID: %d", a.code)
	}
	// A timed ban ends.
	s.do(gmod, "POST", "/user/"+bob.id+"/ban", map[string]any{"rooms": []string{"games"}, "timeout": 60})
	if code, _ := s.post(bob, "games", "x"); code != 403 {
		t.Errorf("during a timed ban: %d", code)
	}
	s.clock.Add(61 * time.Second)
	if code, _ := s.post(bob, "games", "x"); code != 201 {
		t.Errorf("after a timed ban: %d", code)
	}
}

// TestDirectMessages: between blinded IDs, encrypted by the sender as apps
// encrypt them; the parties shown exactly as they authenticated; expiry.
func TestDirectMessages(t *testing.T) {
	s := startTServer(t)
	alice, bob, stranger := negativeUser(t, s.key), negativeUser(t, s.key), newTUser(t, s.key)
	s.do(bob, "GET", "/inbox", nil) // bob has used the server
	plain, _ := community.EncodeContent(community.Content{Text: "psst", SentAt: 1})
	sealed, err := community.EncryptDM(nil, alice.keys, s.key.Public, bob.id, plain)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"message": base64.StdEncoding.EncodeToString(sealed)}
	if a := s.do(alice, "POST", "/inbox/"+stranger.id, body); a.code != 404 {
		t.Errorf("to a user the server never saw: %d", a.code)
	}
	a := s.do(alice, "POST", "/inbox/"+bob.id, body)
	var sent community.DM
	a.json(t, &sent)
	if a.code != 201 || sent.Sender != alice.id || sent.Recipient != bob.id || sent.Message != "" || sent.Expires-sent.Posted != 15*86400 {
		t.Fatalf("send: %d %s", a.code, a.body)
	}
	var inbox []community.DM
	s.do(bob, "GET", "/inbox", nil).json(t, &inbox)
	if len(inbox) != 1 || inbox[0].Sender != alice.id || inbox[0].Message == "" {
		t.Fatalf("inbox: %+v", inbox)
	}
	got, _ := base64.StdEncoding.DecodeString(inbox[0].Message)
	msg, sid, err := community.DecryptDM(bob.keys, s.key.Public, inbox[0].Sender, inbox[0].Recipient, got)
	if err != nil || sid != alice.keys.AccountID().String() || community.DecodeContent(msg).Text != "psst" {
		t.Fatalf("bob opens it: %v %s %+v", err, sid, community.DecodeContent(msg))
	}
	if a := s.do(bob, "GET", fmt.Sprintf("/inbox/since/%d", inbox[0].ID), nil); a.code != 304 {
		t.Errorf("nothing new: %d", a.code)
	}
	var out []community.DM
	s.do(alice, "GET", "/outbox", nil).json(t, &out)
	if len(out) != 1 || out[0].Recipient != bob.id {
		t.Errorf("outbox: %+v", out)
	}
	for name, body := range map[string]any{"no message": map[string]string{}, "not base64": map[string]string{"message": "!!"}} {
		if a := s.do(alice, "POST", "/inbox/"+bob.id, body); a.code != 400 {
			t.Errorf("%s: %d", name, a.code)
		}
	}
	if a := s.do(bob, "DELETE", "/inbox", nil); strings.TrimSpace(string(a.body)) != `{"deleted":1}` {
		t.Errorf("clear: %s", a.body)
	}
	s.do(alice, "POST", "/inbox/"+bob.id, body)
	s.clock.Add(16 * 24 * time.Hour)
	s.do(bob, "GET", "/inbox", nil).json(t, &inbox)
	if len(inbox) != 0 {
		t.Errorf("an expired message is listed")
	}
}

// TestIndexPage: the rooms, their join links and QR codes, without
// authentication.
func TestIndexPage(t *testing.T) {
	s := startTServer(t)
	a := s.do(nil, "GET", "/", nil)
	join := community.JoinURL(s.srv.URL(), "lobby", s.key.Public)
	if a.code != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") || !bytes.Contains(a.body, []byte(join)) ||
		bytes.Count(a.body, []byte("<svg")) != 2 {
		t.Fatalf("index: %d %s", a.code, a.body)
	}
	if !strings.HasPrefix(join, s.srv.URL()+"/lobby?public_key=") || len(join) != len(s.srv.URL())+len("/lobby?public_key=")+64 {
		t.Errorf("join link %s", join)
	}
	a = s.do(nil, "GET", "/r/lobby/invite.png", nil)
	if a.code != 200 || !bytes.HasPrefix(a.body, []byte("\x89PNG")) {
		t.Errorf("invite.png: %d", a.code)
	}
}

// FuzzBatch: any body to /batch and /sequence is a clear answer (200 with
// one answer per subrequest, or 400), never a 5xx or a panic.
func FuzzBatch(f *testing.F) {
	f.Add([]byte(`[{"method":"GET","path":"/capabilities"},{"method":"GET","path":"/room/lobby/messages/since/0?t=r"}]`))
	f.Add([]byte(`[{"method":"POST","path":"/room/lobby/file","b64":"aGk="}]`))
	f.Add([]byte(`[{"method":"PUT","path":"/room/lobby/reaction/1/%F0%9F%91%8D","json":{}}]`))
	f.Add([]byte(`{"method":"GET"}`))
	key, _ := onion.NewKeyPair(rand.Reader)
	srv, err := community.New(community.Config{Dir: f.TempDir(), Key: key})
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	srv.AddRoom(context.Background(), "lobby", "")
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, p := range []string{"/batch", "/sequence"} {
			resp, err := http.Post(srv.URL()+p, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 400 {
				t.Fatalf("%s %q: %d %s", p, body, resp.StatusCode, out)
			}
			if resp.StatusCode == 200 {
				var subs []community.SubResponse
				if err := json.Unmarshal(out, &subs); err != nil {
					t.Fatalf("%s %q: %s", p, body, out)
				}
				for _, s := range subs {
					if s.Code >= 500 {
						t.Fatalf("%s %q: a subrequest answered %d: %s", p, body, s.Code, s.Body)
					}
				}
			}
		}
	})
}
