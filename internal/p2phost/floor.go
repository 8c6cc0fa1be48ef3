package p2phost

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/internal/memtransport"
	"github.com/sessionctl/sessionctl/internal/procstat"
	"golang.org/x/crypto/blake2b"
)

// Floor is what a devnet's start is compared with (BenchmarkUp, `sessionctl
// bench`): it starts n libp2p hosts built as the nodes' are (New, listening
// on loopback TCP and in memory), 8 at a time as a devnet starts its nodes,
// connects each to 6 others (in memory, as nodes of one process connect)
// with an echo round trip, and returns how long that took. The hosts are
// closed after.
func Floor(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	hosts := make([]host.Host, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			seed := blake2b.Sum256([]byte(fmt.Sprintf("sessionctl-floor\x00%d", i)))
			h, err := New(ed25519.NewKeyFromSeed(seed[:]), []string{"/ip4/127.0.0.1/tcp/0"})
			if err != nil {
				errs[i] = err
				return
			}
			h.SetStreamHandler("/echo", func(s network.Stream) { io.Copy(s, s); s.Close() })
			hosts[i] = h
		}()
	}
	wg.Wait()
	defer func() {
		for _, h := range hosts {
			if h != nil {
				h.Close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	for i, h := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for j := 1; j <= min(6, n-1); j++ {
				o := hosts[(i+j*7)%n]
				if o == h {
					continue
				}
				if err := echo(ctx, h, o); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// echo connects h to o in memory and makes a round trip.
func echo(ctx context.Context, h, o host.Host) error {
	mem, err := memtransport.Addr(o.ID())
	if err != nil {
		return err
	}
	h.Peerstore().AddAddr(o.ID(), mem, time.Hour)
	s, err := h.NewStream(ctx, o.ID(), "/echo")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("ping")); err != nil {
		return err
	}
	s.CloseWrite()
	_, err = io.ReadAll(s)
	return err
}

// RoundTripFloor is a part of `sessionctl bench`'s floor: the CPU time of
// one bare stream round trip between hosts built as the devnet's are (New),
// on a connection already made, as a request and its answer travel: a new
// stream, size bytes each way, both sides closed. mem is over the
// in-memory transport (nodes of one process); tcp is a client (a host
// that does not listen) to a node over loopback TCP. Each is averaged over
// n round trips. It is the process's CPU time, both ends: run it while
// nothing else in the process works.
func RoundTripFloor(ctx context.Context, n, size int) (mem, tcp time.Duration, err error) {
	if n < 1 {
		return 0, 0, errors.New("round trip floor: want n of at least 1")
	}
	var hosts [3]host.Host
	for i := range hosts {
		listen := []string{"/ip4/127.0.0.1/tcp/0"}
		if i == 2 {
			listen = nil // a client
		}
		seed := blake2b.Sum256([]byte(fmt.Sprintf("sessionctl-round-trip-floor\x00%d", i)))
		h, err := New(ed25519.NewKeyFromSeed(seed[:]), listen)
		if err != nil {
			return 0, 0, err
		}
		defer h.Close()
		hosts[i] = h
	}
	server := hosts[1]
	server.SetStreamHandler(floorProtocol, func(s network.Stream) {
		if _, err := io.Copy(io.Discard, s); err != nil {
			s.Reset()
			return
		}
		s.Write(make([]byte, size))
		s.Close()
	})
	memAddr, err := memtransport.Addr(server.ID())
	if err != nil {
		return 0, 0, err
	}
	hosts[0].Peerstore().AddAddr(server.ID(), memAddr, time.Hour)
	hosts[2].Peerstore().AddAddrs(server.ID(), server.Addrs(), time.Hour)
	body := make([]byte, size)
	for i, from := range []host.Host{hosts[0], hosts[2]} {
		for range 10 { // the connection, and the first streams' allocations
			if err := roundTrip(ctx, from, server, body); err != nil {
				return 0, 0, err
			}
		}
		cpu0 := procstat.CPUTime()
		for range n {
			if err := roundTrip(ctx, from, server, body); err != nil {
				return 0, 0, err
			}
		}
		per := (procstat.CPUTime() - cpu0) / time.Duration(n)
		if i == 0 {
			mem = per
		} else {
			tcp = per
		}
	}
	return mem, tcp, nil
}

const floorProtocol = "/sessionctl/floor/1.0.0"

// roundTrip writes body on a new stream to o, closes its side, and reads
// the answer.
func roundTrip(ctx context.Context, h, o host.Host, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, o.ID(), floorProtocol)
	if err != nil {
		return fmt.Errorf("round trip floor: %w", err)
	}
	if _, err := s.Write(body); err == nil {
		err = s.CloseWrite()
	}
	if err == nil {
		_, err = io.Copy(io.Discard, s)
	}
	if err != nil {
		s.Reset()
		return fmt.Errorf("round trip floor: %w", err)
	}
	return s.Close()
}
