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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// A file: URI, so that any character of the path (%, ?, #) is escaped.
	dsn := (&url.URL{Scheme: "file", Path: abs}).String() +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate" +
		fmt.Sprintf("&_pragma=cache_size(-%d)", o.cacheKiB)
	db, err := sql.Open("sqlite", dsn)
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
