package display

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/internal/errkind"
)

// Identity is an identity as the command line shows it (its --json form,
// stable).
type Identity struct {
	Name           string `json:"name,omitempty"`
	AccountID      string `json:"account_id"`
	Ed25519Pubkey  string `json:"ed25519_pubkey,omitempty"`
	SwarmSpace     string `json:"swarm_space"`
	RecoveryPhrase string `json:"recovery_phrase,omitempty"`
	// With a community server's key (Blind): the two 15-blinded IDs a
	// Session ID may have (the account's own first when its key is known),
	// and its 25-blinded ID.
	BlindedIDs []string `json:"blinded_ids,omitempty"`
	Blinded25  string   `json:"blinded25_id,omitempty"`
	// DeviceOf: this identity is another device of that one.
	DeviceOf string `json:"device_of,omitempty"`
}

// IdentityOf describes an identity of the keystore, its recovery phrase
// with withPhrase.
func IdentityOf(e *identity.Entry, withPhrase bool) Identity {
	out := IdentityOfID(e.Keys.AccountID())
	out.Name, out.Ed25519Pubkey, out.DeviceOf = e.Name, hex.EncodeToString(e.Keys.Ed25519Public()), e.DeviceOf
	if withPhrase {
		out.RecoveryPhrase = e.Keys.Phrase()
	}
	return out
}

// IdentityOfID describes what an Account ID alone tells.
func IdentityOfID(id identity.AccountID) Identity {
	return Identity{AccountID: id.String(), SwarmSpace: strconv.FormatUint(id.SwarmSpace(), 10)}
}

// Blind adds the IDs a community server with the X25519 key serverKey sees.
func (i *Identity) Blind(serverKey []byte) error {
	id, err := identity.ParseAccountID(i.AccountID)
	if err != nil {
		return err
	}
	ids, err := identity.BlindedIDs(id, serverKey)
	if err != nil {
		return err
	}
	if ed, err := hex.DecodeString(i.Ed25519Pubkey); err == nil && len(ed) == 32 && ed[31]&0x80 != 0 {
		ids[0], ids[1] = ids[1], ids[0] // the account's key is negative: k*A is the second
	}
	i.BlindedIDs = ids[:]
	i.Blinded25, err = identity.Blinded25ID(id, serverKey)
	return err
}

// WriteText writes the identity, a field a line.
func (i Identity) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	line("name", i.Name)
	line("account ID", i.AccountID)
	line("ed25519 pubkey", i.Ed25519Pubkey)
	line("swarm space", i.SwarmSpace)
	line("recovery phrase", i.RecoveryPhrase)
	if len(i.BlindedIDs) == 2 {
		line("blinded ID", i.BlindedIDs[0])
		if i.Ed25519Pubkey == "" {
			line("or (sign unknown)", i.BlindedIDs[1])
		}
		line("25-blinded ID", i.Blinded25)
	}
	return tw.Flush()
}

// WriteIdentities writes the keystore's identities, a line each.
func WriteIdentities(w io.Writer, all []*identity.Entry) error {
	tw := table(w, "NAME\tACCOUNT ID\tDEVICE OF")
	for _, e := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Keys.AccountID(), OrDash(e.DeviceOf))
	}
	return tw.Flush()
}

// LookupIdentity describes arg: an identity of the keystore (its recovery
// phrase with phrase), or what an Account ID alone tells; with serverKey
// (64 hex digits), the IDs a community server of that key sees too. What
// cannot be shown is an errkind.Invalid error.
func LookupIdentity(ks *identity.Keystore, arg string, phrase bool, serverKey string) (Identity, error) {
	var out Identity
	e, err := ks.Resolve(arg)
	switch {
	case err == nil:
		if phrase && !e.Keys.HasPhrase() {
			return out, errkind.Invalidf("%s has no recovery phrase (it is not a Session account's key)", arg)
		}
		out = IdentityOf(e, phrase)
	case len(arg) == identity.AccountIDLen && errors.Is(err, identity.ErrNotFound):
		if phrase {
			return out, errkind.Invalidf("%s is not an identity of the keystore: its recovery phrase is not known here", arg)
		}
		id, _ := identity.ParseAccountID(arg)
		out = IdentityOfID(id)
	case errors.Is(err, identity.ErrNameInvalid):
		return out, errkind.Invalidf("%q is neither an identity name nor an Account ID (66 hex characters)", arg)
	default:
		return out, err
	}
	if serverKey != "" {
		key, err := hex.DecodeString(serverKey)
		if err != nil || len(key) != 32 {
			return out, errkind.Invalidf("--community-pubkey: want 64 hex characters")
		}
		if err := out.Blind(key); err != nil {
			return out, errkind.AsInvalid(err)
		}
	}
	return out, nil
}
