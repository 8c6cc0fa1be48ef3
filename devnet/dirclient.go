package devnet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
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

// ErrNotAccount is an identity that is not a Session account (a key
// without a recovery phrase).
var ErrNotAccount = errors.New("not a Session account")

// StartClient starts a Session client as the identity name of the
// keystore: a device, whose fetches look after the account's configs too.
// Its state is kept at statePath (ClientState, GroupInboxState; "" keeps
// none). A name the keystore does not hold is its error (identity.ErrNotFound).
func (d Dir) StartClient(ctx context.Context, lc *ledgerrpc.Client, name, statePath string, log zerolog.Logger) (*client.Client, error) {
	e, err := d.Keystore().Get(name)
	if err != nil {
		return nil, err
	}
	if !e.Keys.HasPhrase() {
		return nil, errkind.AsInvalid(fmt.Errorf("%q is %w", name, ErrNotAccount))
	}
	cl, err := client.New(client.Config{Keys: e.Keys, Ledger: lc, StatePath: statePath, Logger: log, KeepConfigs: true})
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// ResolveAccount reads an Account ID, an identity of the keystore, or a
// session name registered on the ledger. What is none of them is an
// errkind.Invalid error; a ledger that cannot say is ledgerrpc's error.
func (d Dir) ResolveAccount(ctx context.Context, lc *ledgerrpc.Client, arg string) (identity.AccountID, error) {
	if len(arg) == identity.AccountIDLen {
		id, err := identity.ParseAccountID(arg)
		return id, errkind.AsInvalid(err)
	}
	if identity.ValidName(arg) == nil {
		if e, err := d.Keystore().Get(arg); err == nil {
			return e.Keys.AccountID(), nil
		} else if !errors.Is(err, identity.ErrNotFound) {
			return identity.AccountID{}, err
		}
	}
	res, err := lc.ResolveName(ctx, arg)
	switch {
	case errors.Is(err, ledger.ErrNameRules):
		return identity.AccountID{}, errkind.Invalidf("%q is not an Account ID, an identity of the keystore, or a session name", arg)
	case errors.Is(err, ledgerrpc.ErrNoName):
		return identity.AccountID{}, errkind.Invalidf("%q is not an identity of the keystore, and %v", arg, err)
	case err != nil:
		return identity.AccountID{}, err
	}
	return res.AccountID, nil
}
