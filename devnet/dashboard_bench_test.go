package devnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDashboardState: what the dashboard's state costs a devnet of
// 2,000 nodes (BENCH_DASH_NODES picks another size): a snapshot of every
// node, swarm, account, group, room, the round and the blocks, made and
// encoded as the state endpoint does when its cached one is stale (at most
// once a second, whatever the number of pages). It reports the time a
// snapshot takes, its size, and its size as sent compressed (with its
// compression in the time). Not a timed test:
//
//	go test ./devnet -run '^$' -bench DashboardState -benchtime 20x -timeout 30m
func BenchmarkDashboardState(b *testing.B) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("BENCH_DASH_NODES")); err == nil && v > 0 {
		n = v
	}
	b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		d, err := Up(ctx, UpConfig{Dir: b.TempDir(), Nodes: n, BlockTime: BlockTimeManual})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		var size, gz int
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			st := d.dash.snapshot(context.Background())
			data, err := json.Marshal(st)
			if err != nil {
				b.Fatal(err)
			}
			size, gz = len(data), len(gzipped(data))
		}
		b.ReportMetric(float64(size)/1024, "KB")
		b.ReportMetric(float64(gz)/1024, "KB-gzip")
	})
}
