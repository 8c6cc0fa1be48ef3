package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/sessionctl/sessionctl/devnet"
	"github.com/sessionctl/sessionctl/internal/freeports"
)

// TestMain lets testscript run the real command line, in this test binary,
// as the command "sessionctl": the binary is built once per test run.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sessionctl": func() { os.Exit(runMain()) },
	})
}

// TestScripts runs the CLI scripts of testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: stopLeftDevnets,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits, "waitfile": cmdWaitFile, "eventually": cmdEventually,
			"netns": cmdNetns, "manifest": cmdManifest, "timed": cmdTimed, "http": cmdHTTP, "freeports": cmdFreePorts},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "netns":
				ok, _ := netnsAvailable()
				return ok, nil
			case "netem":
				ok, _ := netnsAvailable()
				return ok && netemOK, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// stopLeftDevnets makes a script that fails half way leave no devnet
// running: at its end, every devnet still running under its work directory
// (a devnet.json with a live pid, at most two levels down) is stopped,
// SIGTERM then, after 10 s, SIGKILL.
func stopLeftDevnets(env *testscript.Env) error {
	work := env.WorkDir
	env.Defer(func() {
		for _, pattern := range []string{"*", "*/*", "*/*/*"} {
			found, _ := filepath.Glob(filepath.Join(work, pattern, "devnet.json"))
			for _, f := range found {
				m, err := devnet.ReadManifest(filepath.Dir(f))
				if err != nil || m.PID <= 0 {
					continue
				}
				p, err := os.FindProcess(m.PID)
				if err != nil || p.Signal(syscall.SIGTERM) != nil {
					continue
				}
				for i := 0; i < 100 && p.Signal(syscall.Signal(0)) == nil; i++ {
					time.Sleep(100 * time.Millisecond)
				}
				p.Kill()
			}
		}
	})
	return nil
}

// cmdExits is the script command "exits CODE PROG [ARGS...]": it runs PROG
// like exec and fails unless PROG exits with CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdWaitFile is the script command "waitfile PATH": it waits up to 60 s for
// PATH to exist, as a script waits for a server it started in the background.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 60 s", args[0])
}

// cmdEventually is the script command "eventually SECONDS REGEXP PROG
// [ARGS...]": it runs PROG every 200 ms until its stdout matches REGEXP,
// failing after SECONDS. Scripts use it to wait for what the network does
// in its own time (blocks, votes).
func cmdEventually(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: eventually SECONDS REGEXP PROG [ARGS...]")
	}
	secs, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("eventually: bad seconds %q", args[0])
	}
	re, err := regexp.Compile("(?m)" + args[1])
	if err != nil {
		ts.Fatalf("eventually: %v", err)
	}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for {
		ts.Exec(args[2], args[3:]...)
		if re.MatchString(ts.ReadFile("stdout")) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not print %q within %d s", args[2], args[1], secs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cmdManifest is the script command "manifest VAR PATH": it sets $VAR to
// the string or number at PATH (dotted, with indexes: join.url,
// nodes.1.pid) of the devnet's manifest, in $SESSIONCTL_DIR or .devnet.
func cmdManifest(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: manifest VAR PATH")
	}
	dir := ts.Getenv("SESSIONCTL_DIR")
	if dir == "" {
		dir = ".devnet"
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(filepath.Join(dir, "devnet.json"))), &v); err != nil {
		ts.Fatalf("manifest: %v", err)
	}
	for _, k := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("manifest: no %s", args[1])
			}
			v = x[i]
		default:
			ts.Fatalf("manifest: no %s", args[1])
		}
	}
	switch x := v.(type) {
	case string:
		ts.Setenv(args[0], x)
	case float64:
		ts.Setenv(args[0], strconv.FormatFloat(x, 'f', -1, 64))
	default:
		ts.Fatalf("manifest: %s is not a string or a number", args[1])
	}
}

// cmdHTTP is the script command "http [-proxy URL] METHOD URL [BODY]": a
// plain HTTP client, as a Session app's network stack is (through a proxy
// if given: absolute form, CONNECT for https; certificates unchecked, as
// apps do for nodes). Its stdout is the status code on a line, then the
// body; a request that gets no answer prints "error: ..." instead.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("http: print the answer and check it with stdout")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	if len(args) >= 2 && args[0] == "-proxy" {
		u, err := url.Parse(args[1])
		if err != nil {
			ts.Fatalf("http: -proxy %q: %v", args[1], err)
		}
		tr.Proxy = http.ProxyURL(u)
		args = args[2:]
	}
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: http [-proxy URL] METHOD URL [BODY]")
	}
	body := ""
	if len(args) == 3 {
		body = args[2]
	}
	req, err := http.NewRequest(args[0], args[1], strings.NewReader(body))
	if err != nil {
		ts.Fatalf("http: %v", err)
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		fmt.Fprintf(ts.Stdout(), "error: %v\n", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Fprintf(ts.Stdout(), "%d\n%s\n", resp.StatusCode, b)
}

// cmdTimed is the script command "timed LABEL PROG [ARGS...]": it runs PROG
// like exec and logs how long it took (a figure to read, not a check).
func cmdTimed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: timed LABEL PROG [ARGS...]")
	}
	began := time.Now()
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	ts.Logf("%s took %v", args[0], time.Since(began).Round(time.Millisecond))
}

// cmdFreePorts is the script command "freeports VAR N": it sets $VAR to a
// port P such that P to P+N-1 are free on 127.0.0.1 (package freeports),
// and $VAR1 ... to P+1 ....
func cmdFreePorts(ts *testscript.TestScript, neg bool, args []string) {
	n, err := 0, error(nil)
	if len(args) == 2 {
		n, err = strconv.Atoi(args[1])
	}
	if neg || len(args) != 2 || err != nil || n < 1 || n > 10 {
		ts.Fatalf("usage: freeports VAR N (N from 1 to 10)")
	}
	base, err := freeports.Run(n)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	for i := 0; i < n; i++ {
		name := args[0]
		if i > 0 {
			name += strconv.Itoa(i)
		}
		ts.Setenv(name, strconv.Itoa(base+i))
	}
}
