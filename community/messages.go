package community

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Message is a room message as the API returns it (pysogs
// sogs/model/room.py get_messages_for). A reaction-only update (from
// messages/since with t=r) has only ID, Seqno and Reactions.
type Message struct {
	ID        int64                `json:"id"`
	SessionID string               `json:"session_id,omitempty"`
	Posted    float64              `json:"posted,omitempty"`
	Seqno     int64                `json:"seqno"`
	Edited    float64              `json:"edited,omitempty"`
	Data      *string              `json:"data,omitempty"` // base64; null once deleted
	Signature *string              `json:"signature,omitempty"`
	Deleted   bool                 `json:"deleted,omitempty"`
	Reactions *map[string]Reaction `json:"reactions,omitempty"`
}

// MarshalJSON writes "data" as null for a deletion, absent for a
// reaction-only update.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	if !m.Deleted {
		return json.Marshal(plain(m))
	}
	return json.Marshal(struct {
		plain
		Data *string `json:"data"`
	}{plain: plain(m)})
}

// Reaction is one emoji's reactions to a message.
type Reaction struct {
	Index    int      `json:"index"`
	Count    int      `json:"count"`
	Reactors []string `json:"reactors,omitempty"`
	You      bool     `json:"you,omitempty"`
}

// intParam reads an integer query parameter as pysogs's get_int_param with
// truncate: absent is def, out of [lo, hi] is clamped, not a number is 400.
func intParam(r *http.Request, name string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, false
	}
	return min(max(n, lo), hi), true
}

// listMessages serves messages/recent, /before/{id}, /since/{seqno} and
// message/{id}.
func (s *Server) listMessages(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rm, p := roomOf(r)
		var arg int64
		if kind != "recent" {
			name := map[string]string{"before": "id", "since": "seqno", "single": "id"}[kind]
			var err error
			if arg, err = strconv.ParseInt(r.PathValue(name), 10, 64); err != nil {
				httpserve.WriteError(w, http.StatusNotFound, name+": want an integer")
				return
			}
		}
		if !needRead(w, p) {
			return
		}
		limit, ok1 := intParam(r, "limit", 100, 1, maxLimit)
		reactors, ok2 := intParam(r, "reactors", 4, 0, 20)
		if !ok1 || !ok2 {
			httpserve.WriteError(w, http.StatusBadRequest, "limit and reactors: want integers")
			return
		}
		s.touchRoom(r.Context(), rm.Token, user(r))
		q := `SELECT id, session_id, posted, seqno, seqno_data, seqno_reactions, edited, data, signature FROM messages WHERE room = ? `
		args := []any{rm.Token}
		switch kind {
		case "since":
			q += `AND seqno > ? AND (data IS NOT NULL OR seqno_creation <= ?) `
			args = append(args, arg, arg)
			if !hasFlag(r.URL.Query().Get("t"), 'r') {
				q += `AND seqno_data > ? `
				args = append(args, arg)
			}
			q += `ORDER BY seqno LIMIT ?`
		case "before":
			q += `AND data IS NOT NULL AND id < ? ORDER BY id DESC LIMIT ?`
			args = append(args, arg)
		case "recent":
			q += `AND data IS NOT NULL ORDER BY id DESC LIMIT ?`
		case "single":
			q += `AND data IS NOT NULL AND id = ? LIMIT ?`
			args = append(args, arg)
		}
		args = append(args, limit)
		msgs, err := s.queryMessages(r.Context(), q, args, kind == "since", arg)
		if err == nil {
			err = s.addReactions(r.Context(), msgs, user(r), reactors)
		}
		if err != nil {
			storageFailure(w)
			return
		}
		if kind == "single" {
			if len(msgs) == 0 {
				httpserve.WriteError(w, http.StatusNotFound, "no such message")
				return
			}
			httpserve.WriteJSON(w, http.StatusOK, msgs[0])
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, msgs)
	}
}

func hasFlag(flags string, f byte) bool {
	for i := 0; i < len(flags); i++ {
		if flags[i] == f {
			return true
		}
	}
	return false
}

// queryMessages runs a message query; for a since query, a message whose
// only change after since is its reactions is a reaction-only update.
func (s *Server) queryMessages(ctx context.Context, q string, args []any, since bool, seq int64) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		var m Message
		var seqData, seqReact int64
		var edited sql.NullFloat64
		var data, sig []byte
		if err := rows.Scan(&m.ID, &m.SessionID, &m.Posted, &m.Seqno, &seqData, &seqReact, &edited, &data, &sig); err != nil {
			return nil, err
		}
		if since && seqReact > seq && seq >= seqData {
			out = append(out, Message{ID: m.ID, Seqno: m.Seqno})
			continue
		}
		m.Edited = edited.Float64
		if data == nil {
			m.Deleted = true
		} else {
			d, sg := base64.StdEncoding.EncodeToString(data), base64.StdEncoding.EncodeToString(sig)
			m.Data, m.Signature = &d, &sg
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// addReactions fills in each (not deleted) message's reactions: count,
// display order, whether the user reacted, and the first reactors.
func (s *Server) addReactions(ctx context.Context, msgs []Message, me string, reactors int) error {
	a, b := spellings(me)
	for i := range msgs {
		if msgs[i].Deleted {
			continue
		}
		reacts := map[string]Reaction{}
		msgs[i].Reactions = &reacts
		rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.reaction, count(*), max(u.session_id IN (?, ?)) FROM reactions r JOIN user_reactions u ON u.reaction = r.id
			WHERE r.message = ? GROUP BY r.id ORDER BY r.id`, a, b, msgs[i].ID)
		if err != nil {
			return err
		}
		var ids []int64
		var names []string
		for rows.Next() {
			var id int64
			var re Reaction
			var name string
			if err := rows.Scan(&id, &name, &re.Count, &re.You); err != nil {
				rows.Close()
				return err
			}
			re.You = re.You && me != ""
			re.Index = len(reacts)
			reacts[name] = re
			ids, names = append(ids, id), append(names, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if reactors == 0 {
			continue
		}
		for j, id := range ids {
			who, err := s.reactorIDs(ctx, id, reactors)
			if err != nil {
				return err
			}
			re := reacts[names[j]]
			re.Reactors = who
			reacts[names[j]] = re
		}
	}
	return nil
}

func (s *Server) reactorIDs(ctx context.Context, reaction int64, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT session_id FROM user_reactions WHERE reaction = ? ORDER BY at, rowid LIMIT ?`, reaction, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// readJSON decodes a JSON request body (at most max bytes) into v.
func readJSON(r *http.Request, max int64, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, max)).Decode(v)
}

// decodeB64 reads base64 with or without padding, as pysogs's decode_base64.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return b, err
}

// withTx runs f in one transaction (taken for writing at once: the
// database's _txlock=immediate), so a change is whole or not at all.
func (s *Server) withTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// bump increments a room's message sequence and returns it.
func bump(ctx context.Context, q querier, room string) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, `UPDATE rooms SET seqno = seqno + 1 WHERE token = ? RETURNING seqno`, room).Scan(&seq)
	return seq, err
}

// refused is an answer decided inside a transaction.
type refused struct {
	code int
	msg  string
}

func (e *refused) Error() string { return e.msg }

// writeTxError answers a refusal with its status, anything else as a
// storage failure.
func writeTxError(w http.ResponseWriter, err error) {
	var rf *refused
	if errors.As(err, &rf) {
		httpserve.WriteError(w, rf.code, rf.msg)
		return
	}
	storageFailure(w)
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !needUser(w, r) {
		return
	}
	if !p.write() {
		msg := "you may not post in this room"
		if p.banned {
			msg = "you are banned from this room"
		}
		httpserve.WriteError(w, http.StatusForbidden, msg)
		return
	}
	var req struct {
		Data        *string         `json:"data"`
		Signature   *string         `json:"signature"`
		WhisperTo   json.RawMessage `json:"whisper_to"`
		WhisperMods bool            `json:"whisper_mods"`
		Files       []int64         `json:"files"`
	}
	if readJSON(r, 2*maxMessageSize, &req) != nil || req.Data == nil || req.Signature == nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"data", "signature"} in base64`)
		return
	}
	if (len(req.WhisperTo) > 0 && string(req.WhisperTo) != "null") || req.WhisperMods {
		httpserve.WriteError(w, http.StatusBadRequest, "whispers are not offered by this server")
		return
	}
	if len(req.Files) > 100 {
		httpserve.WriteError(w, http.StatusBadRequest, "files: at most 100")
		return
	}
	data, err1 := decodeB64(*req.Data)
	sig, err2 := decodeB64(*req.Signature)
	u := user(r)
	key, _ := hex.DecodeString(u)
	if err1 != nil || err2 != nil || len(data) == 0 || len(data) > maxMessageSize || len(sig) != 64 || !ed25519.Verify(key[1:], data, sig) {
		httpserve.WriteError(w, http.StatusBadRequest, "the message must be 1-100,000 bytes with its poster's signature")
		return
	}
	var m Message
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		if !p.admin { // pysogs exempts admins only: moderators are limited too
			a, b := spellings(u)
			var n int
			if err := tx.QueryRowContext(r.Context(), `SELECT count(*) FROM messages WHERE room = ? AND session_id IN (?, ?) AND posted >= ?`,
				rm.Token, a, b, s.now()-postWindow.Seconds()).Scan(&n); err != nil {
				return err
			}
			if n >= postBurst {
				return &refused{http.StatusTooManyRequests, "too many posts: at most 5 in 16 seconds"}
			}
		}
		seq, err := bump(r.Context(), tx, rm.Token)
		if err != nil {
			return err
		}
		posted := s.now()
		if err := tx.QueryRowContext(r.Context(), `INSERT INTO messages (room, session_id, posted, seqno, seqno_data, seqno_creation, data, signature)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, rm.Token, u, posted, seq, seq, seq, data, sig).Scan(&m.ID); err != nil {
			return err
		}
		// Files named by the post are kept as long as room files are kept
		// (pysogs's _own_files; here a file is kept that long anyway).
		for _, f := range req.Files {
			if _, err := tx.ExecContext(r.Context(), `UPDATE files SET expires = ? WHERE id = ? AND room = ? AND uploader = ?`,
				posted+fileExpiry, f, rm.Token, u); err != nil {
				return err
			}
		}
		m.SessionID, m.Posted, m.Seqno, m.Data, m.Signature = u, posted, seq, req.Data, req.Signature
		m.Reactions = &map[string]Reaction{}
		return nil
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusCreated, m)
}

// deleteTx deletes messages (ids of the room, not yet deleted): each gets
// a new sequence number, so pollers learn of it; pins of them go.
func deleteTx(ctx context.Context, tx *sql.Tx, token string, ids []int64) error {
	for _, id := range ids {
		seq, err := bump(ctx, tx, token)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET deleted = 1, data = NULL, signature = NULL, seqno_data = ?, seqno = max(?, seqno_reactions)
			WHERE id = ?`, seq, seq, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_reactions WHERE reaction IN (SELECT id FROM reactions WHERE message = ?)`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM reactions WHERE message = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM pinned WHERE room = ? AND message = ?`, token, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE rooms SET info_updates = info_updates + 1 WHERE token = ?`, token); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) deleteMsg(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "id: want a message id")
		return
	}
	if !needUser(w, r) {
		return
	}
	if !p.write() {
		httpserve.WriteError(w, http.StatusForbidden, "you may not delete in this room")
		return
	}
	err = s.withTx(r.Context(), func(tx *sql.Tx) error {
		var author string
		if err := tx.QueryRowContext(r.Context(), `SELECT session_id FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL`, id, rm.Token).Scan(&author); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return &refused{http.StatusNotFound, "no such message"}
			}
			return err
		}
		if a, b := spellings(user(r)); author != a && author != b && !p.mod {
			return &refused{http.StatusForbidden, "only its author or a moderator may delete a message"}
		}
		return deleteTx(r.Context(), tx, rm.Token, []int64{id})
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{})
}

// deleteAll deletes every post of a user in the room (pysogs
// delete_all_posts): a moderator, or the user; only an admin deletes an
// admin's.
func (s *Server) deleteAll(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !needUser(w, r) {
		return
	}
	target, ok := s.parseUserID(r.Context(), r.PathValue("user"))
	if !ok {
		httpserve.WriteError(w, http.StatusNotFound, "user: want a Session ID or blinded ID")
		return
	}
	ta, tb := spellings(target)
	me := user(r)
	if me != ta && me != tb && !p.mod {
		httpserve.WriteError(w, http.StatusForbidden, "only a moderator may delete another user's posts")
		return
	}
	if tp, err := s.permsFor(r.Context(), s.db, rm, target); err != nil {
		storageFailure(w)
		return
	} else if tp.admin && !p.admin && me != ta && me != tb {
		httpserve.WriteError(w, http.StatusForbidden, "only an admin may delete an admin's posts")
		return
	}
	var n int
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(r.Context(), `SELECT id FROM messages WHERE room = ? AND session_id IN (?, ?) AND data IS NOT NULL`, rm.Token, ta, tb)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		n = len(ids)
		if n == 0 {
			return &refused{http.StatusNotFound, "the user has no posts in this room"}
		}
		return deleteTx(r.Context(), tx, rm.Token, ids)
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{})
}

// reactionArg reads the path's reaction: 1 to 12 code points of UTF-8.
func reactionArg(w http.ResponseWriter, r *http.Request) (string, bool) {
	re := r.PathValue("reaction")
	if n := utf8.RuneCountInString(re); !utf8.ValidString(re) || n < 1 || n > maxReactionRunes {
		httpserve.WriteError(w, http.StatusBadRequest, "a reaction is 1 to 12 characters")
		return "", false
	}
	return re, true
}

// regularMessage reports whether id is a message of the room, not deleted.
func regularMessage(ctx context.Context, q querier, token string, id int64) (bool, error) {
	var x int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM messages WHERE id = ? AND room = ? AND data IS NOT NULL`, id, token).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// msgArg reads the path's message id and checks the message is a regular
// one of the room (404 otherwise).
func (s *Server) msgArg(w http.ResponseWriter, r *http.Request, token string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		httpserve.WriteError(w, http.StatusNotFound, "id: want a message id")
		return 0, false
	}
	ok, err := regularMessage(r.Context(), s.db, token, id)
	if err != nil {
		storageFailure(w)
		return 0, false
	}
	if !ok {
		httpserve.WriteError(w, http.StatusNotFound, "no such message")
		return 0, false
	}
	return id, true
}

// reactionChanged gives a message a new sequence number for a change of
// its reactions.
func reactionChanged(ctx context.Context, tx *sql.Tx, token string, id int64) (int64, error) {
	seq, err := bump(ctx, tx, token)
	if err != nil {
		return 0, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE messages SET seqno_reactions = ?, seqno = max(seqno_data, ?) WHERE id = ?`, seq, seq, id)
	return seq, err
}

// react adds (PUT) or removes (DELETE) the user's reaction to a message.
func (s *Server) react(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rm, p := roomOf(r)
		if !needUser(w, r) {
			return
		}
		re, ok := reactionArg(w, r)
		if !ok || !needRead(w, p) {
			return
		}
		id, ok := s.msgArg(w, r, rm.Token)
		if !ok {
			return
		}
		me := user(r)
		a, b := spellings(me)
		var changed bool
		var seq int64
		err := s.withTx(r.Context(), func(tx *sql.Tx) error {
			if ok, err := regularMessage(r.Context(), tx, rm.Token, id); err != nil || !ok {
				if err == nil {
					err = &refused{http.StatusNotFound, "no such message"}
				}
				return err
			}
			var res sql.Result
			var err error
			if add {
				if _, err = tx.ExecContext(r.Context(), `INSERT INTO reactions (message, reaction) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, re); err != nil {
					return err
				}
				res, err = tx.ExecContext(r.Context(), `INSERT INTO user_reactions (reaction, session_id, at)
					SELECT id, ?, ? FROM reactions WHERE message = ? AND reaction = ?
					AND NOT EXISTS (SELECT 1 FROM user_reactions u WHERE u.reaction = reactions.id AND u.session_id IN (?, ?))`,
					me, s.now(), id, re, a, b)
			} else {
				res, err = tx.ExecContext(r.Context(), `DELETE FROM user_reactions WHERE session_id IN (?, ?)
					AND reaction = (SELECT id FROM reactions WHERE message = ? AND reaction = ?)`, a, b, id, re)
			}
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				changed = true
				if seq, err = reactionChanged(r.Context(), tx, rm.Token, id); err != nil {
					return err
				}
			} else if err := tx.QueryRowContext(r.Context(), `SELECT seqno FROM messages WHERE id = ?`, id).Scan(&seq); err != nil {
				return err
			}
			_, err = tx.ExecContext(r.Context(), `DELETE FROM reactions WHERE message = ? AND NOT EXISTS (SELECT 1 FROM user_reactions u WHERE u.reaction = reactions.id)`, id)
			return err
		})
		if err != nil {
			writeTxError(w, err)
			return
		}
		key := "removed"
		if add {
			key = "added"
		}
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{key: changed, "seqno": seq})
	}
}

// clearReactions removes every reaction (or every one of an emoji) from a
// message: moderators.
func (s *Server) clearReactions(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !needUser(w, r) {
		return
	}
	if !p.mod {
		httpserve.WriteError(w, http.StatusForbidden, "only a moderator may clear reactions")
		return
	}
	re := ""
	if r.PathValue("reaction") != "" {
		var ok bool
		if re, ok = reactionArg(w, r); !ok {
			return
		}
	}
	id, ok := s.msgArg(w, r, rm.Token)
	if !ok {
		return
	}
	var removed int64
	var seq int64
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(r.Context(), `DELETE FROM user_reactions WHERE reaction IN (SELECT id FROM reactions WHERE message = ? AND (? = '' OR reaction = ?))`, id, re, re)
		if err != nil {
			return err
		}
		if removed, _ = res.RowsAffected(); removed > 0 {
			if seq, err = reactionChanged(r.Context(), tx, rm.Token, id); err != nil {
				return err
			}
		} else if err := tx.QueryRowContext(r.Context(), `SELECT seqno FROM messages WHERE id = ?`, id).Scan(&seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM reactions WHERE message = ? AND NOT EXISTS (SELECT 1 FROM user_reactions u WHERE u.reaction = reactions.id)`, id)
		return err
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"removed": removed, "seqno": seq})
}

// reactors lists who reacted with an emoji: [[session_id, at], ...] in
// the order they reacted.
func (s *Server) reactors(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	re, ok := reactionArg(w, r)
	if !ok || !needRead(w, p) {
		return
	}
	id, ok := s.msgArg(w, r, rm.Token)
	if !ok {
		return
	}
	limit, ok := intParam(r, "limit", 0, -1, 1<<30)
	if !ok {
		httpserve.WriteError(w, http.StatusBadRequest, "limit: want an integer")
		return
	}
	if limit <= 0 {
		limit = -1 // no limit, as pysogs
	}
	rows, err := s.db.QueryContext(r.Context(), `SELECT u.session_id, u.at FROM user_reactions u JOIN reactions x ON u.reaction = x.id
		WHERE x.message = ? AND x.reaction = ? ORDER BY u.at, u.rowid LIMIT ?`, id, re, limit)
	if err != nil {
		storageFailure(w)
		return
	}
	defer rows.Close()
	out := [][2]any{}
	for rows.Next() {
		var who string
		var at float64
		if err := rows.Scan(&who, &at); err != nil {
			storageFailure(w)
			return
		}
		out = append(out, [2]any{who, at})
	}
	httpserve.WriteJSON(w, http.StatusOK, out)
}

// pin pins a message (admins); pinning it again moves it last.
func (s *Server) pin(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !p.admin {
		httpserve.WriteError(w, http.StatusForbidden, "only an admin of the room may pin")
		return
	}
	id, ok := s.msgArg(w, r, rm.Token)
	if !ok {
		return
	}
	var info int64
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO pinned (room, message, pinned_at, pinned_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (room, message) DO UPDATE SET pinned_at = excluded.pinned_at, pinned_by = excluded.pinned_by`, rm.Token, id, s.now(), user(r)); err != nil {
			return err
		}
		return tx.QueryRowContext(r.Context(), `UPDATE rooms SET info_updates = info_updates + 1 WHERE token = ? RETURNING info_updates`, rm.Token).Scan(&info)
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"info_updates": info})
}

// unpin unpins one message (unpin/{id}: "unpinned" is a bool) or all
// (unpin/all: a count).
func (s *Server) unpin(w http.ResponseWriter, r *http.Request) {
	rm, p := roomOf(r)
	if !p.admin {
		httpserve.WriteError(w, http.StatusForbidden, "only an admin of the room may unpin")
		return
	}
	all := r.PathValue("id") == ""
	var id int64
	if !all {
		var err error
		if id, err = strconv.ParseInt(r.PathValue("id"), 10, 64); err != nil {
			httpserve.WriteError(w, http.StatusNotFound, "id: want a message id")
			return
		}
	}
	var n, info int64
	err := s.withTx(r.Context(), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(r.Context(), `DELETE FROM pinned WHERE room = ? AND (? OR message = ?)`, rm.Token, all, id)
		if err != nil {
			return err
		}
		q := `SELECT info_updates FROM rooms WHERE token = ?`
		if n, _ = res.RowsAffected(); n > 0 {
			q = `UPDATE rooms SET info_updates = info_updates + 1 WHERE token = ? RETURNING info_updates`
		}
		return tx.QueryRowContext(r.Context(), q, rm.Token).Scan(&info)
	})
	if err != nil {
		writeTxError(w, err)
		return
	}
	if all {
		httpserve.WriteJSON(w, http.StatusOK, map[string]any{"unpinned": n, "info_updates": info})
		return
	}
	httpserve.WriteJSON(w, http.StatusOK, map[string]any{"unpinned": n > 0, "info_updates": info})
}
