package community

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Direct messages between blinded IDs (pysogs sogs/routes/dm.py): the
// server keeps each for 15 days; what they hold is encrypted by the sender
// for the recipient (dm.go), and the server cannot read it.

// DM is a direct message (a message request) as the inbox and outbox list
// it.
type DM struct {
	ID        int64   `json:"id"`
	Posted    float64 `json:"posted_at"`
	Expires   float64 `json:"expires_at"`
	Sender    string  `json:"sender"`
	Recipient string  `json:"recipient"`
	Message   string  `json:"message,omitempty"` // base64; absent in the answer to a send
}

func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	if !needUser(w, r) {
		return
	}
	to, ok := s.parseUserID(r.Context(), r.PathValue("id"))
	if !ok || to[:2] == "05" {
		httpserve.WriteError(w, http.StatusNotFound, "want a blinded ID (15 or 25)")
		return
	}
	var req struct {
		Message *string `json:"message"`
	}
	if readJSON(r, 2*maxMessageSize, &req) != nil || req.Message == nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"message": base64}`)
		return
	}
	msg, err := decodeB64(*req.Message)
	if err != nil || len(msg) == 0 || len(msg) > maxMessageSize {
		httpserve.WriteError(w, http.StatusBadRequest, "the message must be 1-100,000 bytes in base64")
		return
	}
	// The recipient must have used the server and not be banned from it,
	// as pysogs answers (404 for either).
	a, b := spellings(to)
	var x int
	err = s.db.QueryRowContext(r.Context(), `SELECT 1 FROM users WHERE session_id IN (?, ?)`, a, b).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && s.globallyBanned(r.Context(), to)) {
		httpserve.WriteError(w, http.StatusNotFound, "no such user on this server (they have never used it)")
		return
	}
	if err != nil {
		storageFailure(w)
		return
	}
	d := DM{Posted: s.now(), Sender: user(r), Recipient: to}
	d.Expires = d.Posted + dmExpiry
	if err := s.db.QueryRowContext(r.Context(), `INSERT INTO inbox (sender, recipient, posted, expires, message) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		d.Sender, d.Recipient, d.Posted, d.Expires, msg).Scan(&d.ID); err != nil {
		storageFailure(w)
		return
	}
	httpserve.WriteJSON(w, http.StatusCreated, d)
}

// box lists the user's inbox (received) or outbox (sent), oldest first, at
// most limit (100, up to 256); .../since/{id} only those after id, and 304
// when there are none.
func (s *Server) box(out bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !needUser(w, r) {
			return
		}
		var since int64
		polling := r.PathValue("id") != ""
		if polling {
			var err error
			if since, err = strconv.ParseInt(r.PathValue("id"), 10, 64); err != nil {
				httpserve.WriteError(w, http.StatusNotFound, "since: want a message id")
				return
			}
		}
		limit, ok := intParam(r, "limit", 100, 1, maxLimit)
		if !ok {
			httpserve.WriteError(w, http.StatusBadRequest, "limit: want an integer")
			return
		}
		col := "recipient"
		if out {
			col = "sender"
		}
		a, b := spellings(user(r))
		rows, err := s.db.QueryContext(r.Context(), `SELECT id, posted, expires, sender, recipient, message FROM inbox
			WHERE `+col+` IN (?, ?) AND id > ? AND expires > ? ORDER BY id LIMIT ?`, a, b, since, s.now(), limit)
		if err != nil {
			storageFailure(w)
			return
		}
		defer rows.Close()
		list := []DM{}
		for rows.Next() {
			var d DM
			var m []byte
			if err := rows.Scan(&d.ID, &d.Posted, &d.Expires, &d.Sender, &d.Recipient, &m); err != nil {
				storageFailure(w)
				return
			}
			d.Message = base64.StdEncoding.EncodeToString(m)
			list = append(list, d)
		}
		if polling && len(list) == 0 {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		httpserve.WriteJSON(w, http.StatusOK, list)
	}
}

// clearInbox deletes every message the user received.
func (s *Server) clearInbox(w http.ResponseWriter, r *http.Request) {
	if !needUser(w, r) {
		return
	}
	a, b := spellings(user(r))
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM inbox WHERE recipient IN (?, ?)`, a, b)
	if err != nil {
		storageFailure(w)
		return
	}
	n, _ := res.RowsAffected()
	httpserve.WriteJSON(w, http.StatusOK, map[string]int64{"deleted": n})
}

// NewNonce returns 16 random bytes, base64: an X-SOGS-Nonce.
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
