package client

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadState: a client's state file (disk input) that is damaged is an
// error, never a panic; what loads stays within its bounds.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"last_hashes":{"n":{"0":"h"}},"seen":["a","b"],"sent":[{"hash":"h","to":"05ab","sent_at":1,"sync_hash":"s"}],"received":[{"hash":"r","from":"05cd","sent_at":2}]}`))
	f.Add([]byte(`{"sent":null,"received":[{}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := loadState(path)
		if err != nil {
			return
		}
		if len(st.Seen) > maxSeen || len(st.Sent) > maxSent || len(st.Received) > maxSeen || st.LastHashes == nil {
			t.Fatalf("loaded beyond bounds: %d seen, %d sent, %d received", len(st.Seen), len(st.Sent), len(st.Received))
		}
		if err := st.save(path); err != nil {
			t.Fatal(err)
		}
	})
}
