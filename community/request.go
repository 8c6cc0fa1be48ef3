package community

import (
	"context"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
)

// Request sends an X-SOGS-authenticated request to a community server
// through the client's onion path, signed by the account's key blinded for
// this server (identity.Blind15 of the server's X25519 key). It returns the
// server's status and body.
func Request(ctx context.Context, c *client.Client, srv client.ServerInfo, method, path string, body []byte) (int, []byte, error) {
	b, err := identity.Blind15(c.Keys(), srv.X25519[:])
	if err != nil {
		return 0, nil, err
	}
	nonce := NewNonce()
	nb, _ := base64.StdEncoding.DecodeString(nonce)
	ts := time.Now().Unix()
	sig := b.Sign(SigMessage(srv.X25519, nb, ts, method, path, body))
	headers := map[string]string{
		"X-SOGS-Pubkey":    b.ID(),
		"X-SOGS-Nonce":     nonce,
		"X-SOGS-Timestamp": strconv.FormatInt(ts, 10),
		"X-SOGS-Signature": base64.StdEncoding.EncodeToString(sig),
	}
	if body != nil {
		headers["Content-Type"] = "application/json"
	}
	return c.ServerRequestHeaders(ctx, srv, method, path, headers, body)
}

// Post is the body of a new room message: the data and the poster's
// blinded signature over it.
func Post(c *client.Client, srv client.ServerInfo, text string) ([]byte, error) {
	b, err := identity.Blind15(c.Keys(), srv.X25519[:])
	if err != nil {
		return nil, err
	}
	data := []byte(text)
	return jsonMarshal(map[string]string{
		"data":      base64.StdEncoding.EncodeToString(data),
		"signature": base64.StdEncoding.EncodeToString(b.Sign(data)),
	})
}
