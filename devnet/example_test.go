package devnet_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/sessionctl/sessionctl/client"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/identity"
)

// A network of five nodes, and a client of it that sends a message.
func ExampleStartNetwork() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sessionctl-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	nw, err := devnet.StartNetwork(ctx, devnet.Config{Dir: dir, Nodes: 5, Seed: "demo"})
	if err != nil {
		panic(err)
	}
	defer nw.Close()
	fmt.Println(len(nw.Nodes()), "nodes serve")

	alice, _ := identity.NewAccount(rand.Reader)
	bob, _ := identity.NewAccount(rand.Reader)
	c, err := nw.StartClient(ctx, client.Config{Keys: alice})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	res, err := c.Send(ctx, bob.AccountID(), "hello")
	if err != nil {
		panic(err)
	}
	fmt.Println("stored:", res.Stored > 0)
	// Output:
	// 5 nodes serve
	// stored: true
}
