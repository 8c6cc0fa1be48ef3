package community

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/onion"
)

// Transport carries a request to a server through an onion path, sealed to
// the server's key; *client.Client is one. The community server's package
// needs no more of a Session client than this.
type Transport interface {
	ServerRequestHeaders(ctx context.Context, srv onion.Server, method, endpoint string, headers map[string]string, body []byte) (int, []byte, error)
	Keys() *identity.Keys
}

// Client speaks the community server's API for one account, through a
// Transport: every request carries X-SOGS authentication by the account's
// key blinded for this server.
//
//	cc, err := community.NewClient(sessionClient, onion.Server{URL: url, X25519: key})
//	msg, err := cc.Post(ctx, "lobby", "hello")
type Client struct {
	t       Transport
	srv     onion.Server
	blinded *identity.Blinded
	// Now is the clock of X-SOGS timestamps; nil means time.Now.
	Now func() time.Time
}

// RefusedError is the server's refusal of a request: its status and message.
type RefusedError struct {
	Code    int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the community server refused (%d): %s", e.Code, e.Message)
}

// ErrBadAnswer is an answer the client cannot read.
var ErrBadAnswer = errors.New("the community server's answer is malformed")

// NewClient returns a client of the server srv for the account t holds.
func NewClient(t Transport, srv onion.Server) (*Client, error) {
	b, err := identity.Blind15(t.Keys(), srv.X25519[:])
	if err != nil {
		return nil, err
	}
	return &Client{t: t, srv: srv, blinded: b}, nil
}

// ID returns the account's blinded ID on this server.
func (c *Client) ID() string { return c.blinded.ID() }

// BlindedID returns the ID that an account known by arg has on this server:
// a Session ID (05) is 15-blinded (the first of its two candidates: the
// server treats both as one user), a blinded ID is returned as it is.
func (c *Client) BlindedID(id identity.AccountID) (string, error) {
	if id.Prefix == identity.PrefixSession {
		ids, err := identity.BlindedIDs(id, c.srv.X25519[:])
		if err != nil {
			return "", err
		}
		return ids[0], nil
	}
	return id.String(), nil
}

// Do sends one authenticated request and returns the server's status and
// body, whatever the status.
func (c *Client) Do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	nonce := NewNonce()
	nb, _ := base64.StdEncoding.DecodeString(nonce)
	ts := now().Unix()
	sig := c.blinded.Sign(SigMessage(c.srv.X25519, nb, ts, method, ClientSignedPath(path), body))
	headers := map[string]string{
		"X-SOGS-Pubkey":    c.blinded.ID(),
		"X-SOGS-Nonce":     nonce,
		"X-SOGS-Timestamp": strconv.FormatInt(ts, 10),
		"X-SOGS-Signature": base64.StdEncoding.EncodeToString(sig),
	}
	if body != nil {
		headers["Content-Type"] = "application/json"
	}
	return c.t.ServerRequestHeaders(ctx, c.srv, method, path, headers, body)
}

// call sends a request with a JSON body (nil for none) and decodes a 2xx
// answer into out (nil to ignore it); another status is a *RefusedError.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	code, data, err := c.Do(ctx, method, path, b)
	if err != nil {
		return err
	}
	if code < 200 || code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = string(data)
		}
		return &RefusedError{Code: code, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	return nil
}

// Rooms lists the server's rooms.
func (c *Client) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var rooms []RoomInfo
	return rooms, c.call(ctx, "GET", "/rooms", nil, &rooms)
}

// PostBody is the body of a new room message: the data and the poster's
// blinded signature over it.
func (c *Client) PostBody(text string) map[string]string {
	data := []byte(text)
	return map[string]string{
		"data":      base64.StdEncoding.EncodeToString(data),
		"signature": base64.StdEncoding.EncodeToString(c.blinded.Sign(data)),
	}
}

// Post posts text to room.
func (c *Client) Post(ctx context.Context, room, text string) (*Message, error) {
	var m Message
	if err := c.call(ctx, "POST", "/room/"+url.PathEscape(room)+"/message", c.PostBody(text), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Read returns up to 256 of room's messages after sequence number since.
func (c *Client) Read(ctx context.Context, room string, since int64) ([]Message, error) {
	var msgs []Message
	err := c.call(ctx, "GET", fmt.Sprintf("/room/%s/messages/since/%d?limit=256", url.PathEscape(room), since), nil, &msgs)
	return msgs, err
}

// Text returns a message's text; "" when it was deleted or is malformed.
func (m *Message) Text() string {
	if m.Data == nil {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(*m.Data)
	if err != nil {
		return ""
	}
	return string(b)
}

// Delete deletes message id of room (its author, or a moderator).
func (c *Client) Delete(ctx context.Context, room, id string) error {
	return c.call(ctx, "DELETE", "/room/"+url.PathEscape(room)+"/message/"+url.PathEscape(id), nil, nil)
}

// SetModerator makes user (a blinded ID) a moderator (and admin) of room,
// or, with moderator false, takes the rights away.
func (c *Client) SetModerator(ctx context.Context, room, user string, moderator, admin bool) error {
	return c.call(ctx, "POST", "/user/"+url.PathEscape(user)+"/moderator",
		map[string]any{"rooms": []string{room}, "moderator": moderator, "admin": moderator && admin}, nil)
}

// Ban bans user from room, or with on false lifts the ban.
func (c *Client) Ban(ctx context.Context, room, user string, on bool) error {
	verb := "unban"
	if on {
		verb = "ban"
	}
	return c.call(ctx, "POST", "/user/"+url.PathEscape(user)+"/"+verb, map[string]any{"rooms": []string{room}}, nil)
}

// SendDM sends a message request to user.
func (c *Client) SendDM(ctx context.Context, user, text string) error {
	return c.call(ctx, "POST", "/inbox/"+url.PathEscape(user), map[string]string{"message": base64.StdEncoding.EncodeToString([]byte(text))}, nil)
}

// Inbox returns the account's message requests.
func (c *Client) Inbox(ctx context.Context) ([]DM, error) {
	var dms []DM
	return dms, c.call(ctx, "GET", "/inbox", nil, &dms)
}

// Text returns a message request's text ("" when malformed).
func (d *DM) Text() string {
	b, err := base64.StdEncoding.DecodeString(d.Message)
	if err != nil {
		return ""
	}
	return string(b)
}
