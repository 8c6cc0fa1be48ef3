package community

import (
	"encoding/json"
	"net/http"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

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
