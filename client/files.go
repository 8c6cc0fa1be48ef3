package client

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/sessionctl/sessionctl/onion"
)

// ServerInfo names a server (file or community) the exit node forwards to.
type ServerInfo = onion.Server

// ServerRequest sends method endpoint (with body, if any) to a server through
// the onion path: the request is sealed to the server's key and the exit
// forwards it by HTTP, so the server never learns who asks. It returns the
// server's status and body.
func (c *Client) ServerRequest(ctx context.Context, srv ServerInfo, method, endpoint string, body []byte) (int, []byte, error) {
	return c.ServerRequestHeaders(ctx, srv, method, endpoint, nil, body)
}

// ServerRequestHeaders is ServerRequest with request headers (a community
// server's X-SOGS authentication travels in them).
func (c *Client) ServerRequestHeaders(ctx context.Context, srv ServerInfo, method, endpoint string, headers map[string]string, body []byte) (int, []byte, error) {
	u, err := url.Parse(srv.URL)
	if err != nil || u.Hostname() == "" {
		return 0, nil, fmt.Errorf("server URL %q: want http://host:port", srv.URL)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return 0, nil, fmt.Errorf("server URL %q has no port", srv.URL)
	}
	meta, _ := json.Marshal(onion.V4Request{Method: method, Endpoint: endpoint, Headers: headers})
	v4 := onion.EncodeV4Request(meta, body)
	if err := c.refresh(ctx, false); err != nil {
		return 0, nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		payload, key, err := onion.SealForServer(rand.Reader, srv.X25519, v4, c.cfg.EncType)
		if err != nil {
			return 0, nil, err
		}
		path, err := c.ensurePath(ctx, "")
		if err != nil {
			return 0, nil, err
		}
		c.mu.Lock()
		hops := []onion.Hop{c.hop(path[0]), c.hop(path[1]), c.hop(path[2])}
		c.mu.Unlock()
		req, err := onion.BuildHTTP(rand.Reader, hops, onion.Routing{Host: u.Hostname(), Port: port, Protocol: u.Scheme,
			Target: "/oxen/v4/lsrpc", Method: "POST"}, payload, c.cfg.EncType)
		if err != nil {
			return 0, nil, err
		}
		pid, err := peerOf(path[0])
		if err != nil {
			return 0, nil, err
		}
		status, reply, err := onion.Send(ctx, c.host, pid, 1, req)
		if err != nil || status == onion.StatusBadGateway && attempt == 0 {
			lastErr = fmt.Errorf("onion path: %v (status %d)", err, status)
			c.mu.Lock()
			c.path = nil
			c.mu.Unlock()
			continue
		}
		if status != onion.StatusOK {
			return 0, nil, fmt.Errorf("the server answered %d: %s", status, truncate(string(reply), 100))
		}
		plain, err := key.OpenReply(reply)
		if err != nil {
			return 0, nil, fmt.Errorf("the server's reply does not decrypt: %w", err)
		}
		head, respBody, err := onion.DecodeV4(plain)
		if err != nil {
			return 0, nil, err
		}
		var vr onion.V4Response
		if err := json.Unmarshal(head, &vr); err != nil {
			return 0, nil, fmt.Errorf("the server's reply: %w", err)
		}
		return vr.Code, respBody, nil
	}
	return 0, nil, fmt.Errorf("%w: %v", ErrUnreachable, lastErr)
}

// Attachment is a file sent with a message: where it is and its key.
type Attachment struct {
	ID     string `json:"id"`
	Key    string `json:"key"` // AES-256-GCM key, base64
	Name   string `json:"name"`
	Size   int    `json:"size"` // of the plaintext
	Server string `json:"server"`
}

// ErrNoFile is a download of a file the server does not have (or no more).
var ErrNoFile = errors.New("no such file on the file server (or it expired)")

// ErrAttachment is returned for an attachment that does not decrypt.
var ErrAttachment = errors.New("the attachment does not decrypt with its key")

// EncryptAttachment seals data under a fresh AES-256-GCM key: nonce || ciphertext || tag.
func EncryptAttachment(data []byte) (blob, key []byte, err error) {
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(data)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, data, nil), key, nil
}

// DecryptAttachment opens what EncryptAttachment sealed.
func DecryptAttachment(blob, key []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrAttachment
	}
	aead, _ := cipher.NewGCM(block)
	if len(blob) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrAttachment
	}
	plain, err := aead.Open(nil, blob[:aead.NonceSize()], blob[aead.NonceSize():], nil)
	if err != nil {
		return nil, ErrAttachment
	}
	return plain, nil
}

// Upload encrypts data and stores it on the file server.
func (c *Client) Upload(ctx context.Context, srv ServerInfo, name string, data []byte) (*Attachment, error) {
	blob, key, err := EncryptAttachment(data)
	if err != nil {
		return nil, err
	}
	code, body, err := c.ServerRequest(ctx, srv, "POST", "/file", blob)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("upload refused (%d): %s", code, truncate(string(body), 100))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.ID == "" {
		return nil, errors.New("the file server's answer has no id")
	}
	return &Attachment{ID: out.ID, Key: base64.StdEncoding.EncodeToString(key), Name: name, Size: len(data), Server: srv.URL}, nil
}

// Download fetches an attachment and decrypts it.
func (c *Client) Download(ctx context.Context, srv ServerInfo, a Attachment) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(a.Key)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: bad key", ErrAttachment)
	}
	code, body, err := c.ServerRequest(ctx, srv, "GET", "/file/"+url.PathEscape(a.ID), nil)
	if err != nil {
		return nil, err
	}
	if code == 404 {
		return nil, fmt.Errorf("%w: %s", ErrNoFile, a.ID)
	}
	if code != 200 {
		return nil, fmt.Errorf("download refused (%d): %s", code, truncate(string(body), 100))
	}
	return DecryptAttachment(body, key)
}
