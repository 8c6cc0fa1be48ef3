package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionctl/sessionctl/internal/procstat"
)

// BenchmarkStoreInsert: a client's store into a node's store (store.insert:
// what every swarm member does for a message), beside the bare insert that
// bench's floor counts (InsertFloor).
func BenchmarkStoreInsert(b *testing.B) {
	// A request's context, as a handler's: with a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	st, err := openStore(ctx, filepath.Join(b.TempDir(), "storage.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	data := make([]byte, 400)
	now := time.Now().UnixMilli()
	b.ReportAllocs()
	i := 0
	cpu0 := procstat.CPUTime()
	for b.Loop() {
		i++
		h := make([]byte, 32)
		rand.Read(h)
		r := &record{Hash: base64.RawStdEncoding.EncodeToString(h), Owner: fmt.Sprintf("05%064x", i), Timestamp: now, Expiry: now + 3600_000, Data: data}
		if _, err := st.insert(ctx, r, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/insert")
}

func BenchmarkBareInsert(b *testing.B) {
	per, err := InsertFloor(context.Background(), b.TempDir(), b.N, 400)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(per.Microseconds()), "cpu-us/insert")
}
