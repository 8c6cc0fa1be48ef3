// Package sqlitedb opens the SQLite databases of sessionctl (modernc.org/sqlite,
// no cgo) the one way the house style asks: WAL journal, a busy timeout,
// foreign keys on, and numbered migrations applied in one transaction with the
// schema version recorded in PRAGMA user_version.
//
//	db, err := sqlitedb.Open(ctx, path, []string{
//		`CREATE TABLE blocks (height INTEGER PRIMARY KEY, ...)`, // version 1
//		`ALTER TABLE blocks ADD COLUMN ...`,                     // version 2
//	})
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sessionctl/sessionctl/internal/atomicfile"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Option adjusts how a database is opened.
type Option func(*options)

type options struct{ cacheKiB, conns int }

// CacheKiB sets each connection's page cache (SQLite's default is 2,000
// KiB). It lives outside the Go heap, one per open connection, so a process
// with thousands of small databases wants it small.
func CacheKiB(n int) Option { return func(o *options) { o.cacheKiB = max(n, 64) } }

// MaxOpenConns bounds the connections of one database (3 open files each).
const MaxOpenConns = 6

// Conns bounds the database's connections to n (1 to MaxOpenConns). A
// process with thousands of small databases wants one each: a database then
// holds three open files (itself, its WAL and shared memory) however busy
// it is, and its queries take turns.
func Conns(n int) Option { return func(o *options) { o.conns = min(max(n, 1), MaxOpenConns) } }

// ErrNewerSchema is returned for a database written by a newer sessionctl.
var ErrNewerSchema = errors.New("database schema is newer than this sessionctl")

// Open opens (creating if needed) the database at path and brings its schema
// to len(migrations). Migration i (0-based) takes the schema from version i
// to i+1. The directory is created with mode 0700 and the file is 0600.
func Open(ctx context.Context, path string, migrations []string, opts ...Option) (*sql.DB, error) {
	o := options{cacheKiB: 2000, conns: MaxOpenConns}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create directory of %q: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		if err := create(ctx, abs, migrations); err != nil {
			return nil, fmt.Errorf("create %q: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn(abs, o.cacheKiB, "journal_mode(WAL)", "synchronous(NORMAL)"))
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	// A bounded pool: each connection holds three files (the database, its
	// WAL and shared memory), and thousands of databases live in one
	// devnet process. Writes take the one write lock anyway.
	db.SetMaxOpenConns(o.conns)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	if err := setup(ctx, db, path, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Create makes the database at path with its schema (len(migrations)), as
// Open does when there is none, and returns; nothing when path exists.
// One that opens many databases can so create them ahead of the opens,
// side by side with other work: the creation waits on the disk (a sync),
// the open does not.
func Create(ctx context.Context, path string, migrations []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory of %q: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("create %q: %w", path, err)
	}
	if _, err := os.Lstat(abs); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := create(ctx, abs, migrations); err != nil {
		return fmt.Errorf("create %q: %w", path, err)
	}
	return nil
}

// dsn names the database at abs with the house's pragmas and the given
// ones (which the driver runs in the order of their names, not as given).
func dsn(abs string, cacheKiB int, pragmas ...string) string {
	// A file: URI, so that any character of the path (%, ?, #) is escaped.
	s := (&url.URL{Scheme: "file", Path: abs}).String() +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate" +
		fmt.Sprintf("&_pragma=cache_size(-%d)", cacheKiB)
	for _, p := range pragmas {
		s += "&_pragma=" + p
	}
	return s
}

// create makes the database at abs, which does not exist, with its schema:
// built under a temporary name with no syncs (synchronous OFF), then synced
// once and linked into place, so that abs holds the whole new database or
// nothing, as a crash may leave it. Made in place it synced six times (its
// turn to WAL in a rollback journal: the journal and the directory, the
// journal again, the database; then its first WAL and the directory
// again): at a devnet's start, fifteen databases, and most of its time to
// ready. The process keeps what it built (templates): the next database of
// the same migrations is those bytes written, synced and linked, not the
// schema built again (a devnet's nodes share one). If another made abs
// meanwhile, theirs stays.
func create(ctx context.Context, abs string, migrations []string) error {
	t := templateOf(migrations)
	release := func() {}
	if t != nil {
		t.mu.Lock()
		if data := t.data; data != nil {
			// The copies are written (and synced) side by side: the lock
			// guards the template's bytes, not the disk.
			t.mu.Unlock()
			if err := atomicfile.Create(abs, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil
		}
		// This one builds the template; the others of its migrations wait
		// for its bytes, not for its sync.
		var once sync.Once
		release = func() { once.Do(t.mu.Unlock) }
		defer release()
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".new-*.db")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(tmp + suffix)
		}
	}()
	db, err := sql.Open("sqlite", dsn(tmp, 64, "synchronous(OFF)"))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1) // one connection: synchronous OFF holds for all that follows
	_, err = db.ExecContext(ctx, "PRAGMA journal_mode=WAL")
	if err == nil {
		err = setup(ctx, db, tmp, migrations)
	}
	if err == nil {
		// Everything into the database file itself: the link takes only it.
		var busy, frames, done int
		err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done)
		if err == nil && (busy != 0 || frames != done) {
			err = fmt.Errorf("checkpoint: busy %d, %d of %d frames", busy, done, frames)
		}
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if st, err := os.Stat(tmp + "-wal"); err == nil && st.Size() > 0 {
		return fmt.Errorf("%d bytes left in the WAL of the new database", st.Size())
	}
	if t != nil {
		if data, err := os.ReadFile(tmp); err == nil && len(data) <= maxTemplate {
			t.data = data
		}
		release()
	}
	if f, err = os.OpenFile(tmp, os.O_RDWR, 0); err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, abs); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// A template is a new database's bytes, as create built them for its
// migrations; mu is held while they are built and read.
type template struct {
	mu   sync.Mutex
	data []byte
}

// At most maxTemplates templates, of at most maxTemplate bytes each, are
// kept (a process opens databases of a few schemas: a node's, the
// ledger's, the servers').
const (
	maxTemplates = 16
	maxTemplate  = 1 << 20
)

var templates struct {
	mu sync.Mutex
	m  map[string]*template // by the migrations, joined
}

// templateOf is the template of migrations' databases, nil when there are
// as many as kept already.
func templateOf(migrations []string) *template {
	key := strings.Join(migrations, "\x00")
	templates.mu.Lock()
	defer templates.mu.Unlock()
	t := templates.m[key]
	if t == nil && len(templates.m) < maxTemplates {
		if templates.m == nil {
			templates.m = map[string]*template{}
		}
		t = &template{}
		templates.m[key] = t
	}
	return t
}

func setup(ctx context.Context, db *sql.DB, path string, migrations []string) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("open %q: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open %q: journal mode is %q, want wal", path, mode)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("secure %q: %w", path, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %q: %w", path, err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("migrate %q: %w", path, err)
	}
	if version > len(migrations) {
		return fmt.Errorf("%q: %w (version %d, this build knows %d)", path, ErrNewerSchema, version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate %q to version %d: %w", path, i+1, err)
		}
	}
	if version == len(migrations) {
		return nil // nothing written: an open of a database up to date syncs nothing
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("migrate %q: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %q: %w", path, err)
	}
	return nil
}

// Backup writes a consistent copy of the database at src to the new file
// dst (mode 0600) while others read and write it, in this process or
// another: VACUUM INTO from a connection of its own reads one snapshot of
// src (committed transactions only, its WAL included), as SQLite's online
// backup does. dst must not exist.
func Backup(ctx context.Context, src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return fmt.Errorf("back up %q: %w", src, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("back up %q: %w", src, err) // (opening would create it)
	}
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: abs}).String()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return fmt.Errorf("back up %q: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("back up %q to %q: %w", src, dst, err)
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		return fmt.Errorf("back up %q: %w", src, err)
	}
	return db.Close()
}
