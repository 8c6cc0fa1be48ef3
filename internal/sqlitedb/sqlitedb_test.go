package sqlitedb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	v1 := []string{`CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`}
	db, err := Open(ctx, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO a (v) VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
	var fk int
	db.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if fk != 1 {
		t.Error("foreign keys are off")
	}
	db.Close()
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}

	// Version 2 keeps the data of version 1.
	db, err = Open(ctx, path, append(v1, `ALTER TABLE a ADD COLUMN w TEXT`))
	if err != nil {
		t.Fatal(err)
	}
	var n, version int
	db.QueryRow(`SELECT count(*) FROM a`).Scan(&n)
	db.QueryRow(`PRAGMA user_version`).Scan(&version)
	db.Close()
	if n != 1 || version != 2 {
		t.Fatalf("rows %d version %d, want 1 and 2", n, version)
	}

	// An older build refuses the newer schema.
	if _, err := Open(ctx, path, v1); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("old build opened a newer schema: %v", err)
	}
}

func TestOpenBadMigrationChangesNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	if _, err := Open(ctx, path, []string{`CREATE TABLE a (id INTEGER)`, `NOT SQL`}); err == nil {
		t.Fatal("a bad migration was accepted")
	}
	db, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'a'`).Scan(&n)
	if n != 0 {
		t.Fatal("a failed migration left a table behind")
	}
}

func TestCacheAndPool(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), nil, CacheKiB(256))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cache int
	if err := db.QueryRow("PRAGMA cache_size").Scan(&cache); err != nil || cache != -256 {
		t.Fatalf("cache_size %d, %v", cache, err)
	}
	if got := db.Stats().MaxOpenConnections; got != MaxOpenConns {
		t.Fatalf("pool of %d", got)
	}
}
