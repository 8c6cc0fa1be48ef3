// Package fileserver is the file server of SPEC 9: attachments, encrypted
// by their senders, uploaded and downloaded through onion requests whose
// exit node forwards them by HTTP, so the server never learns a client's
// address and never sees plaintext.
//
//	POST /file            the raw body is stored; answers 200 {"id": "<decimal digits>"}
//	                      (real clients check the id is all digits)
//	GET  /file/{id}       the bytes
//	GET  /file/{id}/info  {"id", "size", "uploaded", "expires"} (unix seconds)
//	POST /oxen/v4/lsrpc   an onion request: the body is a v4 request sealed to the
//	                      server's X25519 key (onion.SealForServer); the answer is
//	                      the v4 reply sealed with the same key
//
// Files expire (default 3 weeks; shorter in a devnet) and are removed
// periodically. Uploads are limited to 10 MB.
package fileserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"github.com/sessionctl/sessionctl/internal/loop"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/onion"
)

// MaxFileSize is the largest attachment: 10 MB, before encryption.
const MaxFileSize = 10_000_000

// MaxUploadSize is the upload limit: MaxFileSize once encrypted as Session
// clients encrypt attachments (a 16-byte IV, up to 16 bytes of PKCS#7
// padding and a 32-byte MAC).
const MaxUploadSize = MaxFileSize + 64

// Config configures a Server.
type Config struct {
	// Dir holds files.db. Required.
	Dir string
	// Key is the server's X25519 key pair; clients seal requests to Public. Required.
	Key onion.KeyPair
	// Addr to listen on; default 127.0.0.1:0.
	Addr string
	// Expiry of a file; default 3 weeks.
	Expiry time.Duration
	// CleanEvery is how often expired files are removed; default 10 s.
	CleanEvery time.Duration
	Logger     zerolog.Logger
	Now        func() time.Time
}

// Server is a running file server.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	db   *sql.DB
	http *httpserve.Server
	mux  *http.ServeMux
	stop context.CancelFunc
	wg   sync.WaitGroup
	once sync.Once
}

// New validates cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("fileserver: Config.Dir is required")
	}
	if cfg.Key.Public == ([32]byte{}) {
		return nil, errors.New("fileserver: Config.Key is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 21 * 24 * time.Hour
	}
	if cfg.CleanEvery <= 0 {
		cfg.CleanEvery = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With().Str("module", "fileserver").Logger()}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /file", s.upload)
	s.mux.HandleFunc("GET /file/{id}", s.download)
	s.mux.HandleFunc("GET /file/{id}/info", s.info)
	outer := http.NewServeMux()
	outer.Handle("/file", s.mux)
	outer.Handle("/file/", s.mux)
	outer.HandleFunc("POST /oxen/v4/lsrpc", onion.V4Handler(s.mux, s.cfg.Key))
	s.http = httpserve.New(s.cfg.Addr, outer, s.log)
	return s, nil
}

// Start opens the database, binds and serves.
func (s *Server) Start(ctx context.Context) error {
	db, err := sqlitedb.Open(ctx, filepath.Join(s.cfg.Dir, "files.db"), []string{
		`CREATE TABLE files (id TEXT PRIMARY KEY, data BLOB NOT NULL, uploaded INTEGER NOT NULL, expires INTEGER NOT NULL) STRICT;
		 CREATE INDEX files_expires ON files (expires);`,
	})
	if err != nil {
		return err
	}
	s.db = db
	if err := s.http.Start(ctx); err != nil {
		db.Close()
		return fmt.Errorf("file server: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		loop.Every(runCtx, s.cfg.CleanEvery, s.clean)
	}()
	s.log.Info().Str("url", s.URL()).Msg("file server started")
	return nil
}

// URL is where the server listens ("" before Start).
func (s *Server) URL() string { return s.http.URL() }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.http.Ready() }

// Err delivers a failure of the server after Start.
func (s *Server) Err() <-chan error { return s.http.Err() }

// Close stops the server, waits for its handlers and its cleaner, and
// closes the database. Safe to call twice.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.http.Close()
		if s.stop == nil {
			return // never started
		}
		s.stop()
		s.wg.Wait()
		err = errors.Join(err, s.db.Close())
	})
	return err
}

// clean removes expired files.
func (s *Server) clean(ctx context.Context) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM files WHERE expires <= ?`, s.cfg.Now().UnixMilli())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error().Err(err).Msg("remove expired files")
		}
		return
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.Debug().Int64("removed", n).Msg("expired files removed")
	}
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUploadSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpserve.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a file is at most %d bytes", MaxUploadSize))
			return
		}
		httpserve.WriteError(w, http.StatusBadRequest, "unreadable body")
		return
	}
	if len(data) == 0 {
		httpserve.WriteError(w, http.StatusBadRequest, "an empty file")
		return
	}
	now := s.cfg.Now()
	var id string
	for attempt := 0; ; attempt++ {
		id = newID()
		res, err := s.db.ExecContext(r.Context(), `INSERT INTO files (id, data, uploaded, expires) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, data, now.UnixMilli(), now.Add(s.cfg.Expiry).UnixMilli())
		if err != nil {
			s.log.Error().Err(err).Msg("store file")
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
		if n, _ := res.RowsAffected(); n == 1 {
			break
		}
		if attempt == 3 {
			httpserve.WriteError(w, http.StatusInternalServerError, "no free file id")
			return
		}
	}
	s.log.Debug().Str("id", id).Int("size", len(data)).Msg("file stored")
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"id": id})
}

// newID returns a random file id in decimal digits, below 2^53 so that
// clients that read it as a JavaScript number keep it exact, and random so
// that nobody lists the server's files by counting.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return strconv.FormatUint(binary.BigEndian.Uint64(b[:])%(1<<53-1)+1, 10)
}

// FileInfo is the answer of /file/{id}/info.
type FileInfo struct {
	ID       string  `json:"id"`
	Size     int     `json:"size"`
	Uploaded float64 `json:"uploaded"` // unix seconds
	Expires  float64 `json:"expires"`  // unix seconds
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, withData bool) ([]byte, *FileInfo) {
	id := r.PathValue("id")
	var fi FileInfo
	var data []byte
	var uploaded, expires int64
	err := s.db.QueryRowContext(r.Context(), `SELECT data, uploaded, expires FROM files WHERE id = ? AND expires > ?`, id, s.cfg.Now().UnixMilli()).
		Scan(&data, &uploaded, &expires)
	fi.Uploaded, fi.Expires = float64(uploaded)/1000, float64(expires)/1000
	if errors.Is(err, sql.ErrNoRows) {
		httpserve.WriteError(w, http.StatusNotFound, "no such file (or it expired)")
		return nil, nil
	}
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return nil, nil
	}
	fi.ID, fi.Size = id, len(data)
	return data, &fi
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	data, fi := s.lookup(w, r, true)
	if fi == nil {
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	if _, fi := s.lookup(w, r, false); fi != nil {
		httpserve.WriteJSON(w, http.StatusOK, fi)
	}
}
