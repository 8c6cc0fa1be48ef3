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

	"filippo.io/edwards25519"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/httpserve"
	"golang.org/x/crypto/blake2b"
)

type ctxKey struct{}

// user is who signed a request: its blinded ID exactly as it authenticated
// (lower-case hex), "" for a request without X-SOGS headers.
func user(r *http.Request) string {
	u, _ := r.Context().Value(ctxKey{}).(string)
	return u
}

// maxSkew is how far an X-SOGS timestamp may be from the server's clock.
const maxSkew = 24 * time.Hour

// maxBody bounds a request body: a room file (10 MB) and room to spare.
const maxBody = 11 << 20

// authenticate checks the X-SOGS headers of every request, as pysogs does
// before any route (sogs/routes/auth.py): with none of the four headers
// the request has no user; with some but not all, or any malformed, it is
// refused. A request that authenticates carries its user in its context.
// Subrequests of a batch are served under the outer request's user.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs := [4]string{}
		missing := 0
		for i, h := range []string{"X-SOGS-Pubkey", "X-SOGS-Nonce", "X-SOGS-Timestamp", "X-SOGS-Signature"} {
			if hs[i] = r.Header.Get(h); hs[i] == "" {
				missing++
			}
		}
		if missing == 4 {
			next.ServeHTTP(w, r)
			return
		}
		if missing > 0 {
			httpserve.WriteError(w, http.StatusBadRequest, "X-SOGS authentication needs all four headers: Pubkey, Nonce, Timestamp, Signature")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			httpserve.WriteError(w, http.StatusBadRequest, "unreadable body")
			return
		}
		if len(body) > maxBody {
			httpserve.WriteError(w, http.StatusRequestEntityTooLarge, "the body is over 11 MiB")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		id, code, msg := s.verify(r, hs, body)
		if code != 0 {
			httpserve.WriteError(w, code, msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

// decodeHexOrBase64 reads a header value of n bytes in hex or base64 (with
// or without padding), as pysogs accepts them.
func decodeHexOrBase64(v string, n int) ([]byte, bool) {
	if len(v) == 2*n {
		if b, err := hex.DecodeString(v); err == nil {
			return b, true
		}
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(v)
	}
	return b, err == nil && len(b) == n
}

// verify checks a request's X-SOGS headers and returns its user's ID, or
// the status and message that refuse it.
func (s *Server) verify(r *http.Request, hs [4]string, body []byte) (string, int, string) {
	pk, ok := decodeHexOrBase64(hs[0], 33)
	if !ok {
		return "", http.StatusBadRequest, "X-SOGS-Pubkey: want a 66-hex-digit ID"
	}
	switch pk[0] {
	case 0x15, 0x25:
	case 0x00:
		return "", http.StatusBadRequest, "X-SOGS-Pubkey: this server requires blinded IDs (15 or 25), as its capabilities say ('blind')"
	default:
		return "", http.StatusBadRequest, "X-SOGS-Pubkey: want a 15- or 25-blinded ID"
	}
	if !validPoint(pk[1:]) {
		return "", http.StatusBadRequest, "X-SOGS-Pubkey is not a valid Ed25519 key"
	}
	nonce, ok := decodeHexOrBase64(hs[1], 16)
	if !ok {
		return "", http.StatusBadRequest, "X-SOGS-Nonce: want 16 bytes in base64 or hex"
	}
	sig, ok := decodeHexOrBase64(hs[3], 64)
	if !ok {
		return "", http.StatusBadRequest, "X-SOGS-Signature: want 64 bytes in base64"
	}
	ts, err := strconv.ParseInt(hs[2], 10, 64)
	if err != nil {
		return "", http.StatusBadRequest, "X-SOGS-Timestamp: want unix seconds"
	}
	if d := s.cfg.Now().Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return "", http.StatusTooEarly, "X-SOGS-Timestamp is more than 24 hours from the server's clock"
	}
	if !ed25519.Verify(pk[1:], sigMessage(s.cfg.Key.Public, nonce, hs[2], r.Method, signedPath(r.URL), body), sig) {
		return "", http.StatusUnauthorized, "X-SOGS-Signature does not verify"
	}
	id := hex.EncodeToString(pk)
	ctx := r.Context()
	a, b := spellings(id)
	res, err := s.db.ExecContext(ctx, `INSERT INTO nonces (pubkey, nonce, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, min(a, b), hex.EncodeToString(nonce), ts)
	if err != nil {
		return "", http.StatusInternalServerError, "storage failure"
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", http.StatusTooEarly, "X-SOGS-Nonce was used before"
	}
	// Nonces older than the timestamp window can never be replayed (their
	// timestamp is refused first): forget them now and then.
	if s.nonceSweep.Add(1)%256 == 0 {
		s.sweep(ctx)
	}
	if s.globallyBanned(ctx, id) {
		return "", http.StatusForbidden, "Banned"
	}
	now := s.now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO users (session_id, first_seen, last_active) VALUES (?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET last_active = excluded.last_active`, id, now, now); err != nil {
		return "", http.StatusInternalServerError, "storage failure"
	}
	return id, 0, ""
}

// sweep forgets what can no longer matter: nonces past the timestamp
// window, direct messages past their expiry, bans past their end.
func (s *Server) sweep(ctx context.Context) {
	now := s.now()
	for _, q := range []struct {
		sql string
		arg any
	}{
		{`DELETE FROM nonces WHERE at < ?`, s.cfg.Now().Add(-2 * maxSkew).Unix()},
		{`DELETE FROM inbox WHERE expires <= ?`, now},
		{`DELETE FROM bans WHERE until IS NOT NULL AND until <= ?`, now},
	} {
		if _, err := s.db.ExecContext(ctx, q.sql, q.arg); err != nil {
			s.log.Warn().Err(err).Msg("sweep")
		}
	}
}

// validPoint reports whether k is an Ed25519 key a user can hold: a point
// of the curve, not of small order.
func validPoint(k []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(k)
	if err != nil {
		return false
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1
}

// spellings returns the two IDs under which one account can sign: a
// 15-blinded key k*A and its negation -k*A (the account knows both secret
// scalars, and from a Session ID alone the sign is unknown). Bans, roles,
// the post limit and inboxes match either, so nobody escapes a ban by
// negating their key; what is stored and shown is the ID exactly as it
// authenticated. A 25-blinded ID has one spelling (returned twice).
func spellings(id string) (string, string) {
	id = strings.ToLower(id)
	if len(id) != 66 || !strings.HasPrefix(id, "15") {
		return id, id
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return id, id
	}
	b[32] ^= 0x80
	return id, hex.EncodeToString(b)
}

// parseUserID reads a user ID of a path or a config: a blinded ID (15 or
// 25, any case), or a Session ID (05), which stands for the 15-blinded ID
// the server has seen of that account (either sign), else its first
// candidate, as pysogs resolves an unblinded ID (User(try_blinding=True)).
func (s *Server) parseUserID(ctx context.Context, id string) (string, bool) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 33 {
		return "", false
	}
	switch b[0] {
	case 0x15, 0x25:
		if !validPoint(b[1:]) {
			return "", false
		}
		return strings.ToLower(id), true
	case 0x05:
		aid, err := identity.ParseAccountID(strings.ToLower(id))
		if err != nil {
			return "", false
		}
		ids, err := identity.BlindedIDs(aid, s.cfg.Key.Public[:])
		if err != nil {
			return "", false
		}
		var seen string
		if s.db != nil && s.db.QueryRowContext(ctx, `SELECT session_id FROM users WHERE session_id IN (?, ?) ORDER BY last_active DESC LIMIT 1`, ids[0], ids[1]).Scan(&seen) == nil {
			return seen, true
		}
		return ids[0], true
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

// SigMessage is what X-SOGS-Signature signs: server key || nonce ||
// timestamp || method || path || BLAKE2b-64(body) if any.
func SigMessage(server [32]byte, nonce []byte, ts int64, method, path string, body []byte) []byte {
	return sigMessage(server, nonce, strconv.FormatInt(ts, 10), method, path, body)
}

// sigMessage is SigMessage with the timestamp as the header spelled it.
func sigMessage(server [32]byte, nonce []byte, ts string, method, path string, body []byte) []byte {
	m := append(append([]byte{}, server[:]...), nonce...)
	m = append(m, ts...)
	m = append(m, method...)
	m = append(m, path...)
	if len(body) > 0 {
		h, _ := blake2b.New(64, nil)
		h.Write(body)
		m = h.Sum(m)
	}
	return m
}
