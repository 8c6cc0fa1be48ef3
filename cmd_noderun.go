package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/atomicfile"
	"github.com/sessionctl/sessionctl/ledger"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/node"
	"github.com/urfave/cli/v2"
)

// `sessionctl node run`: one service node as its own process, joining the
// devnet of --dir: it pays its operator wallet's stake from the devnet's
// faucet, registers through the ledger (the operator signs, the node
// co-signs), and serves until SIGTERM or Ctrl-C, like the devnet's own
// nodes but over TCP (it is in another process).

func nodeRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run one service node as its own process, joining the devnet of --dir",
		ArgsUsage: " ",
		Description: "The node's key and its operator's wallet live in --data (node.key, operator.key, mode 0600;\n" +
			"made on the first run); the same --data again runs the same node. The devnet's faucet pays the stake.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the node's `DIR`: keys and database (required)"},
			&cli.StringFlag{Name: "listen", Value: "/ip4/127.0.0.1/tcp/0", Usage: "the libp2p `MULTIADDR` to listen on"},
			&cli.StringFlag{Name: "https", Value: "127.0.0.1:0", Usage: "`ADDR` of the HTTPS client edge"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "`LEVEL` of the logs on stderr"},
			jsonFlag,
		},
		Action: nodeRun,
	}
}

// nodeRunKey reads DIR/NAME (a 32-byte seed in hex), or makes one.
func nodeRunKey(dir, name string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, usagef("%s: want 64 hex digits (a key's seed)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func nodeRun(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	data := c.String("data")
	if data == "" {
		return usagef("node run needs --data DIR: where the node keeps its keys and database")
	}
	level, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	nodeKey, err := nodeRunKey(data, "node.key")
	if err != nil {
		return err
	}
	opKey, err := nodeRunKey(data, "operator.key")
	if err != nil {
		return err
	}
	cc, err := dialDevnet(c)
	if err != nil {
		return err
	}
	m := cc.Manifest()
	lc := ledgerrpc.NewClient(m.Ledger.URL, m.Control.Token) // the token mines, when blocks come only on demand
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	log := zerolog.New(zerolog.ConsoleWriter{Out: c.App.ErrWriter, NoColor: true, TimeFormat: "15:04:05.000"}).Level(level).With().Timestamp().Str("component", "node-run").Logger()
	keyHex := hex.EncodeToString(nodeKey.Public().(ed25519.PublicKey))
	if err := registerNode(ctx, cc, lc, nodeKey, opKey, log); err != nil {
		if c.Context.Err() == nil && ctx.Err() != nil {
			return nil // stopped (SIGTERM, Ctrl-C) while registering
		}
		return err
	}
	n, err := node.New(node.Config{Key: nodeKey, DataDir: data, Ledger: lc, ListenAddrs: []string{c.String("listen")},
		HTTPSAddr: c.String("https"), Logger: log})
	if err != nil {
		return usageError(err)
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	defer n.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = n.WaitReady(rctx)
	cancel()
	if err != nil {
		if c.Context.Err() == nil && ctx.Err() != nil {
			return n.Close() // stopped (SIGTERM, Ctrl-C) while starting
		}
		return fmt.Errorf("the node did not get its first view of the network: %w", err)
	}
	desc := map[string]any{"ed25519_pubkey": keyHex, "peer_id": n.PeerID().String(), "addrs": n.Addrs(), "https": n.HTTPSURL(), "data": data, "pid": os.Getpid()}
	// DATA/node.json says the node is up (a script waits for it), until it stops.
	readyFile := filepath.Join(data, "node.json")
	if b, err := json.MarshalIndent(desc, "", "  "); err == nil {
		if err := atomicfile.Write(readyFile, append(b, '\n'), 0o600); err != nil {
			return err
		}
		defer os.Remove(readyFile)
	}
	if c.Bool("json") {
		printJSON(c.App.Writer, desc)
	} else {
		fmt.Fprintf(c.App.Writer, "node %s running: peer ID %s, %s, HTTPS %s (Ctrl-C or SIGTERM stops it)\n", keyHex[:16], n.PeerID(), strings.Join(n.Addrs(), " "), n.HTTPSURL())
	}
	<-ctx.Done()
	log.Info().Msg("stopping")
	return n.Close()
}

// registerNode stakes and registers the node unless the ledger knows it:
// the faucet pays the operator the stake and a fee's worth, the operator
// signs the registration and the node co-signs it.
func registerNode(ctx context.Context, cc *devnet.ControlClient, lc *ledgerrpc.Client, nodeKey, opKey ed25519.PrivateKey, log zerolog.Logger) error {
	keyHex := hex.EncodeToString(nodeKey.Public().(ed25519.PublicKey))
	if _, err := lc.Node(ctx, keyHex); err == nil {
		log.Info().Str("node", keyHex[:16]).Msg("already registered")
		return nil
	}
	info, err := lc.Info(ctx)
	if err != nil {
		return rpcError(err)
	}
	wallet := hex.EncodeToString(opKey.Public().(ed25519.PublicKey))
	need := info.Params.StakeRequirement
	acct, err := lc.Account(ctx, wallet)
	if err != nil {
		return rpcError(err)
	}
	if acct.Balance < need {
		if _, _, err := cc.Fund(ctx, wallet, need-acct.Balance+ledger.Coin); err != nil {
			return fmt.Errorf("fund the operator's stake: %w", err)
		}
		if acct, err = lc.Account(ctx, wallet); err != nil {
			return rpcError(err)
		}
	}
	tx, err := ledger.NewTx(ledger.TxRegister, opKey, acct.NextNonce, ledger.RegisterBody{NodeKey: keyHex, Amount: need})
	if err != nil {
		return err
	}
	tx.SignAsNode(nodeKey)
	hash, err := lc.Submit(ctx, tx)
	if err != nil {
		return fmt.Errorf("register the node: %w", err)
	}
	log.Info().Str("tx", hash[:12]).Str("node", keyHex[:16]).Msg("registration submitted")
	for {
		if _, err := lc.Node(ctx, keyHex); err == nil {
			log.Info().Str("node", keyHex[:16]).Msg("registered")
			return nil
		}
		h := info.Height
		if info, err = lc.Info(ctx); err != nil {
			return rpcError(err)
		}
		if info.Height == h {
			if info.BlockTimeMS == 0 {
				if _, err := lc.Mine(ctx, 1); err != nil {
					return fmt.Errorf("make the block of the registration: %w", err)
				}
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := lc.WaitHeight(wctx, h+1)
			cancel()
			if err != nil {
				return fmt.Errorf("the registration is not in a block: %w", err)
			}
		}
	}
}
