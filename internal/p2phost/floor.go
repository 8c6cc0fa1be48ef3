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
