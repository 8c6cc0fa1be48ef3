package community

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// DM is a message request between blinded IDs.
type DM struct {
	ID        int64   `json:"id"`
	Posted    float64 `json:"posted_at"`
	Sender    string  `json:"sender"`
	Recipient string  `json:"recipient"`
	Message   string  `json:"message"` // base64
}

func (s *Server) sendDM(w http.ResponseWriter, r *http.Request) {
	to, okID := s.canonicalID(r.PathValue("id"))
	var req struct {
		Message string `json:"message"`
	}
	if !okID || json.NewDecoder(r.Body).Decode(&req) != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want a blinded ID and {"message": base64}`)
		return
	}
	msg, err := base64.StdEncoding.DecodeString(req.Message)
	if err != nil || len(msg) == 0 || len(msg) > 100_000 {
		httpserve.WriteError(w, http.StatusBadRequest, "the message must be 1-100,000 bytes in base64")
		return
	}
	if s.banned(r.Context(), "", user(r)) {
		httpserve.WriteError(w, http.StatusForbidden, "you are banned from this server")
		return
	}
	posted := s.now()
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO inbox (sender, recipient, posted, message) VALUES (?, ?, ?, ?)`, signer(r), to, posted, msg)
	if err != nil {
		httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
		return
	}
	id, _ := res.LastInsertId()
	httpserve.WriteJSON(w, http.StatusCreated, DM{ID: id, Posted: posted, Sender: signer(r), Recipient: to, Message: req.Message})
}

// box lists a user's inbox (recipient: stored canonical) or outbox (sender:
// stored as signed, so the recipient can answer the key that wrote).
func (s *Server) box(col string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		me := user(r)
		if col == "sender" {
			me = signer(r)
		}
		rows, err := s.db.QueryContext(r.Context(), `SELECT id, posted, sender, recipient, message FROM inbox WHERE `+col+` = ? ORDER BY id`, me)
		if err != nil {
			httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
			return
		}
		defer rows.Close()
		out := []DM{}
		for rows.Next() {
			var d DM
			var m []byte
			if err := rows.Scan(&d.ID, &d.Posted, &d.Sender, &d.Recipient, &m); err != nil {
				httpserve.WriteError(w, http.StatusInternalServerError, "storage failure")
				return
			}
			d.Message = base64.StdEncoding.EncodeToString(m)
			out = append(out, d)
		}
		httpserve.WriteJSON(w, http.StatusOK, out)
	}
}

// NewNonce returns 16 random bytes, base64: an X-SOGS-Nonce.
func NewNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
