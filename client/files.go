package client

import (
	"context"
	"crypto/rand"
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

// ServerRequestHeaders is ServerRequest with request headers.
func (c *Client) ServerRequestHeaders(ctx context.Context, srv ServerInfo, method, endpoint string, headers map[string]string, body []byte) (int, []byte, error) {
	return c.ServerRequestSigned(ctx, srv, method, endpoint, func() map[string]string { return headers }, body)
}

// ServerRequestSigned is ServerRequest with request headers made anew for
// each attempt: a community server's X-SOGS authentication travels in them,
// and its nonce is accepted once, so an attempt made again after one whose
// answer was lost (but which reached the server) must sign again.
func (c *Client) ServerRequestSigned(ctx context.Context, srv ServerInfo, method, endpoint string, headers func() map[string]string, body []byte) (int, []byte, error) {
	u, err := url.Parse(srv.URL)
	if err != nil || u.Hostname() == "" {
		return 0, nil, fmt.Errorf("server URL %q: want http://host:port", srv.URL)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return 0, nil, fmt.Errorf("server URL %q has no port", srv.URL)
	}
	if err := c.refresh(ctx, false); err != nil {
		return 0, nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		meta, _ := json.Marshal(onion.V4Request{Method: method, Endpoint: endpoint, Headers: headers()})
		v4 := onion.EncodeV4Request(meta, body)
		path, err := c.ensurePath(ctx, "")
		if err != nil {
			return 0, nil, err
		}
		c.mu.Lock()
		hops := []onion.Hop{c.hop(path[0]), c.hop(path[1]), c.hop(path[2])}
		c.mu.Unlock()
		req, key, err := onion.BuildHTTP(rand.Reader, hops, onion.Routing{Host: u.Hostname(), Port: port, Protocol: u.Scheme,
			Target: "/oxen/v4/lsrpc", Method: "POST"}, srv.X25519, v4, c.cfg.EncType)
		if err != nil {
			return 0, nil, err
		}
		pid, err := peerOf(path[0])
		if err != nil {
			return 0, nil, err
		}
		h, err := c.onionHost()
		if err != nil {
			return 0, nil, err
		}
		status, reply, err := onion.Send(ctx, h, pid, 1, req)
		if err != nil || status == onion.StatusBadGateway && attempt == 0 {
			lastErr = fmt.Errorf("onion path: %v (status %d)", err, status)
			c.mu.Lock()
			c.path = nil
			c.nodesStale = true
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

// Attachment is a file sent with a message: where it is and how to open
// it, the fields of Session's AttachmentPointer.
type Attachment struct {
	ID          string `json:"id"` // the file server's id: decimal digits
	ContentType string `json:"content_type,omitempty"`
	Key         []byte `json:"key"`    // 64 bytes: AES-256 key || HMAC-SHA256 key
	Size        int    `json:"size"`   // of the plaintext, before padding
	Digest      []byte `json:"digest"` // SHA-256 of the upload
	Name        string `json:"name"`
	// URL is where the file is: the real file server's URL
	// (RealFileServer/file/<id>) as apps write it, which a devnet client
	// takes for the devnet's file server (LocateFile).
	URL string `json:"url"`
}

// ErrNoFile is a download of a file the server does not have (or no more).
var ErrNoFile = errors.New("no such file on the file server (or it expired)")

// Upload encrypts data as Session clients do and stores it on the file
// server. The pointer's URL is the real file server's, as apps write it.
func (c *Client) Upload(ctx context.Context, srv ServerInfo, name string, data []byte) (*Attachment, error) {
	blob, key, digest, err := EncryptAttachment(rand.Reader, data)
	if err != nil {
		return nil, err
	}
	id, err := c.uploadBlob(ctx, srv, blob)
	if err != nil {
		return nil, err
	}
	a := &Attachment{ID: id, Key: key, Size: len(data), Digest: digest, Name: name, URL: RealFileServer + "/file/" + id}
	if err := c.updateState(ctx, func(st *state) error { st.noteFile(*a); return nil }); err != nil {
		c.log.Warn().Err(err).Msg("the upload was not recorded: a download by id alone keeps its padding")
	}
	return a, nil
}

// maxFiles bounds the file records a device keeps.
const maxFiles = 1_000

// noteFile records what a pointer says of its file (by its id, and by
// the id its URL names when that differs).
func (s *state) noteFile(a Attachment) {
	if a.Size <= 0 {
		return
	}
	ids := []string{a.ID}
	if ref, err := a.Locate(ServerInfo{}, ServerInfo{}); err == nil && !ref.Community && ref.ID != a.ID {
		ids = append(ids, ref.ID)
	}
	for _, id := range ids {
		if validFileID(id) && id != "0" {
			s.Files = append(s.Files, fileRecord{ID: id, Size: a.Size})
		}
	}
	s.trim()
}

// FileSize is the size of file id before padding, as a pointer this
// device uploaded or read says (ok false when none did).
func (c *Client) FileSize(ctx context.Context, id string) (size int, ok bool, err error) {
	err = c.updateState(ctx, func(st *state) error {
		for i := len(st.Files) - 1; i >= 0; i-- {
			if st.Files[i].ID == id {
				size, ok = st.Files[i].Size, true
				return nil
			}
		}
		return nil
	})
	return size, ok, err
}

// uploadBlob stores bytes on the file server and returns their id.
func (c *Client) uploadBlob(ctx context.Context, srv ServerInfo, blob []byte) (string, error) {
	code, body, err := c.ServerRequest(ctx, srv, "POST", "/file", blob)
	if err != nil {
		return "", err
	}
	if code != 200 {
		return "", fmt.Errorf("upload refused (%d): %s", code, truncate(string(body), 100))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !allDigits(out.ID) {
		return "", errors.New("the file server's answer has no id of decimal digits")
	}
	return out.ID, nil
}

func allDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Download fetches an attachment from the file server srv and decrypts
// it: the file its URL names (LocateFile; the real file server's URL is
// srv's), or without a URL the file of its id.
func (c *Client) Download(ctx context.Context, srv ServerInfo, a Attachment) ([]byte, error) {
	ref, err := a.Locate(srv, ServerInfo{})
	if err != nil {
		return nil, err
	}
	if ref.Community {
		return nil, fmt.Errorf("%w: a community's file, not the file server's", ErrForeignFile)
	}
	if len(a.Key) != AttachmentKeySize {
		return nil, fmt.Errorf("%w: the key is not %d bytes", ErrAttachment, AttachmentKeySize)
	}
	body, err := c.downloadBlob(ctx, srv, ref.ID)
	if err != nil {
		return nil, err
	}
	return DecryptAttachment(body, a.Key, a.Digest, a.Size)
}

// downloadBlob fetches the bytes of file id from the file server.
func (c *Client) downloadBlob(ctx context.Context, srv ServerInfo, id string) ([]byte, error) {
	if !validFileID(id) {
		return nil, fmt.Errorf("%w: %q", ErrNoFile, id)
	}
	code, body, err := c.ServerRequest(ctx, srv, "GET", "/file/"+id, nil)
	if err != nil {
		return nil, err
	}
	if code == 404 {
		return nil, fmt.Errorf("%w: %s", ErrNoFile, id)
	}
	if code != 200 {
		return nil, fmt.Errorf("download refused (%d): %s", code, truncate(string(body), 100))
	}
	return body, nil
}
