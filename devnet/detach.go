package devnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// DetachedEnv marks the background process that Detach starts: it runs
// `devnet up` in the foreground, as the command line asked.
const DetachedEnv = "SESSIONCTL_DETACHED"

// detachTimeout bounds the wait for a detached devnet to be ready while it
// logs nothing: one of 10,000 nodes over workers takes about 3 minutes to
// start, logging all along, and is not given up on while it does.
const detachTimeout = 3 * time.Minute

// DetachError is a devnet started in the background that exited before it
// was ready: its exit code, and the last line it wrote.
type DetachError struct {
	Code int
	Last string
}

func (e *DetachError) Error() string { return "the devnet did not start: " + e.Last }

// Detach starts `devnet up` again in the background: exe with args (the
// command line without its --detach) and DetachedEnv set, in a session of
// its own (it outlives the terminal), its output in LOGS/devnet.out. It
// returns the manifest once that process wrote it (it is ready), or how it
// exited (a *DetachError).
func Detach(ctx context.Context, d Dir, exe string, args []string) (*Manifest, error) {
	if err := os.MkdirAll(d.LogsDir(), 0o700); err != nil {
		return nil, err
	}
	outPath := filepath.Join(d.LogsDir(), "devnet.out")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	// The directory's lock, not the manifest's pid, says whether a devnet
	// runs: a devnet killed with SIGKILL leaves its manifest, and its pid
	// may be a zombie's or be reused by another process.
	if Locked(string(d)) {
		pid := "pid unknown: it has not written devnet.json"
		if m, err := d.ReadManifest(); err == nil {
			pid = fmt.Sprintf("pid %d", m.PID)
		}
		return nil, errkind.Invalidf("%v (%s); stop it with 'sessionctl devnet down'", ErrRunning, pid)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), DetachedEnv+"=1")
	cmd.Stdout, cmd.Stderr, cmd.Stdin = out, out, nil
	cmd.SysProcAttr = detachAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the devnet in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(detachTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	logged, ticks := logBytes(d), 0
	for {
		select {
		case err := <-exited:
			tail, _ := os.ReadFile(outPath)
			lines := strings.Split(strings.TrimSpace(string(tail)), "\n")
			de := &DetachError{Code: -1, Last: strings.TrimPrefix(strings.TrimSpace(lines[len(lines)-1]), "sessionctl: ")}
			if de.Last == "" {
				de.Last = fmt.Sprint(err)
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				de.Code = ee.ExitCode()
			}
			return nil, de
		case <-deadline.C:
			cmd.Process.Kill()
			return nil, fmt.Errorf("the devnet was not ready, and logged nothing for %v; see %s", detachTimeout, d.LogsDir())
		case <-ctx.Done():
			cmd.Process.Kill()
			return nil, ctx.Err()
		case <-tick.C:
		}
		if ticks++; ticks%50 == 0 { // each second: logs that grew put the deadline off
			if n := logBytes(d); n != logged {
				logged = n
				deadline.Reset(detachTimeout)
			}
		}
		if m, err := d.ReadManifest(); err == nil && m.PID == cmd.Process.Pid {
			cmd.Process.Release()
			return m, nil
		}
	}
}

// logBytes is the size of the devnet's log files, all together.
func logBytes(d Dir) int64 {
	var n int64
	entries, _ := os.ReadDir(d.LogsDir())
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
