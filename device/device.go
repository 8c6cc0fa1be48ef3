// Package device is an identity of the keystore acting from this machine,
// as one device of its account: a Session client with its own state, what
// it sends and fetches, its files, its closed groups, and its view of the
// community server. The command line's messaging commands parse their
// flags, call it, and print.
//
//	d, err := device.Open(ctx, devnet.Dir(dir), lc, "bob", log) // clients/bob.json keeps what it read and sent
//	defer d.Close()
//	res, err := d.Send(ctx, device.Message{To: "alice", Text: "hi"})
//	got, err := d.Fetch(ctx, device.FetchOptions{SaveDir: "inbox"})
//	... show got.Shown ...
//	err = got.Commit() // only now are they read: a failure before leaves them unread
//
// The machine's layout comes through Home (devnet.Dir satisfies it), so
// this package does not depend on the devnet that runs the network.
package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/attachments"
	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/fileserver"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// Home is where the identities of this machine and their state live, and
// which servers they reach: a devnet's directory (devnet.Dir).
type Home interface {
	Keystore() *identity.Keystore
	// ClientState is identity name's client state: what it read and sent.
	ClientState(name string) string
	// GroupInboxState is its state for reading group invites.
	GroupInboxState(name string) string
	// GroupsDir holds the closed groups' state, by device.
	GroupsDir() string
	// FileServer and CommunityServer are the servers, as a client reaches them.
	FileServer() (client.ServerInfo, error)
	CommunityServer() (client.ServerInfo, error)
	// NodeNames names the service nodes (Ed25519 keys to names).
	NodeNames() map[string]string
}

// Device is an identity of the keystore acting: a client, started.
type Device struct {
	Name   string
	Client *client.Client
	Ledger *ledgerrpc.Client
	home   Home
	log    zerolog.Logger
}

// SentShower is a Home whose network shows what its devices send (a
// running devnet's dashboard, devnet.Dir): each send is shown with the
// path it took and its hashes, so that the page can tell the send's own
// onion request from its sync copy's. Best effort: the send stands
// without it.
type SentShower interface {
	ShowSent(ctx context.Context, from string, res *client.SendResult) error
}

// ErrNotAccount is an identity that is not a Session account (a key
// without a recovery phrase).
var ErrNotAccount = errors.New("not a Session account")

// Open starts the client of identity name with its state
// (Home.ClientState): a device, whose fetches look after the account's
// configs too. A name the keystore does not hold is identity.ErrNotFound.
func Open(ctx context.Context, home Home, lc *ledgerrpc.Client, name string, log zerolog.Logger) (*Device, error) {
	if err := identity.ValidName(name); err != nil {
		return nil, err
	}
	return OpenWithState(ctx, home, lc, name, home.ClientState(name), log)
}

// OpenWithState is Open with the client's state at statePath ("" keeps
// none).
func OpenWithState(ctx context.Context, home Home, lc *ledgerrpc.Client, name, statePath string, log zerolog.Logger) (*Device, error) {
	e, err := home.Keystore().Get(name)
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
	return &Device{Name: name, Client: cl, Ledger: lc, home: home, log: log}, nil
}

// Close stops the client.
func (d *Device) Close() error { return d.Client.Close() }

// AccountID is the device's account.
func (d *Device) AccountID() identity.AccountID { return d.Client.AccountID() }

// Resolve reads an account as Resolve does, with this device's keystore
// and ledger.
func (d *Device) Resolve(ctx context.Context, arg string) (identity.AccountID, error) {
	return Resolve(ctx, d.home.Keystore(), d.Ledger, arg)
}

// Resolve reads an Account ID, an identity of the keystore, or a session
// name registered on the ledger. What is none of them is an
// errkind.Invalid error.
func Resolve(ctx context.Context, ks *identity.Keystore, lc *ledgerrpc.Client, arg string) (identity.AccountID, error) {
	if len(arg) == identity.AccountIDLen {
		return identity.ParseAccountID(arg)
	}
	if identity.ValidName(arg) == nil {
		if e, err := ks.Get(arg); err == nil {
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

// AccountNames maps the keystore's Account IDs to names: an account with
// several devices by its first (not a linked one).
func AccountNames(ks *identity.Keystore) map[string]string {
	out := map[string]string{}
	if all, err := ks.List(); err == nil {
		for _, e := range all {
			if id := e.Keys.AccountID().String(); out[id] == "" || e.DeviceOf == "" {
				out[id] = e.Name
			}
		}
	}
	return out
}

// Message is what Send sends.
type Message struct {
	To      string   // an Account ID, an identity of the keystore, or a session name
	Text    string   //
	Attach  []string // files to encrypt, upload to the file server and send with it
	ReplyTo string   // the hash of a message this device sent or read, to quote
}

// Send sends a message through an onion path: its attachments uploaded
// first, the message it replies to quoted.
func (d *Device) Send(ctx context.Context, m Message) (*client.SendResult, error) {
	to, err := d.Resolve(ctx, m.To)
	if err != nil {
		return nil, err
	}
	if to.Prefix != identity.PrefixSession {
		return nil, errkind.Invalidf("%s is not a Session account (05...)", to)
	}
	content := client.Content{Text: m.Text}
	if h := m.ReplyTo; h != "" {
		ref, with, err := d.Client.Lookup(ctx, h)
		if err != nil {
			return nil, err
		}
		if with != to {
			return nil, errkind.Invalidf("--reply-to %s: that message is in the conversation with %s, not %s", h, display.Short(with.String()), m.To)
		}
		content.Quote = &ref
	}
	for _, path := range m.Attach {
		data, err := readFile(path, "--attach", "an attachment")
		if err != nil {
			return nil, err
		}
		srv, err := d.home.FileServer()
		if err != nil {
			return nil, err
		}
		att, err := d.Client.Upload(ctx, srv, filepath.Base(path), data)
		if err != nil {
			return nil, err
		}
		content.Attachments = append(content.Attachments, *att)
	}
	return d.Client.SendContent(ctx, to, content)
}

// readFile reads a file to upload, of at most the file server's size
// (what: its name in a message, as "--attach").
func readFile(path, flag, what string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if flag == "" {
			return nil, errkind.AsInvalid(err)
		}
		return nil, errkind.Invalidf("%s: %v", flag, err)
	}
	if len(data) > fileserver.MaxFileSize {
		return nil, errkind.Invalidf("%s: %s; %s is at most 10 MB (%d bytes)", strings.TrimSpace(flag+" "+path), display.ByteSize(len(data)), what, fileserver.MaxFileSize)
	}
	return data, nil
}

// Upload encrypts the file at path and uploads it to the file server; the
// device's state records its size, for a download by id alone.
func (d *Device) Upload(ctx context.Context, path string) (*client.Attachment, error) {
	data, err := readFile(path, "", "a file")
	if err != nil {
		return nil, err
	}
	srv, err := d.home.FileServer()
	if err != nil {
		return nil, err
	}
	return d.Client.Upload(ctx, srv, filepath.Base(path), data)
}

// Download fetches and decrypts a file of the devnet's servers (a.ID, or
// a.URL as pointers carry it). Unless sized, the size a pointer this device
// uploaded or read gives cuts the padding off; unsized is the file's id
// when it knew none (the padding stays).
func (d *Device) Download(ctx context.Context, a client.Attachment, sized bool) (data []byte, unsized string, err error) {
	files, err := d.home.FileServer()
	if err != nil {
		return nil, "", err
	}
	comm, _ := d.home.CommunityServer() // none: its files are refused
	ref, err := a.Locate(files, comm)
	if err != nil {
		return nil, "", errkind.AsInvalid(err)
	}
	if !sized {
		n, ok, err := d.Client.FileSize(ctx, ref.ID)
		if err != nil {
			return nil, "", err
		}
		if a.Size = n; !ok {
			unsized = ref.ID
		}
	}
	data, err = attachments.Download(ctx, d.Client, files, comm, a)
	if errors.Is(err, client.ErrNoFile) {
		return nil, unsized, errkind.Invalidf("no file %q on the devnet's servers (or it expired)", ref.ID)
	}
	return data, unsized, err
}

// ReadPicture reads a profile picture to upload: a regular file of 1 byte
// to the file server's limit.
func ReadPicture(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errkind.Invalidf("--avatar: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errkind.Invalidf("--avatar %s: not a regular file", path)
	}
	if fi.Size() > client.MaxAvatarSize {
		return nil, errkind.Invalidf("--avatar %s: %s; a profile picture is at most 10 MB (%d bytes)", path, display.ByteSize(int(fi.Size())), client.MaxAvatarSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errkind.Invalidf("--avatar: %v", err)
	}
	if len(data) == 0 {
		return nil, errkind.Invalidf("--avatar %s: an empty file", path)
	}
	if len(data) > client.MaxAvatarSize {
		return nil, errkind.Invalidf("--avatar %s: it grew past 10 MB while read", path)
	}
	return data, nil
}

// NameRegistration is a session name registered for an identity.
type NameRegistration struct {
	Name      string `json:"name"`
	AccountID string `json:"account_id"`
	Tx        string `json:"tx"`
	Height    uint64 `json:"height,omitempty"` // its block; 0 when not waited for
}

// RegisterName registers name for identity as's Account ID (as pays for
// it), and with wait, waits (a minute at most) for its block.
func RegisterName(ctx context.Context, ks *identity.Keystore, lc *ledgerrpc.Client, as, name string, wait bool) (NameRegistration, error) {
	e, err := ks.Resolve(as)
	if err != nil {
		return NameRegistration{}, err
	}
	n, hash, err := lc.RegisterName(ctx, e.Keys, name)
	if err != nil {
		return NameRegistration{}, err
	}
	r := NameRegistration{Name: n, AccountID: e.Keys.AccountID().String(), Tx: hash}
	if wait {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if r.Height, err = lc.WaitTx(wctx, hash); errors.Is(err, context.DeadlineExceeded) {
			return r, fmt.Errorf("transaction %s is not in a block after a minute; is the ledger making blocks? ('sessionctl ledger mine 1')", hash)
		}
	}
	return r, err
}

// WriteText writes the registration for a person.
func (r NameRegistration) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s -> %s\n", r.Name, r.AccountID)
	if r.Height > 0 {
		_, err := fmt.Fprintf(w, "registered in block %d (tx %s)\n", r.Height, r.Tx)
		return err
	}
	_, err := fmt.Fprintf(w, "submitted (tx %s); it is registered with the next block\n", r.Tx)
	return err
}
