// Package community is a community server (SPEC 9; the real one is
// session-pysogs): public rooms whose messages live on the server, not on
// the service nodes, reached through onion requests (POST /oxen/v4/lsrpc,
// see onion.V4Handler) so the server never learns a client's address, and
// seeing every user only under a 15-blinded ID made for this server.
//
// It follows the real server's API for what it offers:
//
//	GET    /capabilities
//	GET    /rooms, /room/{token}
//	GET    /room/{token}/messages/since/{seqno}?limit=N   (N <= 256)
//	POST   /room/{token}/message          {"data", "signature"}: 201
//	DELETE /room/{token}/message/{id}     the author or a moderator
//	POST   /room/{token}/file             raw body: 201 {"id"}; GET /room/{token}/file/{id}
//	POST   /user/{id}/moderator           {"rooms", "moderator", "admin"}: admins
//	POST   /user/{id}/ban, /user/{id}/unban  {"rooms"}: moderators
//	POST   /inbox/{id}                    {"message"}: a message request between blinded IDs
//	GET    /inbox, /outbox
//
// Requests are authenticated by the X-SOGS headers: X-SOGS-Pubkey (15 + the
// blinded key, or 00 + an unblinded Ed25519 key), X-SOGS-Nonce (16 bytes,
// base64, used once), X-SOGS-Timestamp (unix seconds, within 24 hours) and
// X-SOGS-Signature over server X25519 key || nonce || timestamp || method ||
// path || BLAKE2b-64(body) when there is a body. A reused nonce or a stale
// timestamp gets 425, a bad signature 401, a banned user 403, more than 5
// posts in 16 seconds by a non-moderator 429.
package community

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/onion"
	"golang.org/x/crypto/blake2b"
)

// Config configures a Server.
type Config struct {
	Dir    string        // holds community.db; required
	Key    onion.KeyPair // the server's X25519 key; required
	Addr   string        // default 127.0.0.1:0
	Admins []string      // global admins: 15-blinded (or 00) IDs
	Logger zerolog.Logger
	Now    func() time.Time
}

// Server is a running community server.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	db   *sql.DB
	http *httpserve.Server
	mu   sync.Mutex // serialises writes that read-modify-write
	once sync.Once

	posts map[string][]time.Time // rate limit: recent posts per user
	// nonceSweep counts authenticated requests, to forget old nonces.
	nonceSweep atomic.Int64
}

var tokenRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ErrRoomToken is returned for a room token that breaks the rules.
var ErrRoomToken = errors.New("a room token is 1-64 lowercase letters, digits, '_' and '-'")

// ErrRoomExists is AddRoom's refusal of a token that is taken.
var ErrRoomExists = errors.New("the room exists already")

var migrations = []string{
	`CREATE TABLE rooms (token TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL, seqno INTEGER NOT NULL DEFAULT 0) STRICT;
	 CREATE TABLE messages (
		id INTEGER PRIMARY KEY AUTOINCREMENT, room TEXT NOT NULL REFERENCES rooms(token), session_id TEXT NOT NULL,
		posted REAL NOT NULL, seqno INTEGER NOT NULL, data BLOB, signature BLOB, deleted INTEGER NOT NULL DEFAULT 0) STRICT;
	 CREATE INDEX messages_room_seqno ON messages (room, seqno);
	 CREATE TABLE moderators (room TEXT NOT NULL, session_id TEXT NOT NULL, admin INTEGER NOT NULL, PRIMARY KEY (room, session_id)) STRICT;
	 CREATE TABLE bans (room TEXT NOT NULL, session_id TEXT NOT NULL, PRIMARY KEY (room, session_id)) STRICT;
	 CREATE TABLE files (id INTEGER PRIMARY KEY AUTOINCREMENT, room TEXT NOT NULL, data BLOB NOT NULL, uploaded REAL NOT NULL) STRICT;
	 CREATE TABLE inbox (id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, recipient TEXT NOT NULL, posted REAL NOT NULL, message BLOB NOT NULL) STRICT;
	 CREATE TABLE nonces (pubkey TEXT NOT NULL, nonce TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (pubkey, nonce)) STRICT;`,
}

// New validates cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" || cfg.Key.Public == ([32]byte{}) {
		return nil, errors.New("community: Config.Dir and Config.Key are required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("component", "community").Logger(), posts: map[string][]time.Time{}}
	s.cfg.Admins = slices.Clone(cfg.Admins)
	for i, a := range s.cfg.Admins {
		id, ok := s.canonicalID(a)
		if !ok {
			return nil, fmt.Errorf("community: admin %q is not a 15-blinded or 00 ID", a)
		}
		s.cfg.Admins[i] = id
	}
	return s, nil
}

// Start opens the database, binds and serves.
func (s *Server) Start(ctx context.Context) error {
	db, err := sqlitedb.Open(ctx, filepath.Join(s.cfg.Dir, "community.db"), migrations)
	if err != nil {
		return err
	}
	s.db = db
	api := s.routes()
	outer := http.NewServeMux()
	outer.Handle("/", api)
	outer.HandleFunc("POST /oxen/v4/lsrpc", onion.V4Handler(api, s.cfg.Key))
	s.http = httpserve.New(s.cfg.Addr, outer, s.log)
	if err := s.http.Start(ctx); err != nil {
		db.Close()
		return fmt.Errorf("community server: %w", err)
	}
	s.log.Info().Str("url", s.URL()).Msg("community server listening")
	return nil
}

// URL is the server's base URL ("" before Start).
func (s *Server) URL() string {
	if s.http == nil {
		return ""
	}
	return s.http.URL()
}

// Err delivers a failure of the server after Start.
func (s *Server) Err() <-chan error { return s.http.Err() }

// Close stops the server, waits for its handlers, and closes the
// database. Safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.http == nil {
			return
		}
		err = errors.Join(s.http.Close(), s.db.Close())
	})
	return err
}

// AddRoom creates a room (the server operator's command).
func (s *Server) AddRoom(ctx context.Context, token, name string) error {
	if !tokenRE.MatchString(token) {
		return ErrRoomToken
	}
	if name == "" {
		name = token
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO rooms (token, name, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, token, name, s.now())
	if err != nil {
		return fmt.Errorf("add room %q: %w", token, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrRoomExists, token)
	}
	return nil
}

func (s *Server) now() float64 { return float64(s.cfg.Now().UnixMilli()) / 1000 }

type ctxKey struct{}

// user is who signed a request: its ID as the server sees it.
func user(r *http.Request) string {
	u, _ := r.Context().Value(ctxKey{}).(string)
	return u
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /capabilities", func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{"capabilities": []string{"sogs", "blind"}})
	})
	mux.HandleFunc("GET /rooms", s.authed(false, s.rooms))
	mux.HandleFunc("GET /room/{token}", s.authed(false, s.room))
	mux.HandleFunc("GET /room/{token}/messages/since/{seqno}", s.authed(true, s.since))
	mux.HandleFunc("POST /room/{token}/message", s.authed(true, s.post))
	mux.HandleFunc("DELETE /room/{token}/message/{id}", s.authed(true, s.deleteMsg))
	mux.HandleFunc("POST /room/{token}/file", s.authed(true, s.uploadFile))
	mux.HandleFunc("GET /room/{token}/file/{id}", s.authed(true, s.getFile))
	mux.HandleFunc("POST /user/{id}/moderator", s.authed(true, s.moderator))
	mux.HandleFunc("POST /user/{id}/ban", s.authed(true, s.ban(true)))
	mux.HandleFunc("POST /user/{id}/unban", s.authed(true, s.ban(false)))
	mux.HandleFunc("POST /inbox/{id}", s.authed(true, s.sendDM))
	mux.HandleFunc("GET /inbox", s.authed(true, s.box("recipient")))
	mux.HandleFunc("GET /outbox", s.authed(true, s.box("sender")))
	return mux
}

// maxSkew is how far an X-SOGS timestamp may be from the server's clock.
const maxSkew = 24 * time.Hour

// authed checks the X-SOGS headers (required, or optional when absent).
func (s *Server) authed(required bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pk := r.Header.Get("X-SOGS-Pubkey")
		if pk == "" {
			if required {
				httpserve.WriteError(w, http.StatusUnauthorized, "this endpoint needs X-SOGS authentication")
				return
			}
			h(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 11<<20))
		if err != nil {
			httpserve.WriteError(w, http.StatusBadRequest, "unreadable body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		code, msg, id := s.verify(r, pk, body)
		if code != 0 {
			httpserve.WriteError(w, code, msg)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	}
}

func (s *Server) verify(r *http.Request, pk string, body []byte) (int, string, string) {
	key, err := hex.DecodeString(pk)
	if err != nil || len(key) != 33 || (key[0] != 0x15 && key[0] != 0x00) {
		return http.StatusBadRequest, "X-SOGS-Pubkey: want 66 hex characters, 15 (blinded) or 00", ""
	}
	nonce, err := base64.StdEncoding.DecodeString(r.Header.Get("X-SOGS-Nonce"))
	if err != nil || len(nonce) != 16 {
		return http.StatusBadRequest, "X-SOGS-Nonce: want 16 bytes in base64", ""
	}
	tsStr := r.Header.Get("X-SOGS-Timestamp")
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return http.StatusBadRequest, "X-SOGS-Timestamp: want unix seconds", ""
	}
	if d := s.cfg.Now().Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return http.StatusTooEarly, "X-SOGS-Timestamp is more than 24 hours from the server's clock", ""
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-SOGS-Signature"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return http.StatusUnauthorized, "X-SOGS-Signature: want 64 bytes in base64", ""
	}
	if !ed25519.Verify(key[1:], SigMessage(s.cfg.Key.Public, nonce, ts, r.Method, r.URL.RequestURI(), body), sig) {
		return http.StatusUnauthorized, "X-SOGS-Signature does not verify", ""
	}
	id, ok := s.canonicalID(pk)
	if !ok {
		return http.StatusBadRequest, "X-SOGS-Pubkey is not a usable key", ""
	}
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO nonces (pubkey, nonce, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, hex.EncodeToString(nonce), ts)
	if err != nil {
		return http.StatusInternalServerError, "storage failure", ""
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return http.StatusTooEarly, "X-SOGS-Nonce was used before", ""
	}
	// Nonces older than the timestamp window can never be replayed (their
	// timestamp is refused first): forget them now and then.
	if s.nonceSweep.Add(1)%256 == 0 {
		if _, err := s.db.ExecContext(r.Context(), `DELETE FROM nonces WHERE at < ?`, s.cfg.Now().Add(-2*maxSkew).Unix()); err != nil {
			s.log.Warn().Err(err).Msg("forget old nonces")
		}
	}
	return 0, "", id
}

// canonicalID is the one spelling of a user the server compares, stores and
// rate-limits by: lower-case hex, and for an unblinded 00 key, the 15-blinded
// ID of the same account (so a banned account cannot come back unblinded).
// It reports false for anything that is not a user ID.
func (s *Server) canonicalID(id string) (string, bool) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 {
		return "", false
	}
	switch b[0] {
	case 0x00:
		bid, err := identity.BlindEd25519(b[1:], s.cfg.Key.Public[:])
		if err != nil {
			return "", false
		}
		return bid, true
	case 0x15, 0x25:
		return hex.EncodeToString(b), true
	}
	return "", false
}

// SigMessage is what X-SOGS-Signature signs.
func SigMessage(server [32]byte, nonce []byte, ts int64, method, path string, body []byte) []byte {
	m := append(append([]byte{}, server[:]...), nonce...)
	m = append(m, strconv.FormatInt(ts, 10)...)
	m = append(m, method...)
	m = append(m, path...)
	if len(body) > 0 {
		h, _ := blake2b.New(64, nil)
		h.Write(body)
		m = h.Sum(m)
	}
	return m
}

// role returns whether id moderates and administers room ("" for global).
func (s *Server) role(ctx context.Context, room, id string) (mod, admin bool) {
	for _, a := range s.cfg.Admins {
		if a == id {
			return true, true
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT admin FROM moderators WHERE session_id = ? AND (room = ? OR room = '')`, id, room)
	if err != nil {
		return false, false
	}
	defer rows.Close()
	for rows.Next() {
		var a int
		if rows.Scan(&a) != nil {
			return false, false // unreadable: no rights
		}
		mod = true
		admin = admin || a == 1
	}
	if rows.Err() != nil {
		return false, false
	}
	return mod, admin
}

func (s *Server) banned(ctx context.Context, room, id string) bool {
	var x int
	return s.db.QueryRowContext(ctx, `SELECT 1 FROM bans WHERE session_id = ? AND (room = ? OR room = '')`, id, room).Scan(&x) == nil
}

// RoomInfo is a room as /rooms and /room/{token} describe it.
type RoomInfo struct {
	Token     string   `json:"token"`
	Name      string   `json:"name"`
	Created   float64  `json:"created"`
	Seqno     int64    `json:"message_sequence"`
	Moderator bool     `json:"moderator,omitempty"`
	Admin     bool     `json:"admin,omitempty"`
	Mods      []string `json:"moderators"`
}

func (s *Server) loadRoom(ctx context.Context, token string) (*RoomInfo, error) {
	ri := &RoomInfo{Token: token, Mods: []string{}}
	err := s.db.QueryRowContext(ctx, `SELECT name, created, seqno FROM rooms WHERE token = ?`, token).Scan(&ri.Name, &ri.Created, &ri.Seqno)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT session_id FROM moderators WHERE room = ? ORDER BY session_id`, token)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		ri.Mods = append(ri.Mods, m)
	}
	return ri, rows.Err()
}

func (s *Server) rooms(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT token FROM rooms ORDER BY token`)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	var tokens []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
		tokens = append(tokens, t)
	}
	rows.Close()
	out := []*RoomInfo{}
	for _, t := range tokens {
		if ri, err := s.loadRoom(r.Context(), t); err == nil {
			ri.Moderator, ri.Admin = s.role(r.Context(), t, user(r))
			out = append(out, ri)
		}
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}

// roomFor loads the path's room, answering 404 when there is none and 403
// when the user is banned from it.
func (s *Server) roomFor(w http.ResponseWriter, r *http.Request) *RoomInfo {
	ri, err := s.loadRoom(r.Context(), r.PathValue("token"))
	if err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "no such room")
		return nil
	}
	if u := user(r); u != "" && s.banned(r.Context(), ri.Token, u) {
		httpserve.WriteError(w, http.StatusForbidden, "you are banned from this room")
		return nil
	}
	return ri
}

func (s *Server) room(w http.ResponseWriter, r *http.Request) {
	if ri := s.roomFor(w, r); ri != nil {
		ri.Moderator, ri.Admin = s.role(r.Context(), ri.Token, user(r))
		httpserve.WriteJSON(w, http.StatusOK, ri)
	}
}

// Message is a room message as the API returns it.
type Message struct {
	ID        int64   `json:"id"`
	SessionID string  `json:"session_id"`
	Posted    float64 `json:"posted"`
	Seqno     int64   `json:"seqno"`
	Data      *string `json:"data"` // base64; null once deleted
	Signature *string `json:"signature"`
	Deleted   bool    `json:"deleted,omitempty"`
}

func (s *Server) since(w http.ResponseWriter, r *http.Request) {
	ri := s.roomFor(w, r)
	if ri == nil {
		return
	}
	seq, err := strconv.ParseInt(r.PathValue("seqno"), 10, 64)
	if err != nil || seq < 0 {
		httpserve.WriteError(w, http.StatusBadRequest, "seqno: want a number")
		return
	}
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 256 {
			httpserve.WriteError(w, http.StatusBadRequest, "limit: want 1 to 256")
			return
		}
	}
	rows, err := s.db.QueryContext(r.Context(), `SELECT id, session_id, posted, seqno, data, signature, deleted FROM messages
		WHERE room = ? AND seqno > ? ORDER BY seqno LIMIT ?`, ri.Token, seq, limit)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var m Message
		var data, sig []byte
		var del int
		if err := rows.Scan(&m.ID, &m.SessionID, &m.Posted, &m.Seqno, &data, &sig, &del); err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
		if del == 0 {
			d, sg := base64.StdEncoding.EncodeToString(data), base64.StdEncoding.EncodeToString(sig)
			m.Data, m.Signature = &d, &sg
		}
		m.Deleted = del == 1
		out = append(out, m)
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}

// postLimit: non-moderators may post 5 messages in 16 seconds.
const (
	postBurst  = 5
	postWindow = 16 * time.Second
)

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	ri := s.roomFor(w, r)
	if ri == nil {
		return
	}
	var req struct {
		Data      string `json:"data"`
		Signature string `json:"signature"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"data", "signature"} in base64`)
		return
	}
	data, err1 := base64.StdEncoding.DecodeString(req.Data)
	sig, err2 := base64.StdEncoding.DecodeString(req.Signature)
	u := user(r)
	key, _ := hex.DecodeString(u)
	if err1 != nil || err2 != nil || len(data) == 0 || len(data) > 100_000 || len(sig) != 64 || !ed25519.Verify(key[1:], data, sig) {
		httpserve.WriteError(w, http.StatusBadRequest, "the message must be 1-100,000 bytes with its poster's signature")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if mod, _ := s.role(r.Context(), ri.Token, u); !mod {
		now := s.cfg.Now()
		recent := s.posts[u][:0]
		for _, t := range s.posts[u] {
			if now.Sub(t) < postWindow {
				recent = append(recent, t)
			}
		}
		if len(recent) >= postBurst {
			s.posts[u] = recent
			httpserve.WriteError(w, http.StatusTooManyRequests, "too many posts: at most 5 in 16 seconds")
			return
		}
		s.posts[u] = append(recent, now)
		// Forget users with no recent post, so the map stays bounded by
		// the users active in the last window.
		if len(s.posts) > 1024 {
			for k, ts := range s.posts {
				if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= postWindow {
					delete(s.posts, k)
				}
			}
		}
	}
	seq, err := s.bump(r.Context(), ri.Token)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	posted := s.now()
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO messages (room, session_id, posted, seqno, data, signature) VALUES (?, ?, ?, ?, ?, ?)`,
		ri.Token, u, posted, seq, data, sig)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	id, _ := res.LastInsertId()
	httpserve.WriteJSON(w, http.StatusCreated, Message{ID: id, SessionID: u, Posted: posted, Seqno: seq, Data: &req.Data, Signature: &req.Signature})
}

// bump increments a room's sequence number. Callers hold mu.
func (s *Server) bump(ctx context.Context, room string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `UPDATE rooms SET seqno = seqno + 1 WHERE token = ? RETURNING seqno`, room).Scan(&seq)
	return seq, err
}

func (s *Server) deleteMsg(w http.ResponseWriter, r *http.Request) {
	ri := s.roomFor(w, r)
	if ri == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, "id: want a message id")
		return
	}
	var author string
	if err := s.db.QueryRowContext(r.Context(), `SELECT session_id FROM messages WHERE id = ? AND room = ? AND deleted = 0`, id, ri.Token).Scan(&author); err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "no such message")
		return
	}
	u := user(r)
	if mod, _ := s.role(r.Context(), ri.Token, u); !mod && u != author {
		httpserve.WriteError(w, http.StatusForbidden, "only its author or a moderator may delete a message")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, err := s.bump(r.Context(), ri.Token)
	if err == nil {
		_, err = s.db.ExecContext(r.Context(), `UPDATE messages SET deleted = 1, data = NULL, signature = NULL, seqno = ? WHERE id = ?`, seq, id)
	}
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"deleted": id})
}

func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	ri := s.roomFor(w, r)
	if ri == nil {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 10_000_001))
	if err != nil || len(data) == 0 || len(data) > 10_000_000 {
		httpserve.WriteError(w, http.StatusRequestEntityTooLarge, "a file is 1 byte to 10 MB")
		return
	}
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO files (room, data, uploaded) VALUES (?, ?, ?)`, ri.Token, data, s.now())
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	id, _ := res.LastInsertId()
	httpserve.WriteJSON(w, http.StatusCreated, map[string]int64{"id": id})
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	ri := s.roomFor(w, r)
	if ri == nil {
		return
	}
	var data []byte
	if err := s.db.QueryRowContext(r.Context(), `SELECT data FROM files WHERE id = ? AND room = ?`, r.PathValue("id"), ri.Token).Scan(&data); err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "no such file")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

func (s *Server) moderator(w http.ResponseWriter, r *http.Request) {
	target, okID := s.canonicalID(r.PathValue("id"))
	var req struct {
		Rooms     []string `json:"rooms"`
		Moderator bool     `json:"moderator"`
		Admin     bool     `json:"admin"`
	}
	if !okID || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Rooms) == 0 {
		httpserve.WriteError(w, http.StatusBadRequest, `want a blinded ID and {"rooms": [...], "moderator": bool, "admin": bool}`)
		return
	}
	for _, room := range req.Rooms {
		if _, err := s.loadRoom(r.Context(), room); err != nil {
			httpserve.WriteError(w, http.StatusNotFound, "no such room: "+room)
			return
		}
		if _, admin := s.role(r.Context(), room, user(r)); !admin {
			httpserve.WriteError(w, http.StatusForbidden, "only an admin of the room may appoint moderators")
			return
		}
	}
	for _, room := range req.Rooms {
		var err error
		if req.Moderator || req.Admin {
			_, err = s.db.ExecContext(r.Context(), `INSERT INTO moderators (room, session_id, admin) VALUES (?, ?, ?)
				ON CONFLICT (room, session_id) DO UPDATE SET admin = excluded.admin`, room, target, boolInt(req.Admin))
		} else {
			_, err = s.db.ExecContext(r.Context(), `DELETE FROM moderators WHERE room = ? AND session_id = ?`, room, target)
		}
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) ban(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		target, okID := s.canonicalID(r.PathValue("id"))
		var req struct {
			Rooms []string `json:"rooms"`
		}
		if !okID || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.Rooms) == 0 {
			httpserve.WriteError(w, http.StatusBadRequest, `want a blinded ID and {"rooms": [...]}`)
			return
		}
		for _, room := range req.Rooms {
			if _, err := s.loadRoom(r.Context(), room); err != nil {
				httpserve.WriteError(w, http.StatusNotFound, "no such room: "+room)
				return
			}
			if mod, _ := s.role(r.Context(), room, user(r)); !mod {
				httpserve.WriteError(w, http.StatusForbidden, "only a moderator of the room may ban")
				return
			}
			if tmod, _ := s.role(r.Context(), room, target); tmod && on {
				httpserve.WriteError(w, http.StatusBadRequest, "a moderator cannot be banned")
				return
			}
		}
		for _, room := range req.Rooms {
			q := `INSERT INTO bans (room, session_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
			if !on {
				q = `DELETE FROM bans WHERE room = ? AND session_id = ?`
			}
			if _, err := s.db.ExecContext(r.Context(), q, room, target); err != nil {
				httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
				return
			}
		}
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{})
	}
}

// DM is a message request between blinded IDs.
type DM struct {
	ID        int64   `json:"id"`
	Posted    float64 `json:"posted_at"`
	Sender    string  `json:"sender"`
	Recipient string  `json:"recipient"`
	Message   string  `json:"message"` // base64
}

func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	to, okID := s.canonicalID(r.PathValue("id"))
	var req struct {
		Message string `json:"message"`
	}
	if !okID || json.NewDecoder(r.Body).Decode(&req) != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want a blinded ID and {"message": base64}`)
		return
	}
	msg, err := base64.StdEncoding.DecodeString(req.Message)
	if err != nil || len(msg) == 0 || len(msg) > 100_000 {
		httpserve.WriteError(w, http.StatusBadRequest, "the message must be 1-100,000 bytes in base64")
		return
	}
	if s.banned(r.Context(), "", user(r)) {
		httpserve.WriteError(w, http.StatusForbidden, "you are banned from this server")
		return
	}
	posted := s.now()
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO inbox (sender, recipient, posted, message) VALUES (?, ?, ?, ?)`, user(r), to, posted, msg)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	id, _ := res.LastInsertId()
	httpserve.WriteJSON(w, http.StatusCreated, DM{ID: id, Posted: posted, Sender: user(r), Recipient: to, Message: req.Message})
}

func (s *Server) box(col string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rows, err := s.db.QueryContext(r.Context(), `SELECT id, posted, sender, recipient, message FROM inbox WHERE `+col+` = ? ORDER BY id`, user(r))
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
		defer rows.Close()
		out := []DM{}
		for rows.Next() {
			var d DM
			var m []byte
			if err := rows.Scan(&d.ID, &d.Posted, &d.Sender, &d.Recipient, &m); err != nil {
				httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
				return
			}
			d.Message = base64.StdEncoding.EncodeToString(m)
			out = append(out, d)
		}
		httpserve.WriteJSON(w, http.StatusOK, out)
	}
}

// NewNonce returns 16 random bytes, base64: an X-SOGS-Nonce.
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
