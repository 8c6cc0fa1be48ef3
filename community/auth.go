package community

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"golang.org/x/crypto/blake2b"
)

type ctxKey struct{}

// who is who signed a request.
type who struct {
	signer    string // the X-SOGS-Pubkey, lower-case: what its posts show
	canonical string // canonicalID: what bans, roles, limits and inboxes use
}

// user is who signed a request, in the one spelling the server compares.
func user(r *http.Request) string {
	u, _ := r.Context().Value(ctxKey{}).(who)
	return u.canonical
}

// signer is the key that signed a request, as it signed: the key its posts
// verify under and show as their author.
func signer(r *http.Request) string {
	u, _ := r.Context().Value(ctxKey{}).(who)
	return u.signer
}

// maxSkew is how far an X-SOGS timestamp may be from the server's clock.
const maxSkew = 24 * time.Hour

// authed checks the X-SOGS headers (required, or optional when absent).
func (s *Server) authed(required bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pk := r.Header.Get("X-SOGS-Pubkey")
		if pk == "" {
			if required {
				httpserve.WriteError(w, http.StatusUnauthorized, "this endpoint needs X-SOGS authentication")
				return
			}
			h(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 11<<20))
		if err != nil {
			httpserve.WriteError(w, http.StatusBadRequest, "unreadable body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		code, msg, id := s.verify(r, pk, body)
		if code != 0 {
			httpserve.WriteError(w, code, msg)
			return
		}
		u := who{signer: strings.ToLower(pk), canonical: id}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, u)))
	}
}

func (s *Server) verify(r *http.Request, pk string, body []byte) (int, string, string) {
	key, err := hex.DecodeString(pk)
	if err != nil || len(key) != 33 || (key[0] != 0x15 && key[0] != 0x25 && key[0] != 0x00) {
		return http.StatusBadRequest, "X-SOGS-Pubkey: want 66 hex characters, 15 or 25 (blinded) or 00", ""
	}
	nonce, err := base64.StdEncoding.DecodeString(r.Header.Get("X-SOGS-Nonce"))
	if err != nil || len(nonce) != 16 {
		return http.StatusBadRequest, "X-SOGS-Nonce: want 16 bytes in base64", ""
	}
	tsStr := r.Header.Get("X-SOGS-Timestamp")
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return http.StatusBadRequest, "X-SOGS-Timestamp: want unix seconds", ""
	}
	if d := s.cfg.Now().Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return http.StatusTooEarly, "X-SOGS-Timestamp is more than 24 hours from the server's clock", ""
	}
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get("X-SOGS-Signature"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return http.StatusUnauthorized, "X-SOGS-Signature: want 64 bytes in base64", ""
	}
	if !ed25519.Verify(key[1:], SigMessage(s.cfg.Key.Public, nonce, ts, r.Method, signedPath(r.URL), body), sig) {
		return http.StatusUnauthorized, "X-SOGS-Signature does not verify", ""
	}
	id, ok := s.canonicalID(pk)
	if !ok {
		return http.StatusBadRequest, "X-SOGS-Pubkey is not a usable key", ""
	}
	res, err := s.db.ExecContext(r.Context(), `INSERT INTO nonces (pubkey, nonce, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, hex.EncodeToString(nonce), ts)
	if err != nil {
		return http.StatusInternalServerError, "storage failure", ""
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return http.StatusTooEarly, "X-SOGS-Nonce was used before", ""
	}
	// Nonces older than the timestamp window can never be replayed (their
	// timestamp is refused first): forget them now and then.
	if s.nonceSweep.Add(1)%256 == 0 {
		if _, err := s.db.ExecContext(r.Context(), `DELETE FROM nonces WHERE at < ?`, s.cfg.Now().Add(-2*maxSkew).Unix()); err != nil {
			s.log.Warn().Err(err).Msg("forget old nonces")
		}
	}
	return 0, "", id
}

// canonicalID is the one spelling of a user the server compares, stores and
// rate-limits by: lower-case hex; a 15-blinded key with its top (sign) bit
// clear, since k*A and -k*A are the two IDs one Session ID may have and only
// its owner can sign as either; for an unblinded 00 key, that 15-blinded ID
// of the same account (so a banned account cannot come back unblinded). A
// 25-blinded ID is unambiguous and kept as it is. It reports false for
// anything that is not a user ID.
func (s *Server) canonicalID(id string) (string, bool) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 {
		return "", false
	}
	switch b[0] {
	case 0x00:
		bid, err := identity.BlindEd25519(b[1:], s.cfg.Key.Public[:])
		if err != nil {
			return "", false
		}
		return s.canonicalID(bid)
	case 0x15:
		b[32] &^= 0x80
		return hex.EncodeToString(b), true
	case 0x25:
		return hex.EncodeToString(b), true
	}
	return "", false
}

// signedPath is the path X-SOGS-Signature signs: percent-decoded, as real
// clients sign it (pysogs's API docs: "the X-SOGS-Signature value must sign
// the unencoded value"), with the query as sent.
func signedPath(u *url.URL) string {
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}

// ClientSignedPath is signedPath of a request path a client sends, which
// may be percent-encoded.
func ClientSignedPath(path string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	return signedPath(u)
}

// SigMessage is what X-SOGS-Signature signs.
func SigMessage(server [32]byte, nonce []byte, ts int64, method, path string, body []byte) []byte {
	m := append(append([]byte{}, server[:]...), nonce...)
	m = append(m, strconv.FormatInt(ts, 10)...)
	m = append(m, method...)
	m = append(m, path...)
	if len(body) > 0 {
		h, _ := blake2b.New(64, nil)
		h.Write(body)
		m = h.Sum(m)
	}
	return m
}
