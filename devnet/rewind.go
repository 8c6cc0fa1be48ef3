package devnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/sessionctl/sessionctl/internal/httpserve"
)

// Rewinding a running devnet in place ('devnet snapshot load NAME' while
// it runs). The control endpoint takes the request (POST /v1/snapshot/load)
// and asks the devnet to stop; Serve, which runs it, then closes it, loads
// the snapshot's files and opens the same devnet again from them, on the
// same control address and token, with the rewind's id in the manifest
// (Manifest.Rewound), which the client waits for.

// rewindCfg are what a rewound devnet keeps of the one before it.
type rewindCfg struct {
	token       string // the control token (and so the dashboard's secret)
	controlAddr string // the control endpoint's host:port
	id          string // Manifest.Rewound
}

// Serve runs d until ctx ends, it is asked to stop, or a part fails (as
// Wait), and rewinds it in place each time a snapshot load asks it to. It
// returns the devnet running last, for the caller to close (d itself is
// closed by a rewind), and the failure if there was one.
func Serve(ctx context.Context, d *Devnet) (*Devnet, error) {
	for {
		d.mu.Lock()
		d.served = true
		d.mu.Unlock()
		err := Wait(ctx, d, d.Done())
		d.mu.Lock()
		name, id := d.rewindTo, d.rewindID
		d.mu.Unlock()
		if err != nil || name == "" || ctx.Err() != nil {
			return d, err
		}
		nd, err := d.rewind(ctx, name, id)
		if err != nil {
			return d, fmt.Errorf("rewind to snapshot %q: %w", name, err)
		}
		d = nd
	}
}

// rewind closes d, loads snapshot name into its directory and starts the
// same devnet again from it.
func (d *Devnet) rewind(ctx context.Context, name, id string) (*Devnet, error) {
	cfg := d.given
	// What the snapshot saved rules: its seed, nodes, clients, blocks.
	cfg.Nodes, cfg.Seed, cfg.BlockTime, cfg.Clients, cfg.Reset = 0, "", 0, nil, false
	cfg.Fund, cfg.Progress, cfg.Events = nil, nil, nil // paid once; a new hub (Close closed the old)
	cfg.rewind = rewindCfg{token: d.token, controlAddr: d.control.http.Addr().String(), id: id}
	d.log.Info().Str("snapshot", name).Msg("rewinding to snapshot")
	if err := d.Close(); err != nil {
		return nil, fmt.Errorf("stop: %w", err)
	}
	if err := LoadSnapshot(cfg.Dir, name); err != nil {
		return nil, err
	}
	nd, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if err := nd.Start(ctx); err != nil {
		return nil, errors.Join(err, nd.Close())
	}
	nd.log.Info().Str("snapshot", name).Msg("rewound to snapshot")
	return nd, nil
}

// mustStop says why the devnet cannot rewind in place, or nil.
func (d *Devnet) mustStop() error {
	d.mu.Lock()
	served := d.served
	d.mu.Unlock()
	if !served {
		return fmt.Errorf("%w: nothing would start it again (it runs a scenario, or a program that does not Serve it): stop it first", ErrMustStop)
	}
	own := map[string]bool{}
	for i := 0; i < d.st.Nodes; i++ {
		own[d.Network.NodeKey(i)] = true
	}
	for _, n := range d.Network.Ledger.Nodes() {
		if !own[n.Key] {
			return fmt.Errorf("%w: node %.16s joined it from a process of its own ('node run' or 'node join'), which would not follow a rewind: stop the devnet ('sessionctl devnet down'), load the snapshot, and 'sessionctl devnet up'", ErrMustStop, n.Key)
		}
	}
	return nil
}

// loadSnapshot answers POST /v1/snapshot/load {"name"}: 202 and the
// rewind's id, then the devnet stops for Serve to rewind it.
func (c *controlServer) loadSnapshot(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		httpserve.WriteError(w, http.StatusBadRequest, `want {"name"}`)
		return
	}
	src, err := snapshotDir(c.d.cfg.Dir, req.Name)
	if err != nil {
		writeErrOf(w, http.StatusBadRequest, err)
		return
	}
	if _, err := os.Stat(Dir(src).StateFile()); err != nil {
		writeErrOf(w, http.StatusNotFound, fmt.Errorf("%w: %q", ErrNoSnapshot, req.Name))
		return
	}
	if err := c.d.mustStop(); err != nil {
		writeErrOf(w, http.StatusConflict, err)
		return
	}
	b := make([]byte, 8)
	rand.Read(b)
	id := hex.EncodeToString(b)
	c.d.mu.Lock()
	if c.d.rewindTo != "" {
		c.d.mu.Unlock()
		httpserve.WriteError(w, http.StatusConflict, "the devnet is rewinding already")
		return
	}
	c.d.rewindTo, c.d.rewindID = req.Name, id
	c.d.mu.Unlock()
	httpserve.WriteJSON(w, http.StatusOK, map[string]string{"rewinding": req.Name, "id": id})
	c.d.requestDown()
}

// Rewind asks the running devnet to rewind in place to snapshot name, and
// waits until it runs again from it (its manifest names the rewind).
func (c *ControlClient) Rewind(ctx context.Context, name string) error {
	var out struct{ ID string }
	if err := c.do(ctx, http.MethodPost, "/v1/snapshot/load", map[string]string{"name": name}, &out); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		if m, err := ReadManifest(c.dir); err == nil && m.Rewound == out.ID {
			return nil
		}
		if !Locked(c.dir) && !ProcessAlive(c.m.PID) {
			return fmt.Errorf("the devnet (pid %d) ended while rewinding; its log says why (sessionctl logs devnet)", c.m.PID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the devnet did not come back from the rewind: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// controlListen is where the control endpoint listens: where it listened
// before a rewind (an open dashboard reconnects), else a free port.
func (d *Devnet) controlListen() string {
	if a := d.cfg.rewind.controlAddr; a != "" {
		if ln, err := net.Listen("tcp", a); err == nil {
			ln.Close()
			return a
		}
	}
	return d.Network.cfg.addr(PortControl)
}
