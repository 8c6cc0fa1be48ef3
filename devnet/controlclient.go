package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/sessionctl/sessionctl/internal/flock"
)

// AddRoom creates a room on the devnet's community server.
func (c *ControlClient) AddRoom(ctx context.Context, token, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/community/rooms", map[string]string{"token": token, "name": name}, nil)
}

// ErrUnresponsive is returned by Dial when a devnet process holds the
// directory but its control endpoint does not answer (it is overloaded or
// stuck): Dial returns a client all the same, whose Down still stops it.
var ErrUnresponsive = errors.New("a devnet runs in this directory but does not answer")

// ControlClient talks to a running devnet's control endpoint.
type ControlClient struct {
	m   *Manifest
	dir string
	hc  *http.Client
	// stuck: Dial found it holding the directory without answering.
	stuck bool
}

// Locked reports whether a devnet process holds dir's lock: the one sure
// sign that it runs, however it is doing (a pid may be reused, and a killed
// process may linger as a zombie after it released the lock).
func Locked(dir string) bool {
	f, err := os.Open(Dir(dir).LockFile())
	if err != nil {
		return false
	}
	defer f.Close()
	if err := flock.TryLock(f, false); err != nil {
		return errors.Is(err, flock.ErrLocked)
	}
	flock.Unlock(f)
	return false
}

// Dial reads dir's manifest and checks that its devnet answers; a devnet
// that is gone is ErrNotRunning, one that holds the directory but does not
// answer ErrUnresponsive (with a client that can stop it).
func Dial(ctx context.Context, dir string) (*ControlClient, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		if Locked(dir) {
			return nil, fmt.Errorf("%w: it has not written devnet.json (still starting?)", ErrUnresponsive)
		}
		return nil, err
	}
	c := &ControlClient{m: m, dir: dir, hc: &http.Client{Timeout: 60 * time.Second}}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Status(sctx); err != nil {
		if Locked(dir) {
			c.stuck = true
			return c, fmt.Errorf("%w (pid %d)", ErrUnresponsive, m.PID)
		}
		if errors.Is(err, ErrNotRunning) || sctx.Err() != nil {
			return nil, fmt.Errorf("%w: devnet.json is left from a devnet that is gone (pid %d)", ErrNotRunning, m.PID)
		}
		return nil, err
	}
	return c, nil
}

// Manifest returns the manifest the client was made from.
func (c *ControlClient) Manifest() *Manifest { return c.m }

// roundTrip sends body (JSON, if not nil) to url with the token, if any,
// and returns the answer's status and up to limit bytes of it: a
// *sendError when no answer came, the status and the read's error when the
// answer was cut short.
func roundTrip(ctx context.Context, hc *http.Client, method, url, token string, body any, limit int64) (int, []byte, error) {
	var rb []byte
	if body != nil {
		var err error
		if rb, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(rb))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, &sendError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp.StatusCode, data, err
}

// sendError is a request that got no answer.
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func (c *ControlClient) do(ctx context.Context, method, path string, body, out any) error {
	status, data, err := roundTrip(ctx, c.hc, method, c.m.Control.URL+path, c.m.Control.Token, body, 16<<20)
	var se *sendError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: the control endpoint does not answer", ErrNotRunning)
	case err != nil && status != 0:
		return fmt.Errorf("%w: the control endpoint's answer was cut short", ErrNotRunning)
	case err != nil:
		return err
	}
	if status != http.StatusOK {
		return decodeErr(data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the control endpoint's answer is malformed: %w", err)
		}
	}
	return nil
}

// Status asks the devnet how it is.
func (c *ControlClient) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Nodes lists the nodes.
func (c *ControlClient) Nodes(ctx context.Context) ([]ManifestNode, error) {
	var n []ManifestNode
	return n, c.do(ctx, http.MethodGet, "/v1/nodes", nil, &n)
}

// Kill stops a node.
func (c *ControlClient) Kill(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/kill", nil, nil)
}

// Restart starts a node again, and reports whether it was running (and so
// was stopped first).
func (c *ControlClient) Restart(ctx context.Context, name string) (wasRunning bool, err error) {
	var out struct {
		WasRunning bool `json:"was_running"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name)+"/restart", nil, &out)
	return out.WasRunning, err
}

// ReportSent shows a message a client sent on the dashboard: its path, and
// which of the onion requests the nodes saw were its own and its sync
// copy's.
func (c *ControlClient) ReportSent(ctx context.Context, rep SentReport) error {
	return c.do(ctx, http.MethodPost, "/v1/sent", rep, nil)
}

// Down stops the devnet and waits until it released its directory. A
// devnet that does not answer is sent SIGTERM, and SIGKILL if it has not
// stopped 20 s later (what it acknowledged is on disk either way).
func (c *ControlClient) Down(ctx context.Context) error {
	err := ErrUnresponsive
	if !c.stuck {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = c.do(dctx, http.MethodPost, "/v1/down", nil, nil)
		cancel()
	}
	if err != nil {
		if !Locked(c.dir) {
			return nil // it stopped on its own
		}
		if !ProcessAlive(c.m.PID) {
			return fmt.Errorf("the devnet does not answer, and its pid %d is gone: another process holds %s", c.m.PID, c.dir)
		}
		signalStop(c.m.PID, false)
	}
	term := time.Now()
	killed := false
	for {
		if !Locked(c.dir) {
			return nil
		}
		if !killed && time.Since(term) > 20*time.Second && ProcessAlive(c.m.PID) {
			signalStop(c.m.PID, true)
			killed = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the devnet (pid %d) did not stop: %w", c.m.PID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
