package community

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

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
	key, _ := hex.DecodeString(signer(r))
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
		ri.Token, signer(r), posted, seq, data, sig)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	id, _ := res.LastInsertId()
	httpserve.WriteJSON(w, http.StatusCreated, Message{ID: id, SessionID: signer(r), Posted: posted, Seqno: seq, Data: &req.Data, Signature: &req.Signature})
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
	if a, _ := s.canonicalID(author); a != u {
		if mod, _ := s.role(r.Context(), ri.Token, u); !mod {
			httpserve.WriteError(w, http.StatusForbidden, "only its author or a moderator may delete a message")
			return
		}
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
