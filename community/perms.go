package community

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// room is a room's row.
type room struct {
	Token, Name                                 string
	Description                                 sql.NullString
	Created                                     float64
	Seqno, InfoUpdates                          int64
	DefRead, DefAccessible, DefWrite, DefUpload bool
}

func loadRoom(ctx context.Context, q querier, token string) (*room, error) {
	rm := &room{Token: token}
	err := q.QueryRowContext(ctx, `SELECT name, description, created, seqno, info_updates, default_read, default_accessible, default_write, default_upload
		FROM rooms WHERE token = ?`, token).Scan(&rm.Name, &rm.Description, &rm.Created, &rm.Seqno, &rm.InfoUpdates,
		&rm.DefRead, &rm.DefAccessible, &rm.DefWrite, &rm.DefUpload)
	return rm, err
}

// perms is what a user may do in a room, as pysogs's Room.check_permission
// decides: admins and moderators may do everything; anyone else what the
// room's defaults allow, unless banned.
type perms struct {
	banned, mod, admin     bool // in this room (mod and admin include global ones)
	globalMod, globalAdmin bool
	defaults               *room
}

func (p perms) read() bool { return p.mod || (!p.banned && p.defaults.DefRead) }
func (p perms) accessible() bool {
	return p.mod || (!p.banned && (p.defaults.DefAccessible || p.defaults.DefRead))
}
func (p perms) write() bool { return p.mod || (!p.banned && p.defaults.DefWrite) }
func (p perms) upload() bool {
	return p.mod || (!p.banned && p.defaults.DefWrite && p.defaults.DefUpload)
}

// globalRole returns id's global roles: a configured admin, or one the
// moderators table holds for room ”.
func (s *Server) globalRole(ctx context.Context, q querier, id string) (mod, admin bool, err error) {
	if id == "" {
		return false, false, nil
	}
	a, b := spellings(id)
	if slices.Contains(s.cfg.Admins, a) || slices.Contains(s.cfg.Admins, b) {
		return true, true, nil
	}
	var ad bool
	switch err := q.QueryRowContext(ctx, `SELECT max(admin) FROM moderators WHERE room = '' AND session_id IN (?, ?) HAVING count(*) > 0`, a, b).Scan(&ad); {
	case errors.Is(err, sql.ErrNoRows):
		return false, false, nil
	case err != nil:
		return false, false, err
	}
	return true, ad, nil
}

// permsFor computes id's permissions in rm ("" is a user without
// authentication).
func (s *Server) permsFor(ctx context.Context, q querier, rm *room, id string) (perms, error) {
	p := perms{defaults: rm}
	if id == "" {
		return p, nil
	}
	var err error
	if p.globalMod, p.globalAdmin, err = s.globalRole(ctx, q, id); err != nil {
		return p, err
	}
	p.mod, p.admin = p.globalMod, p.globalAdmin
	a, b := spellings(id)
	var ad bool
	switch err := q.QueryRowContext(ctx, `SELECT max(admin) FROM moderators WHERE room = ? AND session_id IN (?, ?) HAVING count(*) > 0`, rm.Token, a, b).Scan(&ad); {
	case err == nil:
		p.mod, p.admin = true, p.admin || ad
	case !errors.Is(err, sql.ErrNoRows):
		return p, err
	}
	var x int
	switch err := q.QueryRowContext(ctx, `SELECT 1 FROM bans WHERE room = ? AND session_id IN (?, ?) AND (until IS NULL OR until > ?)`, rm.Token, a, b, s.now()).Scan(&x); {
	case err == nil:
		p.banned = true
	case !errors.Is(err, sql.ErrNoRows):
		return p, err
	}
	return p, nil
}

// globallyBanned reports a ban from the whole server (unreadable: banned).
func (s *Server) globallyBanned(ctx context.Context, id string) bool {
	a, b := spellings(id)
	var x int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM bans WHERE room = '' AND session_id IN (?, ?) AND (until IS NULL OR until > ?)`, a, b, s.now()).Scan(&x)
	return !errors.Is(err, sql.ErrNoRows)
}

type roomCtx struct {
	rm *room
	p  perms
}

type roomKey struct{}

// inRoom loads the path's room and the user's permissions in it before h:
// a room that does not exist is 404, as pysogs's Room converter answers.
// Each handler then checks what it needs (a banned user reads and writes
// nothing: 403; GET /room/{token} does not show it the room: 404).
func (s *Server) inRoom(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rm, err := loadRoom(r.Context(), s.db, r.PathValue("token"))
		if errors.Is(err, sql.ErrNoRows) {
			httpserve.WriteError(w, http.StatusNotFound, "no such room")
			return
		}
		if err != nil {
			storageFailure(w)
			return
		}
		p, err := s.permsFor(r.Context(), s.db, rm, user(r))
		if err != nil {
			storageFailure(w)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), roomKey{}, roomCtx{rm, p})))
	}
}

// roomOf returns what inRoom loaded.
func roomOf(r *http.Request) (*room, perms) {
	rc := r.Context().Value(roomKey{}).(roomCtx)
	return rc.rm, rc.p
}

func storageFailure(w http.ResponseWriter) {
	httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
}

// needUser answers 401 when the request has no user.
func needUser(w http.ResponseWriter, r *http.Request) bool {
	if user(r) == "" {
		httpserve.WriteError(w, http.StatusUnauthorized, "this endpoint needs X-SOGS authentication")
		return false
	}
	return true
}

// needRead answers 403 when the user may not read the room.
func needRead(w http.ResponseWriter, p perms) bool {
	if !p.read() {
		msg := "you may not read this room"
		if p.banned {
			msg = "you are banned from this room"
		}
		httpserve.WriteError(w, http.StatusForbidden, msg)
		return false
	}
	return true
}
