package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/sessionctl/sessionctl/internal/errkind"
)

// pprofEnv names an address (loopback only) where `devnet up` serves Go's
// profiles, for measuring a running devnet:
//
//	SESSIONCTL_PPROF=127.0.0.1:6060 sessionctl devnet up --nodes 2000
//	go tool pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=30'
const pprofEnv = "SESSIONCTL_PPROF"

// servePprof starts the profile server if SESSIONCTL_PPROF asks for one.
func servePprof(stderr io.Writer) error {
	addr := os.Getenv(pprofEnv)
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && !strings.HasPrefix(host, "127.")) {
		return errkind.Invalidf("%s=%q: want a loopback address and port, such as 127.0.0.1:6060", pprofEnv, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", pprofEnv, err)
	}
	runtime.SetMutexProfileFraction(20)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	fmt.Fprintf(stderr, "profiles at http://%s/debug/pprof/\n", ln.Addr())
	go http.Serve(ln, mux)
	return nil
}
