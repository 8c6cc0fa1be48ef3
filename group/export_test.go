package group

import "crypto/ed25519"

// GroupKey exposes the group key to the tests.
func GroupKey(g *Group) ed25519.PrivateKey { return g.groupKey() }
