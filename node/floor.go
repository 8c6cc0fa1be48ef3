package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sessionctl/sessionctl/internal/procstat"
)

// InsertFloor is a part of `sessionctl bench`'s floor: the CPU time of one
// bare insert of a message of size bytes into a node's store (the node's
// schema, pragmas and page cache; one prepared INSERT, committed on its
// own as each store is), averaged over n inserts into a new store under
// dir. It is the process's CPU time: run it while nothing else in the
// process works.
func InsertFloor(ctx context.Context, dir string, n, size int) (time.Duration, error) {
	if n < 1 || size < 1 {
		return 0, fmt.Errorf("insert floor: want n and size of at least 1")
	}
	st, err := openStore(ctx, filepath.Join(dir, "storage.db"))
	if err != nil {
		return 0, fmt.Errorf("insert floor: %w", err)
	}
	defer st.close()
	stmt, err := st.db.PrepareContext(ctx, `INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("insert floor: %w", err)
	}
	defer stmt.Close()
	// The rows are made first: only the inserts are timed.
	type row struct {
		hash, owner string
		data        []byte
	}
	rows := make([]row, n)
	for i := range rows {
		b := make([]byte, 32+33+size)
		if _, err := rand.Read(b); err != nil {
			return 0, err
		}
		rows[i] = row{base64.RawStdEncoding.EncodeToString(b[:32]), fmt.Sprintf("05%x", b[32:64]), b[65:]}
	}
	now := time.Now().UnixMilli()
	cpu0 := procstat.CPUTime()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.hash, r.owner, 0, now, now+int64(time.Hour/time.Millisecond), r.data); err != nil {
			return 0, fmt.Errorf("insert floor: %w", err)
		}
	}
	return (procstat.CPUTime() - cpu0) / time.Duration(n), nil
}
