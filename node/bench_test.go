package node

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/sessionctl/sessionctl/storagerpc"
)

func noRateLimit(c *Config) { c.RateBurst, c.RatePerSecond = 1e9, 1e9 }

// BenchmarkStoreOneNode: stores into a one-node swarm (no replication), one
// after another over one libp2p connection: the node's stores per second.
func BenchmarkStoreOneNode(b *testing.B) {
	tn := startTestnet(b, 1, noRateLimit)
	a := newAccount(b)
	h := tn.order[0]
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		i++
		if resp := tn.call(h, "store", a.store(0, []byte(fmt.Sprint("message ", i)), false)); resp.Code != 200 {
			b.Fatalf("store: %d %s", resp.Code, resp.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "stores/s")
}

// BenchmarkStoreReplicated7: a store's latency in a 7-node swarm: the entry
// node stores it and waits for the 6 other members' signed results.
func BenchmarkStoreReplicated7(b *testing.B) {
	tn := startTestnet(b, 7, noRateLimit)
	a := newAccount(b)
	h := tn.swarmOf(a.id)[0]
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		i++
		var res storagerpc.SwarmResults
		if err := tn.call(h, "store", a.store(0, []byte(fmt.Sprint("message ", i)), false)).Decode(&res); err != nil || len(res.Swarm) != 7 {
			b.Fatalf("store: %v, %d results", err, len(res.Swarm))
		}
	}
}

// BenchmarkBareRoundTrip is the floor: a libp2p stream that carries a small
// request and its answer between the same two hosts, with nothing done.
func BenchmarkBareRoundTrip(b *testing.B) {
	tn := startTestnet(b, 1, nil)
	nd := tn.nodes[tn.order[0]]
	nd.Host().SetStreamHandler("/bench/echo", func(s network.Stream) {
		data, err := io.ReadAll(s)
		if err != nil {
			s.Reset()
			return
		}
		s.Write(data)
		s.Close()
	})
	body := []byte(`{"method":"info","params":{}}`)
	ctx := context.Background()
	pid := tn.peer(tn.order[0])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := tn.client.NewStream(cctx, pid, "/bench/echo")
		if err != nil {
			b.Fatal(err)
		}
		s.Write(body)
		s.CloseWrite()
		if _, err := io.ReadAll(s); err != nil {
			b.Fatal(err)
		}
		s.Close()
		cancel()
	}
}
