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
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/onion"
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
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("module", "community").Logger(), posts: map[string][]time.Time{}}
	s.cfg.Admins = slices.Clone(cfg.Admins)
	for i, a := range s.cfg.Admins {
		id, ok := s.canonicalID(a)
		if !ok {
			return nil, fmt.Errorf("community: admin %q is not a 15-blinded or 00 ID", a)
		}
		s.cfg.Admins[i] = id
	}
	api := s.routes()
	outer := http.NewServeMux()
	outer.Handle("/", api)
	outer.HandleFunc("POST /oxen/v4/lsrpc", onion.V4Handler(api, s.cfg.Key))
	s.http = httpserve.New(s.cfg.Addr, outer, s.log)
	return s, nil
}

// Start opens the database, binds and serves.
func (s *Server) Start(ctx context.Context) error {
	db, err := sqlitedb.Open(ctx, filepath.Join(s.cfg.Dir, "community.db"), migrations)
	if err != nil {
		return err
	}
	s.db = db
	if err := s.http.Start(ctx); err != nil {
		db.Close()
		return fmt.Errorf("community server: %w", err)
	}
	s.log.Info().Str("url", s.URL()).Msg("community server listening")
	return nil
}

// URL is the server's base URL ("" before Start).
func (s *Server) URL() string { return s.http.URL() }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.http.Ready() }

// Err delivers a failure of the server after Start.
func (s *Server) Err() <-chan error { return s.http.Err() }

// Close stops the server, waits for its handlers, and closes the
// database. Safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.http.Close()
		if s.db != nil {
			err = errors.Join(err, s.db.Close())
		}
	})
	return err
}

// RoomSummary is a room as the devnet's dashboard shows it.
type RoomSummary struct {
	Token  string        `json:"token"`
	Name   string        `json:"name"`
	Posts  int           `json:"posts"`
	Recent []PostSummary `json:"recent"` // the newest, up to 5
}

// PostSummary is one post of a room: who (a blinded or unblinded Session
// ID), when, and how big; the content is the poster's business.
type PostSummary struct {
	ID        int64   `json:"id"`
	SessionID string  `json:"session_id"`
	Posted    float64 `json:"posted"`
	Bytes     int     `json:"bytes"`
}

// Rooms summarizes every room (the dashboard's view, not an API of SOGS).
func (s *Server) Rooms(ctx context.Context) ([]RoomSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token, name, (SELECT count(*) FROM messages m WHERE m.room = r.token AND m.deleted = 0) FROM rooms r ORDER BY token LIMIT 100`)
	if err != nil {
		return nil, err
	}
	var out []RoomSummary
	for rows.Next() {
		var r RoomSummary
		if err := rows.Scan(&r.Token, &r.Name, &r.Posts); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		rows, err := s.db.QueryContext(ctx, `SELECT id, session_id, posted, length(data) FROM messages WHERE room = ? AND deleted = 0 ORDER BY id DESC LIMIT 5`, out[i].Token)
		if err != nil {
			return nil, err
		}
		out[i].Recent = []PostSummary{}
		for rows.Next() {
			var p PostSummary
			var n sql.NullInt64
			if err := rows.Scan(&p.ID, &p.SessionID, &p.Posted, &n); err != nil {
				rows.Close()
				return nil, err
			}
			p.Bytes = int(n.Int64)
			out[i].Recent = append(out[i].Recent, p)
		}
		rows.Close()
	}
	return out, nil
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

// routes are the server's API; every one is reached through the v4 onion
// endpoint too.
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
