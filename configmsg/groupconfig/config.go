package groupconfig

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The namespaces of a group's swarm (libsession-util's
// include/session/config/namespaces.hpp; session-storage-server's
// namespace.h agrees).
const (
	NamespaceMessages storagerpc.Namespace = 11 // group messages
	NamespaceKeys     storagerpc.Namespace = 12 // keys messages (package groupkeys)
	NamespaceInfo     storagerpc.Namespace = 13
	NamespaceMembers  storagerpc.Namespace = 14
)

// The kinds of a group's two config messages: their encryption domains
// (libsession's Info::encryption_domain and Members::encryption_domain)
// and namespaces.
var (
	InfoKind    = configmsg.Kind{Domain: "groups::Info", Namespace: NamespaceInfo}
	MembersKind = configmsg.Kind{Domain: "groups::Members", Namespace: NamespaceMembers}
)

// ErrNotAdmin is a change to a group's config made without the group's
// private key: no member would accept it.
var ErrNotAdmin = errors.New("only a group admin (with the group's private key) can write its configs")

// ErrNoKeys is a group config read with no key to open it.
var ErrNoKeys = errors.New("no group key to open the group's configs with")

// Loaded is a group config read from its namespace.
type Loaded struct {
	// Message is the config: one of the stored messages, or their merge
	// (an admin's: Used is then -1, and the merge needs pushing).
	Message *configmsg.Message
	// Used is the index of the stored message Message is, or -1.
	Used int
	// Skipped says why each stored message not used was unreadable: not
	// opened by any key (another generation's, or not the group's), not
	// signed by the group, malformed, or listing more than MaxMembers.
	Skipped []error
}

// NewConfig is an admin's first message of a group config (seqno 1, empty
// data), signed with the group's private key.
func NewConfig(priv ed25519.PrivateKey) (*configmsg.Message, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, ErrNotAdmin
	}
	return configmsg.FirstSigned(configmsg.DefaultLag, priv), nil
}

// Load reads a group config (kind InfoKind or MembersKind) from the
// messages stored in its namespace, as libsession-util's ConfigBase::merge
// does: each is opened with the first of keys (the group's keys, newest
// first, as groupkeys.Keys.GroupKeys gives them) that decrypts it, must be
// signed by the group (pub), and then they are settled into one. An admin
// gives the group's private key (priv): conflicting messages are then
// merged, and what is built on the result is signed; a member gives nil
// and reads the newest. Messages that cannot be read are skipped (see
// Loaded.Skipped); configmsg.ErrNoMessage if none can.
func Load(kind configmsg.Kind, stored [][]byte, keys [][]byte, pub ed25519.PublicKey, priv ed25519.PrivateKey) (*Loaded, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	out := &Loaded{Used: -1}
	var plains [][]byte
	var index []int
	for i, s := range stored {
		plain, _, err := configmsg.Open(s, keys, kind.Domain)
		if err == nil {
			err = checkStored(kind, plain, pub)
		}
		if err != nil {
			out.Skipped = append(out.Skipped, fmt.Errorf("message %d: %w", i, err))
			continue
		}
		plains = append(plains, plain)
		index = append(index, i)
	}
	m, used, skipped, err := configmsg.LoadSigned(plains, configmsg.DefaultLag, pub, priv)
	out.Skipped = append(out.Skipped, skipped...) // none: each parsed above
	if err != nil {
		return out, err
	}
	if kind == MembersKind {
		if err := CheckMembers(m.Data()); err != nil {
			return out, fmt.Errorf("the merged members config: %w", err)
		}
	}
	out.Message = m
	if used >= 0 {
		out.Used = index[used]
	}
	return out, nil
}

// checkStored checks one decrypted message before it is settled with the
// others: signed by the group, and (members) not listing too many.
func checkStored(kind configmsg.Kind, plain []byte, pub ed25519.PublicKey) error {
	m, err := configmsg.ParseSigned(plain, configmsg.DefaultLag, pub)
	if err != nil {
		return err
	}
	if kind == MembersKind {
		return CheckMembers(m.Data())
	}
	return nil
}

// Seal makes what an admin stores for a group config: m, signed, encoded,
// compressed when that is shorter, padded and encrypted with key (the
// group's current key: the first of GroupKeys). Only a message built by an
// admin is signed (ErrNotAdmin otherwise).
func Seal(kind configmsg.Kind, m *configmsg.Message, key []byte) ([]byte, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	if !m.Signed() {
		return nil, ErrNotAdmin
	}
	if kind == MembersKind {
		if err := CheckMembers(m.Data()); err != nil {
			return nil, err
		}
	}
	return configmsg.Seal(m.Encode(), key, kind.Domain)
}

func checkKind(kind configmsg.Kind) error {
	if kind != InfoKind && kind != MembersKind {
		return fmt.Errorf("groupconfig: %q is not a group config", kind.Domain)
	}
	return nil
}
