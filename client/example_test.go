package client_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
)

// Alice sends bob a message through a devnet; bob, who was offline, fetches
// it.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sessionctl-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	nw, err := devnet.StartNetwork(ctx, devnet.Config{Dir: dir, Nodes: 5})
	if err != nil {
		panic(err)
	}
	defer nw.Close()
	aliceKeys, _ := identity.NewAccount(rand.Reader)
	bobKeys, _ := identity.NewAccount(rand.Reader)

	alice, err := client.New(client.Config{Keys: aliceKeys, Ledger: ledgerrpc.NewClient(nw.LedgerURL(), "")})
	if err != nil {
		panic(err)
	}
	if err := alice.Start(ctx); err != nil {
		panic(err)
	}
	defer alice.Close()
	if _, err := alice.Send(ctx, bobKeys.AccountID(), "hello bob"); err != nil {
		panic(err)
	}

	bob, err := client.New(client.Config{Keys: bobKeys, Ledger: ledgerrpc.NewClient(nw.LedgerURL(), "")})
	if err != nil {
		panic(err)
	}
	if err := bob.Start(ctx); err != nil {
		panic(err)
	}
	defer bob.Close()
	msgs, rejected, err := bob.Fetch(ctx) // rejected: what did not decrypt or verify
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Text, m.From == aliceKeys.AccountID().String())
	}
	fmt.Println(len(rejected), "rejected")
	// Output:
	// hello bob true
	// 0 rejected
}
