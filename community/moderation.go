package community

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Moderators and bans, room by room or global, with pysogs's request
// shapes and rules (sogs/routes/users.py, sogs/model/room.py).

// scope is the rooms a moderation request names, or the whole server.
type scope struct {
	rooms  []*room // nil when global
	global bool
}

// targetRooms reads {"rooms": [...]} or {"global": true} and checks the
// caller's rights: an admin (or, with modOnly, a moderator) of every room
// named (["*"]: every room where they are one), or for global a global
// admin (moderator). It answers the refusal itself and reports false.
func (s *Server) targetRooms(w http.ResponseWriter, r *http.Request, rooms []string, global, modOnly bool) (scope, bool) {
	ctx := r.Context()
	me := user(r)
	switch {
	case len(rooms) > 0 && global:
		httpserve.WriteError(w, http.StatusBadRequest, `give "rooms" or "global", not both`)
		return scope{}, false
	case len(rooms) == 0 && !global:
		httpserve.WriteError(w, http.StatusBadRequest, `give "rooms" (a list of room tokens, or ["*"]) or "global": true`)
		return scope{}, false
	case global:
		gm, ga, err := s.globalRole(ctx, s.db, me)
		if err != nil {
			storageFailure(w)
			return scope{}, false
		}
		if !gm || (!modOnly && !ga) {
			httpserve.WriteError(w, http.StatusForbidden, "only a global admin (or, to ban, a global moderator) may act on the whole server")
			return scope{}, false
		}
		return scope{global: true}, true
	}
	all := len(rooms) == 1 && rooms[0] == "*"
	if !all {
		for _, t := range rooms {
			if t == "*" {
				httpserve.WriteError(w, http.StatusBadRequest, `room "*" must be the only one`)
				return scope{}, false
			}
		}
	}
	if all {
		rooms = nil
		rows, err := s.db.QueryContext(ctx, `SELECT token FROM rooms ORDER BY token`)
		if err != nil {
			storageFailure(w)
			return scope{}, false
		}
		for rows.Next() {
			var t string
			if rows.Scan(&t) == nil {
				rooms = append(rooms, t)
			}
		}
		rows.Close()
	}
	var sc scope
	for _, t := range rooms {
		rm, err := loadRoom(ctx, s.db, t)
		if err != nil {
			if all {
				continue
			}
			httpserve.WriteError(w, http.StatusNotFound, "no such room: "+t)
			return scope{}, false
		}
		p, err := s.permsFor(ctx, s.db, rm, me)
		if err != nil {
			storageFailure(w)
			return scope{}, false
		}
		if ok := p.admin || (modOnly && p.mod); !ok {
			if all {
				continue
			}
			httpserve.WriteError(w, http.StatusForbidden, map[bool]string{false: "only an admin of the room may appoint moderators", true: "only a moderator of the room may ban"}[modOnly])
			return scope{}, false
		}
		sc.rooms = append(sc.rooms, rm)
	}
	if len(sc.rooms) == 0 {
		httpserve.WriteError(w, http.StatusForbidden, "you moderate none of these rooms")
		return scope{}, false
	}
	return sc, true
}

func (s *Server) targetUser(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !needUser(w, r) {
		return "", false
	}
	id, ok := s.parseUserID(r.Context(), r.PathValue("id"))
	if !ok {
		httpserve.WriteError(w, http.StatusNotFound, "user: want a blinded ID (15 or 25) or a Session ID (05)")
		return "", false
	}
	return id, true
}

// moderator adds or removes a moderator or admin (pysogs set_mod):
// {"moderator": bool, "admin": bool, "visible": bool} and the scope.
func (s *Server) moderator(w http.ResponseWriter, r *http.Request) {
	target, ok := s.targetUser(w, r)
	if !ok {
		return
	}
	var req struct {
		Rooms     []string `json:"rooms"`
		Global    bool     `json:"global"`
		Moderator *bool    `json:"moderator"`
		Admin     *bool    `json:"admin"`
		Visible   *bool    `json:"visible"`
	}
	if readJSON(r, 1<<16, &req) != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"rooms": [...] or "global": true, "moderator": bool, "admin": bool}`)
		return
	}
	mod, admin := req.Moderator, req.Admin
	switch {
	case mod == nil && admin == nil:
		httpserve.WriteError(w, http.StatusBadRequest, "give moderator or admin (true or false)")
		return
	case admin != nil && *admin && mod != nil && !*mod:
		httpserve.WriteError(w, http.StatusBadRequest, "admin true with moderator false is impossible")
		return
	case admin != nil && *admin:
		mod = nil // admin implies moderator
	case mod != nil && !*mod && admin != nil && !*admin:
		admin = nil // not a moderator implies not an admin
	}
	sc, ok := s.targetRooms(w, r, req.Rooms, req.Global, false)
	if !ok {
		return
	}
	visible := !sc.global // rooms' moderators show, global ones hide, unless told
	if req.Visible != nil {
		visible = *req.Visible
	}
	tokens := []string{""}
	if !sc.global {
		tokens = tokens[:0]
		for _, rm := range sc.rooms {
			tokens = append(tokens, rm.Token)
		}
	}
	a, b := spellings(target)
	infos := map[string]int64{}
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		for _, t := range tokens {
			var err error
			switch {
			case admin != nil && *admin: // add admin
				_, err = tx.ExecContext(r.Context(), `INSERT INTO moderators (room, session_id, admin, visible) VALUES (?, ?, 1, ?)
					ON CONFLICT (room, session_id) DO UPDATE SET admin = 1, visible = excluded.visible`, t, target, visible)
			case mod != nil && *mod && admin == nil: // add moderator, admin untouched
				_, err = tx.ExecContext(r.Context(), `INSERT INTO moderators (room, session_id, admin, visible) VALUES (?, ?, 0, ?)
					ON CONFLICT (room, session_id) DO UPDATE SET visible = excluded.visible`, t, target, visible)
			case mod != nil && !*mod: // remove moderator and admin
				_, err = tx.ExecContext(r.Context(), `DELETE FROM moderators WHERE room = ? AND session_id IN (?, ?)`, t, a, b)
			case admin != nil && !*admin && mod != nil && *mod: // admin to moderator
				_, err = tx.ExecContext(r.Context(), `INSERT INTO moderators (room, session_id, admin, visible) VALUES (?, ?, 0, ?)
					ON CONFLICT (room, session_id) DO UPDATE SET admin = 0, visible = excluded.visible`, t, target, visible)
			default: // remove admin only
				_, err = tx.ExecContext(r.Context(), `UPDATE moderators SET admin = 0 WHERE room = ? AND session_id IN (?, ?)`, t, a, b)
			}
			if err != nil {
				return err
			}
		}
		return bumpInfo(r.Context(), tx, tokens, infos)
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"info_updates": infos})
}

// bumpInfo increments info_updates of the rooms ("" is every room) and
// records the new values.
func bumpInfo(ctx context.Context, tx *sql.Tx, tokens []string, infos map[string]int64) error {
	q := `UPDATE rooms SET info_updates = info_updates + 1 WHERE token = ? RETURNING token, info_updates`
	for _, t := range tokens {
		args := []any{t}
		if t == "" {
			q, args = `UPDATE rooms SET info_updates = info_updates + 1 RETURNING token, info_updates`, nil
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var tok string
			var n int64
			if err := rows.Scan(&tok, &n); err != nil {
				rows.Close()
				return err
			}
			infos[tok] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// ban bans (pysogs ban_user: {"rooms"|"global", "timeout": seconds}) or
// unbans a user. A moderator bans from its rooms, but only an admin bans
// a moderator (who then moderates no more), nobody bans a global
// moderator or themselves.
func (s *Server) ban(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		target, ok := s.targetUser(w, r)
		if !ok {
			return
		}
		var req struct {
			Rooms   []string        `json:"rooms"`
			Global  bool            `json:"global"`
			Timeout json.RawMessage `json:"timeout"`
		}
		if readJSON(r, 1<<16, &req) != nil {
			httpserve.WriteError(w, http.StatusBadRequest, `want {"rooms": [...]} or {"global": true}`)
			return
		}
		var until sql.NullFloat64
		if on && len(req.Timeout) > 0 && string(req.Timeout) != "null" {
			var t float64
			if json.Unmarshal(req.Timeout, &t) != nil {
				httpserve.WriteError(w, http.StatusBadRequest, "timeout: want seconds")
				return
			}
			until = sql.NullFloat64{Float64: s.now() + t, Valid: true}
		}
		sc, ok := s.targetRooms(w, r, req.Rooms, req.Global, true)
		if !ok {
			return
		}
		ctx := r.Context()
		me := user(r)
		a, b := spellings(target)
		if on {
			if me == a || me == b {
				httpserve.WriteError(w, http.StatusForbidden, "you cannot ban yourself")
				return
			}
			gm, _, err := s.globalRole(ctx, s.db, target)
			if err != nil {
				storageFailure(w)
				return
			}
			if gm {
				httpserve.WriteError(w, http.StatusForbidden, "a global moderator cannot be banned")
				return
			}
			for _, rm := range sc.rooms {
				tp, err1 := s.permsFor(ctx, s.db, rm, target)
				mp, err2 := s.permsFor(ctx, s.db, rm, me)
				if err1 != nil || err2 != nil {
					storageFailure(w)
					return
				}
				if tp.mod && !mp.admin {
					httpserve.WriteError(w, http.StatusForbidden, "only an admin may ban a moderator")
					return
				}
			}
		}
		tokens := []string{""}
		if !sc.global {
			tokens = tokens[:0]
			for _, rm := range sc.rooms {
				tokens = append(tokens, rm.Token)
			}
		}
		err := s.withTx(ctx, func(tx *sql.Tx) error {
			for _, t := range tokens {
				if _, err := tx.ExecContext(ctx, `DELETE FROM bans WHERE room = ? AND session_id IN (?, ?)`, t, a, b); err != nil {
					return err
				}
				if !on {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO bans (room, session_id, until) VALUES (?, ?, ?)`, t, target, until); err != nil {
					return err
				}
				if t == "" {
					continue
				}
				res, err := tx.ExecContext(ctx, `DELETE FROM moderators WHERE room = ? AND session_id IN (?, ?)`, t, a, b)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n > 0 {
					if err := bumpInfo(ctx, tx, []string{t}, map[string]int64{}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			writeTxError(w, err)
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{})
	}
}
