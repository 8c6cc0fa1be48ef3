// Package pprofserve serves Go's profiles of this process over HTTP on a
// loopback address, for measuring a running devnet or benchmark:
//
//	SESSIONCTL_PPROF=127.0.0.1:6060 sessionctl devnet up --nodes 2000
//	go tool pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=30'
package pprofserve

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Env names the environment variable that asks for the profiles'
// address (the command line reads it).
const Env = "SESSIONCTL_PPROF"

// ErrNotLoopback is an address that is not on loopback: the profiles show
// the process's memory, and never leave the machine.
var ErrNotLoopback = errors.New("want a loopback address and port, such as 127.0.0.1:6060")

// Start serves the profiles at addr (loopback only) until the process
// ends, and records mutex and block profiles too; it returns the address
// it listens on.
func Start(addr string) (net.Addr, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, fmt.Errorf("%q: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	runtime.SetMutexProfileFraction(20)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr(), nil
}
