package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// The kinds of the devnet's servers (ManifestServer.Kind).
const (
	FileServer      = "file"
	CommunityServer = "community"
)

// ErrNoServer is a devnet that runs no server of the kind asked for.
var ErrNoServer = errors.New("the devnet runs no such server")

// Server returns the running devnet's server of kind (FileServer,
// CommunityServer), as a client reaches it: no devnet is an
// errkind.NotRunning error.
func (d Dir) Server(kind string) (client.ServerInfo, error) {
	m, err := d.ReadManifest()
	if err != nil {
		return client.ServerInfo{}, errkind.AsNotRunning(fmt.Errorf("no devnet is running under %s, so no %s server is known; start one with 'sessionctl devnet up'", d, kind))
	}
	for _, s := range m.Servers {
		if s.Kind == kind {
			k, err := hex.DecodeString(s.X25519Pubkey)
			if err != nil || len(k) != 32 {
				return client.ServerInfo{}, fmt.Errorf("the manifest's %s server key is %w", kind, ErrDamaged)
			}
			return client.ServerInfo{URL: s.URL, X25519: [32]byte(k)}, nil
		}
	}
	return client.ServerInfo{}, fmt.Errorf("%w: the devnet runs no %s server", ErrNoServer, kind)
}

// FileServer is Server(FileServer).
func (d Dir) FileServer() (client.ServerInfo, error) { return d.Server(FileServer) }

// CommunityServer is Server(CommunityServer).
func (d Dir) CommunityServer() (client.ServerInfo, error) { return d.Server(CommunityServer) }

// Dial finds the devnet running in the directory (within 10 s), as Dial
// does, saying what to do: none there is an errkind.NotRunning error; one
// that does not answer is ErrUnresponsive, with a client that can stop it.
func (d Dir) Dial(ctx context.Context) (*ControlClient, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cc, err := Dial(ctx, string(d))
	switch {
	case errors.Is(err, ErrNotRunning):
		return nil, errkind.AsNotRunning(fmt.Errorf("no devnet is running under %s; start one with 'sessionctl devnet up'", d))
	case errors.Is(err, ErrUnresponsive):
		return cc, fmt.Errorf("%w; 'sessionctl devnet down' stops it", err)
	}
	return cc, err
}

// ShowSent shows a message identity from sent on the running devnet's
// dashboard (device.Cmd.Send calls it after a send), within a few seconds
// or not at all: the send stands either way, and the error says why it was
// not shown.
func (d Dir) ShowSent(ctx context.Context, from string, res *client.SendResult) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cc, err := Dial(ctx, string(d))
	if err != nil {
		return err
	}
	return cc.ReportSent(ctx, SentReportOf(from, res))
}
