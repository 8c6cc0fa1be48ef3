package storagerpc_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// A signed retrieve, as a client builds one: the signed string, then the
// signature in base64 and, for a 05 account, its Ed25519 key.
func ExampleSignAuth() {
	keys := identity.KeysFromEd25519Seed([32]byte{1})
	owner := keys.AccountID()
	p := storagerpc.RetrieveParams{Pubkey: owner.String(), Namespace: 0, Timestamp: 1700000000000}
	msg := storagerpc.RetrieveSigMsg(p.Namespace, p.Timestamp)
	p.Auth = storagerpc.SignAuth(keys.Ed25519, owner, msg)
	sig, _ := base64.StdEncoding.DecodeString(p.Signature)
	fmt.Printf("signed: %s\n", msg)
	fmt.Println("verifies:", ed25519.Verify(keys.Ed25519Public(), msg, sig))
	fmt.Println("names its Ed25519 key:", p.PubkeyEd25519 == hex.EncodeToString(keys.Ed25519Public()))
	// Output:
	// signed: retrieve1700000000000
	// verifies: true
	// names its Ed25519 key: true
}

// A call on a node's storage protocol over libp2p (h is the caller's host,
// node the node's peer ID; compiled, not run).
func ExampleCall() {
	var (
		ctx  = context.Background()
		h    host.Host
		node peer.ID
	)
	resp, err := storagerpc.Call(ctx, h, node, storagerpc.ProtocolStorage, "info", struct{}{})
	if err != nil {
		return
	}
	var info struct {
		Version []int `json:"version"`
	}
	if err := resp.Decode(&info); err != nil { // a non-200 answer is an *Error
		return
	}
	fmt.Println(info.Version)
}
