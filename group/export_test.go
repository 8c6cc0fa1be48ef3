package group

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/groupkeys"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// GroupKey exposes the group key to the tests (nil for a member).
func GroupKey(g *Group) ed25519.PrivateKey { return g.adminKey() }

// ForgeMessage stores in g's swarm (with s's rights) a message that
// author signed, under g's current key: what a removed member could only
// get there through someone else. Admins only (g's seed).
func ForgeMessage(ctx context.Context, s *Device, g *Group, author *identity.Keys, text string) error {
	dump, err := base64.StdEncoding.DecodeString(g.Keys)
	if err != nil {
		return err
	}
	k, err := groupkeys.Restore(author, g.pub(), g.seed(), dump)
	if err != nil {
		return err
	}
	plain, err := client.EncodeContent(client.Content{Text: text, SentAt: s.C.Now().UnixMilli()})
	if err != nil {
		return err
	}
	env, err := wrapGroup(plain, g.ID, s.C.Now().UnixMilli())
	if err != nil {
		return err
	}
	ct, err := k.EncryptMessage(env)
	if err != nil {
		return err
	}
	_, err = s.store(ctx, g, NSMessages, ct, MessageTTL.Milliseconds())
	return err
}

// StoreRaw stores data in namespace ns of g's swarm with s's rights.
func StoreRaw(ctx context.Context, s *Device, g *Group, ns storagerpc.Namespace, data []byte) error {
	_, err := s.store(ctx, g, ns, data, ConfigTTL.Milliseconds())
	return err
}

// EncryptionKey is g's current key as s holds it.
func EncryptionKey(s *Device, g *Group) ([]byte, error) {
	k, err := s.keysOf(g)
	if err != nil {
		return nil, err
	}
	return k.EncryptionKey()
}

// Expirations are the expiries (unix ms) of the messages of namespace ns
// of g's swarm, by hash, read with s's rights.
func Expirations(ctx context.Context, s *Device, g *Group, ns storagerpc.Namespace) (map[string]int64, error) {
	msgs, err := s.retrieveAll(ctx, g, ns)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, m := range msgs {
		out[m.Hash] = m.Expiration
	}
	return out, nil
}
