// Package community is a community server (SPEC 9; the real one is
// session-pysogs): public rooms whose messages live on the server, not on
// the service nodes, reached through onion requests (POST /oxen/v4/lsrpc,
// see onion.V4Handler) so the server never learns a client's address, and
// seeing every user only under an ID blinded for this server.
//
// It answers the endpoints Session apps poll with, in the request and
// answer shapes of pysogs's sogs/routes:
//
//	GET    /capabilities[?required=a,b]        412 with "missing" when one is absent
//	POST   /batch, /sequence                   subrequests under the outer request's user
//	GET    /rooms, /room/{token}, /room/{token}/pollInfo/{info_updates}
//	GET    /room/{token}/messages/recent|before/{id}|since/{seqno}  ?limit (clamped to 256), t=r, reactors
//	GET    /room/{token}/message/{id}
//	POST   /room/{token}/message               {"data", "signature"[, "files"]}: 201
//	DELETE /room/{token}/message/{id}          the author or a moderator
//	DELETE /room/{token}/all/{user}            every post of a user (a moderator, or the user)
//	PUT|DELETE /room/{token}/reaction/{id}/{emoji}, DELETE /room/{token}/reactions/{id}[/{emoji}]
//	GET    /room/{token}/reactors/{id}/{emoji}
//	POST   /room/{token}/pin/{id}, /unpin/{id}, /unpin/all   admins
//	POST   /room/{token}/file                  raw body: 201 {"id"}; GET /room/{token}/file/{id}[/{name}]
//	POST   /user/{id}/moderator, /ban, /unban  {"rooms": [...]} or {"global": true}
//	POST   /inbox/{id}; GET /inbox[/since/{id}], /outbox[/since/{id}]; DELETE /inbox
//	GET    /                                   a web page of the rooms, their join links and QR codes
//
// Anything else is 404 with a JSON error. Requests are authenticated by the
// X-SOGS headers (auth.go); a user is known by its blinded ID exactly as it
// authenticated. Moderation follows pysogs: room and global moderators and
// bans; a globally banned user is refused everything (403), a user banned
// from a room does not see it (404) nor read or post in it (403); at most 5
// posts in 16 seconds per room for anyone but an admin (429).
package community

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/onion"
)

// Config configures a Server.
type Config struct {
	Dir    string        // holds community.db; required
	Key    onion.KeyPair // the server's X25519 key; required
	Addr   string        // default 127.0.0.1:0
	Admins []string      // global admins (hidden, as pysogs makes them): blinded IDs, or 00 + an Ed25519 key
	Logger zerolog.Logger
	Now    func() time.Time
}

// Server is a running community server.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	db   *sql.DB
	http *httpserve.Server
	mux  http.Handler // the routes (a batch's subrequests go straight here)
	api  http.Handler // the routes, behind authentication
	once sync.Once

	// nonceSweep counts authenticated requests, to forget old nonces.
	nonceSweep atomic.Int64
}

// (compiled on first use: its {1,64} costs every command's start otherwise).
var tokenRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_-]{1,64}$`) })

// ErrRoomToken is returned for a room token that breaks the rules.
var ErrRoomToken = errors.New("a room token is 1-64 lowercase letters, digits, '_' and '-'")

// ErrRoomExists is AddRoom's refusal of a token that is taken.
var ErrRoomExists = errors.New("the room exists already")

// Capabilities are what the server offers (pysogs sogs/model/__init__.py),
// sorted: "blind" because it requires blinded IDs.
var Capabilities = []string{"blind", "reactions", "sogs"}

// Limits of the server, pysogs's where it has one.
const (
	postBurst        = 5                // posts per window per user and room
	postWindow       = 16 * time.Second // (sogs/model/room.py rate_limit_*)
	activeCutoff     = 7 * 24 * 3600    // seconds: active_users counts users seen this recently
	dmExpiry         = 15 * 24 * 3600.0 // seconds a direct message is kept (DM_EXPIRY)
	fileExpiry       = 15 * 24 * 3600.0 // seconds a room file is kept (UPLOAD_DEFAULT_EXPIRY)
	maxFileSize      = 10_000_000       // bytes (UPLOAD_FILE_MAX_SIZE)
	maxMessageSize   = 100_000          // bytes of a post's data or a DM
	maxLimit         = 256              // messages of one answer
	maxBatch         = 256              // subrequests of one batch
	maxBatchAnswer   = 20_000_000       // bytes of the bodies of one batch's answers
	maxReactionRunes = 12               // a reaction is 1-12 code points
)

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
	// Version 2: what pysogs's answers carry. Room metadata and default
	// permissions; a message's separate sequence numbers (data, reactions,
	// creation); reactions; pins; visible moderators (room '' is global);
	// bans with an end; file names and expiry; DM expiry; the users seen
	// and their activity per room.
	`ALTER TABLE rooms ADD COLUMN description TEXT;
	 ALTER TABLE rooms ADD COLUMN info_updates INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE rooms ADD COLUMN default_read INTEGER NOT NULL DEFAULT 1;
	 ALTER TABLE rooms ADD COLUMN default_accessible INTEGER NOT NULL DEFAULT 1;
	 ALTER TABLE rooms ADD COLUMN default_write INTEGER NOT NULL DEFAULT 1;
	 ALTER TABLE rooms ADD COLUMN default_upload INTEGER NOT NULL DEFAULT 1;
	 ALTER TABLE messages ADD COLUMN seqno_data INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE messages ADD COLUMN seqno_reactions INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE messages ADD COLUMN seqno_creation INTEGER NOT NULL DEFAULT 0;
	 ALTER TABLE messages ADD COLUMN edited REAL;
	 UPDATE messages SET seqno_data = seqno, seqno_creation = seqno;
	 CREATE INDEX messages_room_id ON messages (room, id);
	 CREATE INDEX messages_room_user ON messages (room, session_id, posted);
	 CREATE TABLE reactions (id INTEGER PRIMARY KEY AUTOINCREMENT, message INTEGER NOT NULL REFERENCES messages(id), reaction TEXT NOT NULL,
		UNIQUE (message, reaction)) STRICT;
	 CREATE TABLE user_reactions (reaction INTEGER NOT NULL REFERENCES reactions(id) ON DELETE CASCADE, session_id TEXT NOT NULL, at REAL NOT NULL,
		PRIMARY KEY (reaction, session_id)) STRICT;
	 CREATE TABLE pinned (room TEXT NOT NULL, message INTEGER NOT NULL, pinned_at REAL NOT NULL, pinned_by TEXT NOT NULL, PRIMARY KEY (room, message)) STRICT;
	 ALTER TABLE moderators ADD COLUMN visible INTEGER NOT NULL DEFAULT 1;
	 ALTER TABLE bans ADD COLUMN until REAL;
	 ALTER TABLE files ADD COLUMN filename TEXT;
	 ALTER TABLE files ADD COLUMN uploader TEXT NOT NULL DEFAULT '';
	 ALTER TABLE files ADD COLUMN expires REAL;
	 UPDATE files SET expires = uploaded + 1296000;
	 ALTER TABLE inbox ADD COLUMN expires REAL NOT NULL DEFAULT 0;
	 UPDATE inbox SET expires = posted + 1296000;
	 CREATE INDEX inbox_recipient ON inbox (recipient, id);
	 CREATE INDEX inbox_sender ON inbox (sender, id);
	 CREATE TABLE users (session_id TEXT PRIMARY KEY, first_seen REAL NOT NULL, last_active REAL NOT NULL) STRICT;
	 CREATE TABLE room_users (room TEXT NOT NULL, session_id TEXT NOT NULL, last_active REAL NOT NULL, PRIMARY KEY (room, session_id)) STRICT;`,
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
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("module", "community").Logger()}
	s.cfg.Admins = slices.Clone(cfg.Admins)
	for i, a := range s.cfg.Admins {
		id, ok := s.adminID(a)
		if !ok {
			return nil, fmt.Errorf("community: admin %q is not a blinded (15 or 25) or 00 ID", a)
		}
		s.cfg.Admins[i] = id
	}
	s.mux = s.routes()
	s.api = s.authenticate(s.mux)
	outer := http.NewServeMux()
	outer.Handle("/", s.api)
	outer.HandleFunc("POST /oxen/v4/lsrpc", onion.V4Handler(s.api, s.cfg.Key))
	s.http = httpserve.New(s.cfg.Addr, outer, s.log)
	return s, nil
}

// adminID reads a configured admin: a blinded ID, or 00 and an Ed25519
// key, which stands for the 15-blinded ID that key has on this server.
func (s *Server) adminID(a string) (string, bool) {
	b, err := hex.DecodeString(a)
	if err != nil || len(b) != 33 {
		return "", false
	}
	if b[0] == 0x00 {
		id, err := identity.BlindEd25519(b[1:], s.cfg.Key.Public[:])
		return id, err == nil
	}
	if b[0] != 0x15 && b[0] != 0x25 {
		return "", false
	}
	return s.parseUserID(context.Background(), a)
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

// PublicKey is the server's X25519 public key, in hex: what a join link
// carries.
func (s *Server) PublicKey() string { return hex.EncodeToString(s.cfg.Key.Public[:]) }

// JoinURL is the link Session apps join a room by:
// http://HOST:PORT/ROOM?public_key=HEX (pysogs utils.server_url).
func JoinURL(base, room string, serverKey [32]byte) string {
	return strings.TrimRight(base, "/") + "/" + room + "?public_key=" + hex.EncodeToString(serverKey[:])
}

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
	Join   string        `json:"join_url"`
	Posts  int           `json:"posts"`
	Recent []PostSummary `json:"recent"` // the newest, up to 5
}

// PostSummary is one post of a room: who (a blinded Session ID), when, and
// how big; the content is the poster's business.
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
		r.Join = JoinURL(s.URL(), r.Token, s.cfg.Key.Public)
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
	if !tokenRE().MatchString(token) {
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

func (s *Server) now() float64 { return float64(s.cfg.Now().UnixMicro()) / 1e6 }

// routes are the server's API; every one is reached through the v4 onion
// endpoint and in batches too.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.indexPage)
	mux.HandleFunc("GET /r/{token}/invite.png", s.invitePNG)
	mux.HandleFunc("GET /capabilities", capabilities)
	mux.HandleFunc("POST /batch", s.batch(false))
	mux.HandleFunc("POST /sequence", s.batch(true))
	mux.HandleFunc("GET /rooms", s.rooms)
	mux.HandleFunc("GET /room/{token}", s.inRoom(s.room))
	mux.HandleFunc("GET /room/{token}/pollInfo/{info}", s.inRoom(s.pollInfo))
	mux.HandleFunc("GET /room/{token}/messages/recent", s.inRoom(s.listMessages("recent")))
	mux.HandleFunc("GET /room/{token}/messages/before/{id}", s.inRoom(s.listMessages("before")))
	mux.HandleFunc("GET /room/{token}/messages/since/{seqno}", s.inRoom(s.listMessages("since")))
	mux.HandleFunc("GET /room/{token}/message/{id}", s.inRoom(s.listMessages("single")))
	mux.HandleFunc("POST /room/{token}/message", s.inRoom(s.post))
	mux.HandleFunc("DELETE /room/{token}/message/{id}", s.inRoom(s.deleteMsg))
	mux.HandleFunc("DELETE /room/{token}/all/{user}", s.inRoom(s.deleteAll))
	mux.HandleFunc("PUT /room/{token}/reaction/{id}/{reaction...}", s.inRoom(s.react(true)))
	mux.HandleFunc("DELETE /room/{token}/reaction/{id}/{reaction...}", s.inRoom(s.react(false)))
	mux.HandleFunc("DELETE /room/{token}/reactions/{id}", s.inRoom(s.clearReactions))
	mux.HandleFunc("DELETE /room/{token}/reactions/{id}/{reaction...}", s.inRoom(s.clearReactions))
	mux.HandleFunc("GET /room/{token}/reactors/{id}/{reaction...}", s.inRoom(s.reactors))
	mux.HandleFunc("POST /room/{token}/pin/{id}", s.inRoom(s.pin))
	mux.HandleFunc("POST /room/{token}/unpin/{id}", s.inRoom(s.unpin))
	mux.HandleFunc("POST /room/{token}/unpin/all", s.inRoom(s.unpin))
	mux.HandleFunc("POST /room/{token}/file", s.inRoom(s.uploadFile))
	mux.HandleFunc("GET /room/{token}/file/{id}", s.inRoom(s.getFile))
	mux.HandleFunc("GET /room/{token}/file/{id}/{name}", s.inRoom(s.getFile))
	mux.HandleFunc("POST /user/{id}/moderator", s.moderator)
	mux.HandleFunc("POST /user/{id}/ban", s.ban(true))
	mux.HandleFunc("POST /user/{id}/unban", s.ban(false))
	mux.HandleFunc("POST /inbox/{id}", s.sendDM)
	mux.HandleFunc("GET /inbox", s.box(false))
	mux.HandleFunc("GET /inbox/since/{id}", s.box(false))
	mux.HandleFunc("GET /outbox", s.box(true))
	mux.HandleFunc("GET /outbox/since/{id}", s.box(true))
	mux.HandleFunc("DELETE /inbox", s.clearInbox)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpserve.WriteError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// capabilities answers GET /capabilities: sorted, and 412 with the missing
// ones when ?required= names one the server lacks.
func capabilities(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"capabilities": Capabilities}
	code := http.StatusOK
	if req, ok := r.URL.Query()["required"]; ok {
		missing := []string{}
		for _, c := range strings.Split(req[0], ",") {
			if _, found := slices.BinarySearch(Capabilities, c); !found {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			out["missing"] = missing
			code = http.StatusPreconditionFailed
		}
	}
	httpserve.WriteJSON(w, code, out)
}
