package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/internal/pprofserve"
	"github.com/sessionctl/sessionctl/ledger/ledgerrpc"
	"github.com/sessionctl/sessionctl/logs"
)

// A devnet's node in its own process (`devnet up --procs`, procs.go). The
// devnet runs the sessionctl binary again with NodeProcessEnv set, and the
// binary's main calls NodeProcess instead of the command line: the contract
// between the two is typed, and owned here, not a command's flags and
// printout.
//
//	devnet -> process  stdin:  procConfig, one JSON object; the pipe then stays open
//	process -> devnet  stdout: NodeInfo, one JSON object, once the node is ready
//	                   stderr: the node's logs, JSON lines (relayed into the devnet's logs)
//
// The process stops when stdin ends (the devnet stopped it, or died: on
// every system, where Linux alone has a parent-death signal) or when ctx
// does (its SIGTERM).

// NodeProcessEnv, set (to anything) in the environment, makes the
// sessionctl binary a devnet's node process: its main calls NodeProcess.
const NodeProcessEnv = "SESSIONCTL_NODE_PROCESS"

// procConfig is what a devnet asks of a node's process.
type procConfig struct {
	Data     string   `json:"data"`
	Ledger   string   `json:"ledger"` // the ledger RPC's URL
	Seed     string   `json:"seed"`
	Index    int      `json:"index"` // the devnet's node-(Index+1): its key derives from Seed
	Nodes    int      `json:"nodes"` // how many the devnet has: the logs name them
	Servers  []string `json:"servers"`
	Listen   string   `json:"listen"` // libp2p multiaddr
	HTTPS    string   `json:"https"`
	LogLevel string   `json:"log_level"`
	// Worker makes the process a worker (worker.go): it hosts the nodes
	// of Indexes (Data is then their parent directory, and Index unused),
	// and more on the devnet's orders.
	Worker  bool  `json:"worker,omitempty"`
	Indexes []int `json:"indexes,omitempty"`
}

// NodeProcess runs a devnet's node in this process, as the devnet that
// started it asks on stdin: it logs JSON lines on stderr, writes its
// NodeInfo on stdout once the node is ready, and serves until stdin or
// ctx ends. An error is logged too, as its last line.
func NodeProcess(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	log := logs.New(zerolog.SyncWriter(stderr), logs.JSON, zerolog.InfoLevel)
	defer func() {
		if err != nil {
			log.Error().Err(err).Msg("node process failed")
		}
	}()
	var cfg procConfig
	if err := json.NewDecoder(stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("read the devnet's request on stdin: %w", err)
	}
	if cfg.Index < 0 || cfg.Index >= MaxWorkerNodes || cfg.Nodes > MaxWorkerNodes || cfg.Data == "" || cfg.Ledger == "" {
		return errors.New("the devnet's request is malformed")
	}
	if lvl, err := zerolog.ParseLevel(cfg.LogLevel); err == nil && cfg.LogLevel != "" {
		log = log.Level(lvl)
	}
	if os.Getenv(pprofserve.Env) != "" { // profiles of a node process or worker: at an address of its own, logged
		if at, err := pprofserve.Start("127.0.0.1:0"); err == nil {
			log.Info().Str("pprof", at.String()).Msg("profiles served")
		}
	}
	if cfg.Worker {
		return runWorker(ctx, cfg, stdin, stdout, log)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// After the request, stdin carries nothing yet (control lines, such
		// as a clock to move, would come here); its end stops the node.
		io.Copy(io.Discard, stdin) // until the devnet closes it, or dies
		cancel()
	}()
	r, err := RunNode(ctx, NodeConfig{Data: cfg.Data, Key: NodeKey(cfg.Seed, cfg.Index), Ledger: ledgerrpc.NewClient(cfg.Ledger, ""),
		Servers: cfg.Servers, Listen: cfg.Listen, HTTPS: cfg.HTTPS, Name: NodeName(cfg.Index), NameOf: seedNames(cfg.Seed, cfg.Nodes),
		Logger: log.With().Str("component", "node").Logger(), Edge: log.With().Str("component", "edge").Logger()})
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	if err := json.NewEncoder(stdout).Encode(r.Info()); err != nil {
		r.Close()
		return err
	}
	err = Wait(ctx, r, nil)
	return errors.Join(err, r.Close())
}
