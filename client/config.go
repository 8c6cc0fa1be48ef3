package client

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/sessionctl/sessionctl/configmsg"
	"github.com/sessionctl/sessionctl/sessionpb"
	"github.com/sessionctl/sessionctl/storagerpc"
	"google.golang.org/protobuf/proto"
)

// Config messages, as Session clients keep them (libsession-util's
// ConfigBase): an account's profile and contacts live in its own swarm,
// one namespace each, encrypted with a key only its devices derive from
// the account's seed (package configmsg). A device:
//
//   - reads every message of the namespace and settles them into one
//     (configmsg.Load): the newest, or a merge when two devices wrote at
//     once;
//   - writes by making the next message from that one, storing it (signed,
//     for ConfigTTL) and deleting the messages it replaces;
//   - keeps them alive: when one it reads has used half its lifetime, it
//     extends it (a signed "expire"), as a device that comes online does.
//     An account none of whose devices comes online before its configs
//     expire loses them: its profile and contacts are gone from the swarm.
//   - pushes a merge it made when reading, so every device settles on it.

// ConfigTTL is how long a config message lives: the longest the storage
// RPC allows config namespaces (30 days), as real clients store them.
const ConfigTTL = storagerpc.MaxConfigTTL

// maxConfigMessages bounds how many messages of one config namespace a
// device reads (the newest, by the swarm member's order).
const maxConfigMessages = 100

// AccountConfig is one config as a device found it in its swarm.
type AccountConfig struct {
	Kind configmsg.Kind
	// Message is the settled config; nil when the swarm holds none.
	Message *configmsg.Message
	// Hashes are the messages read that parsed; Used, the one settled on
	// as it was ("" after a merge).
	Hashes []string
	Used   string
	// Expiry and TTL are Used's, in unix ms and ms.
	Expiry, TTL int64
	// Skipped are messages that did not open or parse, with why.
	Skipped []string
}

// Data is the config's data (empty when the swarm holds none).
func (c *AccountConfig) Data() configmsg.Dict {
	if c.Message == nil {
		return configmsg.Dict{}
	}
	return c.Message.Data()
}

// ConfigPush is what a config write did.
type ConfigPush struct {
	Kind      string `json:"kind"`
	Seqno     int64  `json:"seqno"`
	Hash      string `json:"hash,omitempty"` // "" when nothing changed
	Merged    bool   `json:"merged,omitempty"`
	Replaced  int    `json:"replaced"`
	ExpiresAt int64  `json:"expires_at,omitempty"` // unix ms
}

// LoadConfig reads one config of this account from its swarm.
func (c *Client) LoadConfig(ctx context.Context, kind configmsg.Kind) (*AccountConfig, error) {
	var msgs []storagerpc.Message
	dest := ""
	for page := 0; page < 10 && len(msgs) < maxConfigMessages; page++ {
		last := ""
		if len(msgs) > 0 {
			last = msgs[len(msgs)-1].Hash
		}
		res, at, err := c.retrievePage(ctx, kind.Namespace, dest, func(string) string { return last })
		if err != nil {
			return nil, fmt.Errorf("read the %s config: %w", kind.Domain, err)
		}
		dest = at
		msgs = append(msgs, res.Messages...)
		if !res.More || len(res.Messages) == 0 {
			break
		}
	}
	if len(msgs) > maxConfigMessages {
		msgs = msgs[len(msgs)-maxConfigMessages:]
	}
	out := &AccountConfig{Kind: kind}
	if c.fault(func(f *Faults) *atomic.Bool { return &f.IgnoreConfigs }) {
		msgs = nil // (a test's broken client: it reads none)
	}
	var plains [][]byte
	var from []storagerpc.Message
	for _, m := range msgs {
		plain, why := c.openConfig(m.Data, kind)
		if why != "" {
			out.Skipped = append(out.Skipped, m.Hash+": "+why)
			continue
		}
		plains = append(plains, plain)
		from = append(from, m)
	}
	if len(plains) == 0 {
		return out, nil
	}
	m, used, skipped, err := configmsg.Load(plains, configmsg.DefaultLag)
	bad := map[int]bool{}
	for _, e := range skipped {
		out.Skipped = append(out.Skipped, e.Error())
	}
	for i := range plains {
		if len(skipped) == 0 {
			break
		}
		if _, err := configmsg.Parse(plains[i], configmsg.DefaultLag); err != nil {
			bad[i] = true
		}
	}
	if errors.Is(err, configmsg.ErrNoMessage) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for i, sm := range from {
		if !bad[i] {
			out.Hashes = append(out.Hashes, sm.Hash)
		}
	}
	out.Message = m
	if used >= 0 {
		out.Used = from[used].Hash
		out.Expiry = from[used].Expiration
		out.TTL = from[used].Expiration - from[used].Timestamp
	}
	for _, s := range out.Skipped {
		c.log.Warn().Str("config", kind.Domain).Str("skipped", s).Msg("a config message was skipped")
	}
	return out, nil
}

// maxConfigSize bounds a config message once decompressed.
const maxConfigSize = 1 << 20

// zstdDecoder decompresses 'z' config messages (shared: a decoder is made
// once; DecodeAll is safe for concurrent use).
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxConfigSize))

// kindOfConfig names a config kind as a SharedConfigMessage does.
var kindOfConfig = map[string]sessionpb.SharedConfigMessage_Kind{
	configmsg.UserProfile.Domain:       sessionpb.SharedConfigMessage_USER_PROFILE,
	configmsg.Contacts.Domain:          sessionpb.SharedConfigMessage_CONTACTS,
	configmsg.ConvoInfoVolatile.Domain: sessionpb.SharedConfigMessage_CONVO_INFO_VOLATILE,
	configmsg.UserGroups.Domain:        sessionpb.SharedConfigMessage_USER_GROUPS,
}

// openConfig opens one stored config message as libsession-util reads
// them (src/config/base.cpp, protos.cpp): sealed with the config key, or
// that wrapped in a SharedConfigMessage sealed by the account for itself
// (older pushes); padded with leading zeros; compressed with zstd when it
// starts 'z'. It says why when it cannot.
func (c *Client) openConfig(b64 string, kind configmsg.Kind) ([]byte, string) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "not base64"
	}
	seed := c.cfg.Keys.Ed25519.Seed()
	plain, err := configmsg.Decrypt(data, seed, kind.Domain)
	if err != nil {
		inner, why := c.unwrapConfig(data, kind)
		if why != "" {
			return nil, err.Error() + "; nor is it a wrapped config: " + why
		}
		if plain, err = configmsg.Decrypt(inner, seed, kind.Domain); err != nil {
			return nil, "wrapped: " + err.Error()
		}
	}
	for len(plain) > 0 && plain[0] == 0 {
		plain = plain[1:]
	}
	if len(plain) > 0 && plain[0] == 'z' {
		if plain, err = zstdDecoder.DecodeAll(plain[1:], nil); err != nil {
			return nil, "compressed, and does not decompress: " + err.Error()
		}
	}
	switch {
	case len(plain) == 0:
		return nil, "empty"
	case plain[0] == 'm':
		return nil, "a message in parts, which this client does not read (nor does libsession-util yet)"
	case plain[0] != 'd':
		return nil, fmt.Sprintf("a message of type %q, which this client does not read", plain[0])
	}
	return plain, ""
}

// unwrapConfig takes a config out of the protobuf wrapping of older
// pushes: a WebSocketMessage, an Envelope, content sealed by this account
// for itself, a Content with a SharedConfigMessage of the kind.
func (c *Client) unwrapConfig(data []byte, kind configmsg.Kind) ([]byte, string) {
	env, err := sessionpb.Unwrap(data)
	if err != nil {
		return nil, err.Error()
	}
	plain, sender, err := Decrypt(c.cfg.Keys, env.Content)
	if err != nil {
		return nil, err.Error()
	}
	if !sender.Equal(c.cfg.Keys.Ed25519Public()) {
		return nil, "sealed by another account"
	}
	var content sessionpb.Content
	if err := proto.Unmarshal(sessionpb.Unpad(plain), &content); err != nil {
		return nil, "the content is not a Session message: " + err.Error()
	}
	sc := content.GetSharedConfigMessage()
	if sc == nil {
		return nil, "no SharedConfigMessage in it"
	}
	if sc.GetKind() != kindOfConfig[kind.Domain] {
		return nil, fmt.Sprintf("a %v config, not %s", sc.GetKind(), kind.Domain)
	}
	return sc.GetData(), ""
}

// UpdateConfig changes one config of this account: it reads it, applies
// change to its data, and stores the next message (for ttl; 0 means
// ConfigTTL), deleting those it replaces. Nothing is stored when nothing
// changed and no merge needs pushing.
func (c *Client) UpdateConfig(ctx context.Context, kind configmsg.Kind, ttl time.Duration, change func(configmsg.Dict) error) (*ConfigPush, *AccountConfig, error) {
	cfg, err := c.LoadConfig(ctx, kind)
	if err != nil {
		return nil, nil, err
	}
	return c.updateLoaded(ctx, cfg, ttl, change)
}

// updateLoaded is UpdateConfig of a config just read.
func (c *Client) updateLoaded(ctx context.Context, cfg *AccountConfig, ttl time.Duration, change func(configmsg.Dict) error) (*ConfigPush, *AccountConfig, error) {
	kind := cfg.Kind
	var next *configmsg.Message
	if cfg.Message == nil {
		next = configmsg.New(configmsg.DefaultLag).Increment()
	} else {
		next = cfg.Message.Edit()
	}
	if err := change(next.Data()); err != nil {
		return nil, nil, err
	}
	out := &ConfigPush{Kind: kind.Domain, Seqno: next.Seqno()}
	if len(next.Diff()) == 0 && (cfg.Message == nil || !cfg.Message.Merged()) {
		if cfg.Message != nil {
			out.Seqno = cfg.Message.Seqno()
		}
		return out, cfg, nil
	}
	if err := c.pushConfig(ctx, kind, next, cfg.Hashes, ttl, out); err != nil {
		return nil, nil, err
	}
	cfg.Message, cfg.Used, cfg.Hashes = next, out.Hash, []string{out.Hash}
	cfg.Expiry, cfg.TTL = out.ExpiresAt, cmp.Or(ttl, ConfigTTL).Milliseconds()
	return out, cfg, nil
}

// pushConfig stores m and deletes the messages it replaces.
func (c *Client) pushConfig(ctx context.Context, kind configmsg.Kind, m *configmsg.Message, replaces []string, ttl time.Duration, out *ConfigPush) error {
	if ttl == 0 {
		ttl = ConfigTTL
	}
	if ttl < storagerpc.MinTTL || ttl > ConfigTTL {
		return fmt.Errorf("config ttl %v: want %v to %v", ttl, storagerpc.MinTTL, ConfigTTL)
	}
	sealed, err := configmsg.Encrypt(configmsg.Pad(m.Encode()), c.cfg.Keys.Ed25519.Seed(), kind.Domain)
	if err != nil {
		return err
	}
	if len(sealed) > storagerpc.MaxDataSize {
		return fmt.Errorf("the %s config is %d bytes encrypted, %w of %d", kind.Domain, len(sealed), storagerpc.ErrTooLarge, storagerpc.MaxDataSize)
	}
	me := c.AccountID()
	ts := c.cfg.Now().UnixMilli()
	params := func() any {
		sigTS := c.sigNow()
		return storagerpc.StoreParams{Pubkey: me.String(), Timestamp: ts, TTL: ttl.Milliseconds(), Namespace: kind.Namespace,
			Data: base64.StdEncoding.EncodeToString(sealed), SigTS: sigTS,
			Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.StoreSigMsg(kind.Namespace, sigTS))}
	}
	resp, _, err := c.toSwarm(ctx, me, "store", params)
	if err != nil {
		return fmt.Errorf("store the %s config: %w", kind.Domain, err)
	}
	var res storagerpc.SwarmResults
	if err := resp.Decode(&res); err != nil {
		return fmt.Errorf("store the %s config: %w", kind.Domain, err)
	}
	out.Seqno, out.Hash, out.Merged, out.ExpiresAt = m.Seqno(), res.Hash, m.Merged(), ts+ttl.Milliseconds()
	old := slices.DeleteFunc(slices.Clone(replaces), func(h string) bool { return h == res.Hash })
	if len(old) > 0 {
		if err := c.deleteOwn(ctx, old); err != nil {
			c.log.Warn().Err(err).Str("config", kind.Domain).Msg("the config messages replaced were not deleted")
		} else {
			out.Replaced = len(old)
		}
	}
	c.log.Info().Str("config", kind.Domain).Int64("seqno", out.Seqno).Str("hash", out.Hash).Int("replaced", out.Replaced).Msg("config pushed")
	return nil
}

// keptConfigs are the configs a device keeps alive (the user groups
// config holds the account's closed groups: package group writes it).
var keptConfigs = []configmsg.Kind{configmsg.UserProfile, configmsg.Contacts, configmsg.ConvoInfoVolatile, configmsg.UserGroups}

// keepConfigs is what an online device does for its configs on each
// poll, for each config at once: it pushes a merge it had to make, and
// extends a config that has used half its lifetime. It returns what it
// read, by domain (a config that could not be read is missing).
func (c *Client) keepConfigs(ctx context.Context) map[string]*AccountConfig {
	read := make([]*AccountConfig, len(keptConfigs))
	var wg sync.WaitGroup
	for i, kind := range keptConfigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read[i] = c.keepConfig(ctx, kind)
		}()
	}
	wg.Wait()
	out := map[string]*AccountConfig{}
	for i, kind := range keptConfigs {
		if read[i] != nil {
			out[kind.Domain] = read[i]
		}
	}
	return out
}

func (c *Client) keepConfig(ctx context.Context, kind configmsg.Kind) *AccountConfig {
	cfg, err := c.LoadConfig(ctx, kind)
	if err != nil {
		c.log.Warn().Err(err).Str("config", kind.Domain).Msg("config not checked")
		return nil
	}
	now := c.cfg.Now().UnixMilli()
	switch {
	case cfg.Message == nil:
	case cfg.Used == "":
		// A merge: push it, so every device settles on it.
		var out ConfigPush
		pushed := cfg.Message.Edit()
		if err := c.pushConfig(ctx, kind, pushed, cfg.Hashes, 0, &out); err != nil {
			c.log.Warn().Err(err).Str("config", kind.Domain).Msg("the merged config was not pushed")
			break
		}
		// What this device builds on next is the message it pushed.
		cfg.Message, cfg.Used, cfg.Hashes = pushed, out.Hash, []string{out.Hash}
		cfg.Expiry, cfg.TTL = out.ExpiresAt, ConfigTTL.Milliseconds()
	case cfg.Expiry-now < cfg.TTL/2:
		exp := now + cfg.TTL
		if err := c.extend(ctx, cfg.Used, exp); err != nil {
			c.log.Warn().Err(err).Str("config", kind.Domain).Msg("the config was not extended")
			break
		}
		cfg.Expiry = exp
		c.log.Info().Str("config", kind.Domain).Str("hash", cfg.Used).Time("until", time.UnixMilli(exp)).Msg("config extended")
	}
	return cfg
}

// extend extends a message of this account's swarm to expiry, signed.
func (c *Client) extend(ctx context.Context, hash string, expiry int64) error {
	me := c.AccountID()
	hashes := []string{hash}
	resp, err := c.Call(ctx, me, "expire", func() any {
		return storagerpc.ExpireParams{Pubkey: me.String(), Messages: hashes, Expiry: expiry, Extend: true,
			Auth: storagerpc.SignAuth(c.cfg.Keys.Ed25519, me, storagerpc.ExpireSigMsg(false, true, expiry, hashes))}
	})
	if err != nil {
		return err
	}
	if resp.Code != storagerpc.StatusOK {
		return resp.Err()
	}
	return nil
}
