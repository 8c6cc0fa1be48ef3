package community

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Pin is a pinned message of a room.
type Pin struct {
	ID       int64   `json:"id"`
	PinnedAt float64 `json:"pinned_at"`
	PinnedBy string  `json:"pinned_by"`
}

// RoomInfo is a room as /rooms, /room/{token} and a poll's "details"
// describe it (pysogs sogs/routes/rooms.py get_room_info).
type RoomInfo struct {
	Token             string   `json:"token"`
	Name              string   `json:"name"`
	Description       string   `json:"description,omitempty"`
	InfoUpdates       int64    `json:"info_updates"`
	Seqno             int64    `json:"message_sequence"`
	Created           float64  `json:"created"`
	ActiveUsers       int64    `json:"active_users"`
	ActiveUsersCutoff int64    `json:"active_users_cutoff"`
	Moderators        []string `json:"moderators"`
	Admins            []string `json:"admins"`
	Read              bool     `json:"read"`
	Write             bool     `json:"write"`
	Upload            bool     `json:"upload"`
	PinnedMessages    []Pin    `json:"pinned_messages,omitempty"`
	HiddenModerators  []string `json:"hidden_moderators,omitempty"`
	HiddenAdmins      []string `json:"hidden_admins,omitempty"`
	modView
}

// modView is what a poll and a room's details add for a moderator (and
// what they say of the user's own roles).
type modView struct {
	Moderator         bool  `json:"moderator,omitempty"`
	Admin             bool  `json:"admin,omitempty"`
	GlobalModerator   bool  `json:"global_moderator,omitempty"`
	GlobalAdmin       bool  `json:"global_admin,omitempty"`
	DefaultRead       *bool `json:"default_read,omitempty"`
	DefaultAccessible *bool `json:"default_accessible,omitempty"`
	DefaultWrite      *bool `json:"default_write,omitempty"`
	DefaultUpload     *bool `json:"default_upload,omitempty"`
}

func viewOf(rm *room, p perms) modView {
	v := modView{Moderator: p.mod, Admin: p.admin, GlobalModerator: p.globalMod, GlobalAdmin: p.globalAdmin}
	if p.mod {
		v.DefaultRead, v.DefaultAccessible, v.DefaultWrite, v.DefaultUpload = &rm.DefRead, &rm.DefAccessible, &rm.DefWrite, &rm.DefUpload
	}
	return v
}

// Mods lists the moderators and admins of a room as the user may see them.
type mods struct{ mods, admins, hiddenMods, hiddenAdmins []string }

// roomMods returns a room's moderators (its own and the global ones), the
// hidden ones only for a moderator, each list sorted.
func (s *Server) roomMods(ctx context.Context, q querier, token string, viewerIsMod bool) (mods, error) {
	m := mods{mods: []string{}, admins: []string{}}
	rows, err := q.QueryContext(ctx, `SELECT session_id, max(admin), max(visible) FROM moderators WHERE room IN (?, '') GROUP BY session_id ORDER BY session_id`, token)
	if err != nil {
		return m, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	add := func(id string, admin, visible bool) {
		if seen[id] {
			return
		}
		seen[id] = true
		switch {
		case visible && admin:
			m.admins = append(m.admins, id)
		case visible:
			m.mods = append(m.mods, id)
		case !viewerIsMod:
		case admin:
			m.hiddenAdmins = append(m.hiddenAdmins, id)
		default:
			m.hiddenMods = append(m.hiddenMods, id)
		}
	}
	for rows.Next() {
		var id string
		var admin, visible bool
		if err := rows.Scan(&id, &admin, &visible); err != nil {
			return m, err
		}
		add(id, admin, visible)
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	for _, a := range s.cfg.Admins { // configured global admins: hidden, as pysogs adds them
		add(a, true, false)
	}
	for _, l := range []*[]string{&m.mods, &m.admins, &m.hiddenMods, &m.hiddenAdmins} {
		slices.Sort(*l)
	}
	return m, nil
}

// roomInfo builds the room object for user with perms p.
func (s *Server) roomInfo(ctx context.Context, rm *room, p perms) (*RoomInfo, error) {
	ri := &RoomInfo{Token: rm.Token, Name: rm.Name, Description: rm.Description.String, InfoUpdates: rm.InfoUpdates, Seqno: rm.Seqno,
		Created: rm.Created, ActiveUsersCutoff: activeCutoff, Read: p.read(), Write: p.write(), Upload: p.upload(), modView: viewOf(rm, p)}
	var err error
	if ri.ActiveUsers, err = s.activeUsers(ctx, rm.Token); err != nil {
		return nil, err
	}
	m, err := s.roomMods(ctx, s.db, rm.Token, p.mod)
	if err != nil {
		return nil, err
	}
	ri.Moderators, ri.Admins, ri.HiddenModerators, ri.HiddenAdmins = m.mods, m.admins, m.hiddenMods, m.hiddenAdmins
	rows, err := s.db.QueryContext(ctx, `SELECT message, pinned_at, pinned_by FROM pinned WHERE room = ? ORDER BY pinned_at, message`, rm.Token)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var pin Pin
		if err := rows.Scan(&pin.ID, &pin.PinnedAt, &pin.PinnedBy); err != nil {
			return nil, err
		}
		ri.PinnedMessages = append(ri.PinnedMessages, pin)
	}
	return ri, rows.Err()
}

func (s *Server) activeUsers(ctx context.Context, token string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM room_users WHERE room = ? AND last_active >= ?`, token, s.now()-activeCutoff).Scan(&n)
	return n, err
}

// touchRoom records that the user polled a room (active_users).
func (s *Server) touchRoom(ctx context.Context, token, id string) {
	if id == "" {
		return
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO room_users (room, session_id, last_active) VALUES (?, ?, ?)
		ON CONFLICT (room, session_id) DO UPDATE SET last_active = excluded.last_active`, token, id, s.now()); err != nil {
		s.log.Warn().Err(err).Msg("room activity")
	}
}

func (s *Server) rooms(w http.ResponseWriter, r *http.Request) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT token FROM rooms ORDER BY token`)
	if err != nil {
		storageFailure(w)
		return
	}
	var tokens []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			storageFailure(w)
			return
		}
		tokens = append(tokens, t)
	}
	rows.Close()
	out := []*RoomInfo{}
	for _, t := range tokens {
		rm, err := loadRoom(r.Context(), s.db, t)
		if err != nil {
			continue // removed meanwhile
		}
		p, err := s.permsFor(r.Context(), s.db, rm, user(r))
		if err != nil {
			storageFailure(w)
			return
		}
		if !p.accessible() {
			continue // a ban hides the room, as pysogs's get_accessible_rooms
		}
		ri, err := s.roomInfo(r.Context(), rm, p)
		if err != nil {
			storageFailure(w)
			return
		}
		out = append(out, ri)
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) room(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !p.accessible() { // pysogs accessible_required: a banned user does not see it
		httpserve.WriteError(w, http.StatusNotFound, "no such room")
		return
	}
	ri, err := s.roomInfo(r.Context(), rm, p)
	if err != nil {
		storageFailure(w)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, ri)
}

// PollInfo is the answer of GET /room/{token}/pollInfo/{info_updates}: the
// room's details only when its info_updates differs from the caller's.
type PollInfo struct {
	Token       string    `json:"token"`
	ActiveUsers int64     `json:"active_users"`
	Read        bool      `json:"read"`
	Write       bool      `json:"write"`
	Upload      bool      `json:"upload"`
	Details     *RoomInfo `json:"details,omitempty"`
	modView
}

func (s *Server) pollInfo(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	info, err := strconv.ParseInt(r.PathValue("info"), 10, 64)
	if err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "pollInfo/N: want an integer")
		return
	}
	if !needRead(w, p) {
		return
	}
	s.touchRoom(r.Context(), rm.Token, user(r))
	out := PollInfo{Token: rm.Token, Read: p.read(), Write: p.write(), Upload: p.upload(), modView: viewOf(rm, p)}
	if out.ActiveUsers, err = s.activeUsers(r.Context(), rm.Token); err != nil {
		storageFailure(w)
		return
	}
	if info != rm.InfoUpdates {
		if out.Details, err = s.roomInfo(r.Context(), rm, p); err != nil {
			storageFailure(w)
			return
		}
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}
