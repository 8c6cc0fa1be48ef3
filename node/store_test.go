package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreTombstones: a message deleted is not brought back by another
// node's copy, and is stored anew by a client's store, whether the store
// knew of tombstones since it opened or learned of them (tombHint), and
// the hint comes back to "none" once the tombstones expire.
func TestStoreTombstones(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "storage.db")
	st, err := openStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.tombs.none.Load() {
		t.Fatal("a new store may hold tombstones, want none")
	}
	rec := func(hash string, expiry int64) *record {
		return &record{Hash: hash, Owner: "05aa", Timestamp: 1, Expiry: expiry, Data: []byte("x")}
	}
	stored := func(st *store, hash string) bool {
		t.Helper()
		var n int
		if err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE hash = ?`, hash).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	for _, h := range []string{"a", "b"} {
		if _, err := st.insert(ctx, rec(h, 100), true); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.deleteWhere(ctx, "05aa", ` AND hash = ?`, "a"); err != nil {
		t.Fatal(err)
	}
	if st.tombs.none.Load() {
		t.Fatal("after a delete the hint says no tombstones")
	}
	if _, err := st.insert(ctx, rec("a", 100), false); err != nil || stored(st, "a") {
		t.Fatalf("another node's copy of a deleted message: stored %v, %v; want not stored", stored(st, "a"), err)
	}
	if _, err := st.insert(ctx, rec("a", 100), true); err != nil || !stored(st, "a") {
		t.Fatalf("a client's store of a deleted message: stored %v, %v; want stored anew", stored(st, "a"), err)
	}

	// Reopened with a tombstone: the hint is read from the table.
	if _, _, err := st.deleteWhere(ctx, "05aa", ` AND hash = ?`, "b"); err != nil {
		t.Fatal(err)
	}
	st.close()
	if st, err = openStore(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if st.tombs.none.Load() {
		t.Fatal("reopened with a tombstone, the hint says none")
	}
	if _, err := st.insert(ctx, rec("b", 100), true); err != nil || !stored(st, "b") {
		t.Fatalf("after reopening, a client's store of a deleted message: stored %v, %v; want stored anew", stored(st, "b"), err)
	}

	// Tombstones expired: none again.
	if _, err := st.bury(ctx, []entry{{Hash: "c", Owner: "05aa", Expiry: 50}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.removeExpired(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if !st.tombs.none.Load() {
		t.Fatal("every tombstone expired, the hint says some remain")
	}
}

// TestStoreRetrievePages: a page starts after the last hash when it is
// the owner's message in the namespace, else from the first; at most
// maxCount, with more said.
func TestStoreRetrievePages(t *testing.T) {
	ctx := context.Background()
	st, err := openStore(ctx, filepath.Join(t.TempDir(), "storage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for _, r := range []record{
		{Hash: "a1", Owner: "05aa"}, {Hash: "b1", Owner: "05bb"}, {Hash: "a2", Owner: "05aa"},
		{Hash: "n1", Owner: "05aa", Namespace: 3}, {Hash: "a3", Owner: "05aa"},
	} {
		r.Timestamp, r.Expiry, r.Data = 1, 100, []byte("x")
		if _, err := st.insert(ctx, &r, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		last string
		max  int
		want string
		more bool
	}{
		{"", 10, "a1 a2 a3", false},
		{"a1", 10, "a2 a3", false},
		{"a3", 10, "", false},
		{"b1", 10, "a1 a2 a3", false}, // another owner's
		{"n1", 10, "a1 a2 a3", false}, // another namespace's
		{"zz", 10, "a1 a2 a3", false}, // unknown
		{"", 2, "a1 a2", true},
		{"a1", 1, "a2", true},
	} {
		recs, more, err := st.retrieve(ctx, "05aa", 0, tc.last, tc.max, 1<<20, 50)
		var got []string
		for _, r := range recs {
			got = append(got, r.Hash)
		}
		if err != nil || strings.Join(got, " ") != tc.want || more != tc.more {
			t.Errorf("after %q, at most %d: %v more %v (%v); want %s more %v", tc.last, tc.max, got, more, err, tc.want, tc.more)
		}
	}
}
