package ledgerrpc

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/chain"
)

// api is what nodes and clients call of a ledger (node.Ledger, client.Ledger).
type api interface {
	Info(ctx context.Context) (chain.Info, error)
	WaitHeight(ctx context.Context, height uint64) (chain.Info, error)
	Nodes(ctx context.Context) ([]chain.ServiceNode, error)
	Node(ctx context.Context, key string) (chain.ServiceNode, error)
	RoundAt(ctx context.Context, height uint64) (chain.Round, error)
	Account(ctx context.Context, wallet string) (chain.Account, error)
	Submit(ctx context.Context, tx *chain.Tx) (string, error)
}

var (
	_ api = (*Client)(nil)
	_ api = Local{}
)

// TestLocalAndClientAgree: the in-process path (Local) and the HTTP path
// (Client) answer the same calls the same way, errors included.
func TestLocalAndClientAgree(t *testing.T) {
	ctx := context.Background()
	l, srv := start(t, 0)
	impls := map[string]api{"local": Local{L: l}, "client": NewClient(srv.URL(), "")}
	alicePriv, alice := key("alice")
	_, bob := key("bob")
	var infos []chain.Info
	var accounts []chain.Account
	for name, x := range impls {
		info, err := x.Info(ctx)
		if err != nil {
			t.Fatalf("%s: info: %v", name, err)
		}
		infos = append(infos, info)
		a, err := x.Account(ctx, alice)
		if err != nil {
			t.Fatalf("%s: account: %v", name, err)
		}
		accounts = append(accounts, a)
		if _, err := x.Node(ctx, strings.Repeat("ab", 32)); !IsCode(err, CodeNotFound) {
			t.Errorf("%s: unknown node: %v", name, err)
		}
		if _, err := x.RoundAt(ctx, 1_000_000); !IsCode(err, CodeNotFound) {
			t.Errorf("%s: unknown round: %v", name, err)
		}
		if qs, ok := x.(interface {
			QuorumsAt(context.Context, uint64) (chain.Round, error)
		}); ok {
			if _, err := qs.QuorumsAt(ctx, 1_000_000); !IsCode(err, CodeNotFound) {
				t.Errorf("%s: quorums of an unknown round: %v", name, err)
			}
		}
		if _, err := x.Account(ctx, "nope"); !IsCode(err, CodeBadRequest) {
			t.Errorf("%s: malformed wallet: %v", name, err)
		}
		stale, _ := chain.NewTx(chain.TxTransfer, alicePriv, 99, chain.TransferBody{To: bob, Amount: 1})
		if _, err := x.Submit(ctx, stale); !IsCode(err, CodeRejected) {
			t.Errorf("%s: a transfer with a wrong nonce: %v", name, err)
		}
		nodes, err := x.Nodes(ctx)
		if err != nil || len(nodes) != 0 {
			t.Errorf("%s: nodes %v %v", name, nodes, err)
		}
	}
	if !reflect.DeepEqual(infos[0], infos[1]) || accounts[0] != accounts[1] {
		t.Fatalf("they disagree: %+v / %+v, %+v / %+v", infos[0], infos[1], accounts[0], accounts[1])
	}
	// Each submits a transfer; a block includes both; each sees it.
	for name, x := range impls {
		a, _ := x.Account(ctx, alice)
		tx, _ := chain.NewTx(chain.TxTransfer, alicePriv, a.NextNonce, chain.TransferBody{To: bob, Amount: 1})
		if _, err := x.Submit(ctx, tx); err != nil {
			t.Fatalf("%s: submit: %v", name, err)
		}
	}
	h := l.Info().Height
	if _, err := l.Mine(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for name, x := range impls {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := x.WaitHeight(wctx, h+1)
		cancel()
		if err != nil || info.Height != h+1 {
			t.Fatalf("%s: wait height: %+v %v", name, info, err)
		}
		if a, _ := x.Account(ctx, bob); a.Balance != 2 {
			t.Fatalf("%s: bob has %d", name, a.Balance)
		}
	}
}
