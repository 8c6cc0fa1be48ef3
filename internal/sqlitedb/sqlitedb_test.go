package sqlitedb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
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

// TestBackupWhileWriting: a backup taken while another connection commits
// transactions of two rows holds whole transactions only, and opens as a
// database of its own.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	db, err := Open(ctx, src, []string{`CREATE TABLE t (n INTEGER)`})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			tx, err := db.BeginTx(ctx, nil)
			if err == nil {
				_, err = tx.Exec(`INSERT INTO t VALUES (?), (?)`, i, i)
			}
			if err == nil {
				err = tx.Commit()
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	var copies []string
	for i := range 3 {
		dst := filepath.Join(dir, fmt.Sprintf("copy%d.db", i))
		if err := Backup(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, dst)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range copies {
		cp, err := Open(ctx, c, []string{`CREATE TABLE t (n INTEGER)`})
		if err != nil {
			t.Fatal(err)
		}
		var rows, odd int
		if err := cp.QueryRow(`SELECT count(*), count(*) % 2 FROM t`).Scan(&rows, &odd); err != nil {
			t.Fatal(err)
		}
		cp.Close()
		if odd != 0 {
			t.Errorf("%s holds %d rows: half a transaction", c, rows)
		}
		if info, err := os.Stat(c); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", c, err, info.Mode())
		}
	}
	if err := Backup(ctx, src, copies[0]); err == nil {
		t.Error("a backup over an existing file")
	}
	if err := Backup(ctx, filepath.Join(dir, "none.db"), filepath.Join(dir, "x.db")); err == nil {
		t.Error("a backup of no database")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
		t.Error("backing up no database made one")
	}
}

// TestOpenNew: a new database is made whole under another name and linked
// into place: a failed one leaves no file, a made one is in WAL mode at its
// schema's version, 0600, with nothing else left in its directory.
func TestOpenNew(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "n.db")
	if _, err := Open(ctx, path, []string{`CREATE TABLE a (id INTEGER)`, `NOT SQL`}); err == nil {
		t.Fatal("a bad migration was accepted")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("a failed creation left %v", left)
	}
	db, err := Open(ctx, path, []string{`CREATE TABLE a (id INTEGER)`, `CREATE INDEX ai ON a (id)`})
	if err != nil {
		t.Fatal(err)
	}
	var mode, sync string
	var version int
	db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	db.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	db.QueryRow(`PRAGMA user_version`).Scan(&version)
	if _, err := db.Exec(`INSERT INTO a VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if mode != "wal" || sync != "1" || version != 2 {
		t.Fatalf("journal mode %s, synchronous %s, version %d", mode, sync, version)
	}
	// Another of the same migrations is the first's template written: a
	// database of its own, empty, at the same version.
	db, err = Open(ctx, filepath.Join(dir, "m.db"), []string{`CREATE TABLE a (id INTEGER)`, `CREATE INDEX ai ON a (id)`})
	if err != nil {
		t.Fatal(err)
	}
	var rows, indexes int
	db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	db.QueryRow(`PRAGMA user_version`).Scan(&version)
	db.QueryRow(`SELECT count(*) FROM a`).Scan(&rows)
	db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'ai'`).Scan(&indexes)
	db.Close()
	if mode != "wal" || version != 2 || rows != 0 || indexes != 1 {
		t.Fatalf("the second: journal mode %s, version %d, %d rows, %d indexes", mode, version, rows, indexes)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 || left[0].Name() != "m.db" || left[1].Name() != "n.db" {
		t.Fatalf("the directory holds %v", left)
	}
	for _, name := range []string{"m.db", "n.db"} {
		if st, _ := os.Stat(filepath.Join(dir, name)); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v", name, st.Mode().Perm())
		}
	}
}

// TestCreate: Create makes a database Open then only opens (at its
// version, empty), and leaves one that exists as it is.
func TestCreate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "c.db")
	migrations := []string{`CREATE TABLE c (id INTEGER)`, `CREATE INDEX ci ON c (id)`}
	if err := Create(ctx, path, migrations); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("created: %v, %v", st, err)
	}
	db, err := Open(ctx, path, migrations)
	if err != nil {
		t.Fatal(err)
	}
	var version, rows int
	db.QueryRow(`PRAGMA user_version`).Scan(&version)
	db.QueryRow(`SELECT count(*) FROM c`).Scan(&rows)
	if version != 2 || rows != 0 {
		t.Fatalf("version %d, %d rows", version, rows)
	}
	if _, err := db.Exec(`INSERT INTO c VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := Create(ctx, path, migrations); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path, migrations)
	if err != nil {
		t.Fatal(err)
	}
	db.QueryRow(`SELECT count(*) FROM c`).Scan(&rows)
	db.Close()
	if rows != 1 {
		t.Fatalf("Create over an existing database: %d rows, want 1", rows)
	}
	if err := Create(ctx, filepath.Join(t.TempDir(), "bad.db"), []string{`NOT SQL`}); err == nil {
		t.Fatal("a bad migration was accepted")
	}
}

// TestCreateSideBySide: databases of one schema made at once, the first
// building the template while the others wait for its bytes and then
// write their copies side by side: each whole, at its version.
func TestCreateSideBySide(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	migrations := []string{`CREATE TABLE s (id INTEGER)`, `CREATE INDEX si ON s (id)`, `CREATE TABLE side (x)`}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = Create(ctx, filepath.Join(dir, fmt.Sprintf("%d.db", i)), migrations) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("database %d: %v", i, err)
		}
		db, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("%d.db", i)), migrations)
		if err != nil {
			t.Fatal(err)
		}
		var version, tables int
		db.QueryRow(`PRAGMA user_version`).Scan(&version)
		db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&tables)
		db.Close()
		if version != 3 || tables != 2 {
			t.Fatalf("database %d: version %d, %d tables", i, version, tables)
		}
	}
}
