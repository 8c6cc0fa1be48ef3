// Package chaoscmd is `sessionctl chaos`: its flags, and the run of
// package chaos against the devnet under --dir, printed. The root package
// only lists it (it keeps to its size).
package chaoscmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sessionctl/sessionctl/chaos"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/display"
	"github.com/sessionctl/sessionctl/internal/errkind"
	"github.com/sessionctl/sessionctl/internal/exitcode"
	"github.com/sessionctl/sessionctl/internal/progress"
	"github.com/sessionctl/sessionctl/logs"
	"github.com/urfave/cli/v2"
)

// Command is `sessionctl chaos`; dial reaches the devnet under --dir, and
// jsonFlag is the app's --json.
func Command(dial func(*cli.Context) (*devnet.ControlClient, error), jsonFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "chaos",
		Usage:     "run random faults under traffic against the devnet, then check that nothing acknowledged was lost, duplicated, resurrected or leaked",
		ArgsUsage: " ",
		Description: "The schedule comes from --seed alone: the same seed replays the same faults and operations.\n" +
			"Faults: " + fmt.Sprint(chaos.FaultKinds) + " (those the devnet cannot make are skipped, with the reason).\n" +
			"Exit 0 with no violation, 1 with one; the whole history is saved under --dir/chaos.",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Minute, Usage: "how long the traffic and faults last (the check comes after)"},
			&cli.Uint64Flag{Name: "seed", Usage: "the schedule's `SEED` (default: a random one, printed)"},
			&cli.StringFlag{Name: "faults", Value: "all", Usage: "the fault kinds, comma-separated, or all"},
			&cli.IntFlag{Name: "clients", Value: 4, Usage: "how many accounts make traffic (each with two devices)"},
			&cli.StringSliceFlag{Name: "netns", EnvVars: []string{"SESSIONCTL_CHAOS_NETNS"}, Usage: "network namespaces holding nodes of the devnet (hosts): partitions and slow links cut and slow them"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error { return run(c, dial) },
	}
}

func run(c *cli.Context, dial func(*cli.Context) (*devnet.ControlClient, error)) error {
	kinds, err := chaos.ParseFaults(c.String("faults"))
	if err != nil {
		return errkind.Invalidf("--faults: %v", err)
	}
	if d := c.Duration("duration"); d < 10*time.Second {
		return errkind.Invalidf("--duration %v: want at least 10s", d)
	}
	if n := c.Int("clients"); n < 2 || n > 50 {
		return errkind.Invalidf("--clients %d: want 2 to 50", n)
	}
	seed := c.Uint64("seed")
	if !c.IsSet("seed") {
		var b [8]byte
		rand.Read(b[:])
		seed = binary.BigEndian.Uint64(b[:]) >> 12 // short enough to type
	}
	hosts := c.StringSlice("netns")
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/ \t") {
			return errkind.Invalidf("--netns %q: want the names of network namespaces", h)
		}
	}
	cc, err := dial(c)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.String("dir"), "chaos")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "chaos.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	out := display.Output{W: c.App.Writer, Err: c.App.ErrWriter, JSON: c.Bool("json")}
	if !out.JSON {
		fmt.Fprintf(c.App.Writer, "chaos: seed %d, %v, faults %s, %d accounts (logs: %s)\n", seed, c.Duration("duration"), c.String("faults"), c.Int("clients"), logf.Name())
	}
	// A devnet SIGKILLed by a fault is resumed as 'devnet up --detach' would,
	// its nodes in processes of their own if they were.
	procs := false
	for _, n := range cc.Manifest().Nodes {
		procs = procs || (n.PID != 0 && n.PID != cc.Manifest().PID)
	}
	resume := func(ctx context.Context) error {
		// As this process was run (a link named sessionctl, in tests too),
		// else the binary itself.
		exe, err := exec.LookPath(os.Args[0])
		if err != nil {
			if exe, err = os.Executable(); err != nil {
				return err
			}
		}
		args := []string{"devnet", "up", "--detach", "--dir", c.String("dir")}
		if procs {
			args = append(args, "--procs") // as it ran
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	// The dashboard is told as the run goes.
	tell := devnet.NewChaosReporter(cc, seed)
	tctx, stop := context.WithCancel(c.Context)
	told := make(chan struct{})
	go func() {
		defer close(told)
		tell.Run(tctx)
	}()
	// On a terminal, the run so far on stderr (never with --json).
	line := progress.New(c.App.ErrWriter, out.JSON, os.Getenv("SESSIONCTL_PROGRESS") == "always")
	var so runSoFar
	so.began, so.length = time.Now(), c.Duration("duration")
	rep, err := chaos.Run(c.Context, chaos.Config{Target: cc.ChaosTarget(resume, hosts), Seed: seed, Duration: c.Duration("duration"), Faults: kinds,
		Clients: c.Int("clients"), Dir: dir, Logger: logs.New(logf, logs.JSON, zerolog.InfoLevel).With().Str("component", "chaos").Logger(),
		OnFault: func(f chaos.FaultEvent) { tell.Fault(f); line.Show(so.fault(f)) },
		OnOp:    func(op chaos.Op) { tell.Op(op); line.Show(so.op(op)) }})
	line.Clear()
	stop()
	<-told
	if err != nil {
		return err
	}
	tell.Done(c.Context, rep.ViolationCount)
	hist := filepath.Join(dir, "history-"+rep.RunID+".json")
	if err := rep.SaveHistory(hist); err != nil {
		fmt.Fprintf(c.App.ErrWriter, "the history was not saved: %v\n", err)
	}
	if err := out.Show(rep, rep.WriteText); err != nil {
		return err
	}
	if !out.JSON {
		fmt.Fprintf(c.App.Writer, "history: %s\n", hist)
	}
	if rep.Aborted != "" {
		return exitcode.Force(exitcode.Failure, fmt.Errorf("the run was not checked (seed %d): %s", seed, rep.Aborted))
	}
	if rep.ViolationCount > 0 {
		return exitcode.Force(exitcode.Failure, fmt.Errorf("%d violations (seed %d)", rep.ViolationCount, seed))
	}
	return nil
}

// runSoFar is what the progress line says of a run: time, faults, and
// operations by outcome.
type runSoFar struct {
	mu            sync.Mutex
	began         time.Time
	length        time.Duration
	faults, force int
	ops           map[chaos.Outcome]int
}

func (s *runSoFar) fault(f chaos.FaultEvent) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.End == 0 {
		s.faults++
		s.force++
	} else if s.force > 0 {
		s.force--
	}
	return s.textLocked()
}

func (s *runSoFar) op(op chaos.Op) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops == nil {
		s.ops = map[chaos.Outcome]int{}
	}
	s.ops[op.Outcome]++
	return s.textLocked()
}

func (s *runSoFar) textLocked() string {
	n := s.ops[chaos.Acked] + s.ops[chaos.Refused] + s.ops[chaos.Unknown]
	return fmt.Sprintf("chaos: %s of %s, %d faults (%d in force), %d operations (%d acknowledged, %d refused, %d unknown)",
		time.Since(s.began).Round(time.Second), s.length, s.faults, s.force, n, s.ops[chaos.Acked], s.ops[chaos.Refused], s.ops[chaos.Unknown])
}
