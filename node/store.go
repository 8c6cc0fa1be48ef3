package node

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sessionctl/sessionctl/internal/sqlitedb"
	"github.com/sessionctl/sessionctl/storagerpc"
)

// The node's database: one table of messages. id orders messages as they
// were stored, which is what last_hash counts from.
var storeMigrations = []string{
	`CREATE TABLE messages (
		id        INTEGER PRIMARY KEY AUTOINCREMENT,
		hash      TEXT NOT NULL UNIQUE,
		owner     TEXT NOT NULL,
		namespace INTEGER NOT NULL,
		timestamp INTEGER NOT NULL,
		expiry    INTEGER NOT NULL,
		data      BLOB NOT NULL
	 ) STRICT;
	 CREATE INDEX messages_owner ON messages (owner, namespace, id);
	 CREATE INDEX messages_expiry ON messages (expiry);`,
	// 2: revoked subaccount tokens, per account, the newest 50 kept.
	`CREATE TABLE revocations (
		owner TEXT NOT NULL,
		token BLOB NOT NULL,
		added INTEGER NOT NULL,
		PRIMARY KEY (owner, token)
	 ) STRICT;`,
	// 3: tombstones of deleted messages, kept until the message would have
	// expired, so that replica repair and data moves never bring a deleted
	// message back; and unrevocations, so that an unrevoke wins over an
	// older revoke on a member that missed it (revoked = 0 marks one;
	// added orders the changes, last writer wins).
	`CREATE TABLE deleted (
		hash   TEXT PRIMARY KEY,
		owner  TEXT NOT NULL,
		expiry INTEGER NOT NULL
	 ) STRICT;
	 CREATE INDEX deleted_expiry ON deleted (expiry);
	 ALTER TABLE revocations ADD COLUMN revoked INTEGER NOT NULL DEFAULT 1;`,
}

// record is one stored message.
type record struct {
	ID        int64
	Hash      string
	Owner     string // Account ID, hex
	Namespace storagerpc.Namespace
	Timestamp int64 // ms
	Expiry    int64 // ms
	Data      []byte
}

type store struct {
	db *sql.DB
	// gen counts the writes done: every method that writes adds one once
	// it is done (committed or not), so that what was read under a gen
	// still current holds (the repair digest's cache, repair.go).
	gen atomic.Uint64
	// The statements of every store and fetch, prepared once: preparing
	// them for each request was 5% of a loaded devnet's CPU.
	unbury, insertStmt, extend, pageStmt *sql.Stmt
	// tombs tells whether the store may hold tombstones: a store holding
	// none has nothing to unbury (insert).
	tombs tombHint
}

// tombHint tells whether a store may hold tombstones, so that a client's
// store skips its unbury statement (a write transaction of its own that
// deletes nothing) while there are none, as on a network whose clients
// delete nothing: a fifth of a store's CPU. Whatever writes tombstones
// calls bury before it starts and after it ends; what finds the table
// empty calls maybeEmpty with the gen read before it looked, so that a
// tombstone written meanwhile keeps the hint at "may hold".
type tombHint struct {
	none atomic.Bool // the table holds no tombstone
	mu   sync.Mutex
	gen  uint64 // writes of tombstones begun or ended
}

// bury marks the table as holding tombstones (a write of them begins or ends).
func (h *tombHint) bury() {
	h.mu.Lock()
	h.gen++
	h.none.Store(false)
	h.mu.Unlock()
}

// read returns the gen to give maybeEmpty.
func (h *tombHint) read() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// maybeEmpty records that the table was found empty after read returned
// gen: it holds none unless tombstones were written since.
func (h *tombHint) maybeEmpty(gen uint64) {
	h.mu.Lock()
	if h.gen == gen {
		h.none.Store(true)
	}
	h.mu.Unlock()
}

// checkTombs sets the hint from the table: empty, none.
func (s *store) checkTombs(ctx context.Context) error {
	gen := s.tombs.read()
	var some bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deleted)`).Scan(&some); err != nil {
		return err
	}
	if !some {
		s.tombs.maybeEmpty(gen)
	}
	return nil
}

// storeCacheKiB is the page cache: small, for thousands of nodes in one
// process (the OS caches the files anyway). One connection: a node's
// database holds three open files however busy the node is (the budget in
// the package doc), and its queries take turns, as its writes would anyway.
const storeCacheKiB = 256

func openStore(ctx context.Context, path string) (*store, error) {
	db, err := sqlitedb.Open(ctx, path, storeMigrations, sqlitedb.CacheKiB(storeCacheKiB), sqlitedb.Conns(1))
	if err != nil {
		return nil, err
	}
	s := &store{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.unbury, `DELETE FROM deleted WHERE hash = ?`},
		{&s.insertStmt, `INSERT INTO messages (hash, owner, namespace, timestamp, expiry, data)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM deleted WHERE hash = ?1)
			ON CONFLICT (hash) DO NOTHING`},
		{&s.extend, `UPDATE messages SET expiry = ? WHERE hash = ? AND expiry < ?`},
		// A page after the last hash's message (if it is the owner's, in
		// the namespace; else from the first), in one statement.
		{&s.pageStmt, `SELECT id, hash, timestamp, expiry, data FROM messages
			WHERE owner = ?1 AND namespace = ?2
			AND id > coalesce((SELECT id FROM messages WHERE hash = ?3 AND owner = ?1 AND namespace = ?2), 0)
			AND expiry > ?4 ORDER BY id LIMIT ?5`},
	} {
		if *p.stmt, err = db.PrepareContext(ctx, p.sql); err != nil {
			s.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	if err := s.checkTombs(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("count tombstones: %w", err)
	}
	return s, nil
}

// uninterrupted is the context for the statements of every store and
// fetch, once ctx is checked: one that is never cancelled while they run.
// The driver watches a context that can be cancelled with a goroutine of
// its own for each statement, to interrupt it: a third of a store's CPU,
// for statements that take tens of microseconds (and the one connection
// they wait for is held no longer than that by each). The statements read
// no values of ctx: context.Background, rather than a WithoutCancel of
// ctx for each.
func uninterrupted(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.Background(), nil
}

func (s *store) close() error {
	for _, st := range []*sql.Stmt{s.unbury, s.insertStmt, s.extend, s.pageStmt} {
		if st != nil {
			st.Close()
		}
	}
	return s.db.Close()
}

// insert stores r, or, when its hash is stored already, extends the stored
// expiry to r's if later. It reports whether the hash was there. A client's
// store (fromClient) of a deleted message stores it anew; a record that
// comes from another node (push, repair) is not stored over its tombstone.
func (s *store) insert(ctx context.Context, r *record, fromClient bool) (already bool, err error) {
	defer s.gen.Add(1)
	if ctx, err = uninterrupted(ctx); err != nil {
		return false, fmt.Errorf("store message: %w", err)
	}
	if fromClient && !s.tombs.none.Load() {
		if _, err := s.unbury.ExecContext(ctx, r.Hash); err != nil {
			return false, fmt.Errorf("store message: %w", err)
		}
	}
	res, err := s.insertStmt.ExecContext(ctx, r.Hash, r.Owner, int64(r.Namespace), r.Timestamp, r.Expiry, r.Data)
	if err != nil {
		return false, fmt.Errorf("store message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return false, nil
	}
	if _, err := s.extend.ExecContext(ctx, r.Expiry, r.Hash, r.Expiry); err != nil {
		return true, fmt.Errorf("extend message: %w", err)
	}
	return true, nil
}

// retrieve returns owner's unexpired messages in ns stored after lastHash
// (all of them when lastHash is unknown), at most maxCount of them and about
// maxSize bytes of data (always at least one), and whether more remain.
func (s *store) retrieve(ctx context.Context, owner string, ns storagerpc.Namespace, lastHash string, maxCount, maxSize int, now int64) ([]*record, bool, error) {
	ctx, err := uninterrupted(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("retrieve: %w", err)
	}
	rows, err := s.pageStmt.QueryContext(ctx, owner, int64(ns), lastHash, now, maxCount+1)
	if err != nil {
		return nil, false, fmt.Errorf("retrieve: %w", err)
	}
	defer rows.Close()
	var out []*record
	size := 0
	more := false
	for rows.Next() {
		r := &record{Owner: owner, Namespace: ns}
		if err := rows.Scan(&r.ID, &r.Hash, &r.Timestamp, &r.Expiry, &r.Data); err != nil {
			return nil, false, err
		}
		if len(out) == maxCount || len(out) > 0 && size+len(r.Data) > maxSize {
			more = true
			break
		}
		size += len(r.Data)
		out = append(out, r)
	}
	return out, more, rows.Err()
}

// nsClause returns the SQL condition and argument for a namespace or "all".
func nsClause(ns storagerpc.NamespaceVar) (string, []any) {
	if ns.All {
		return "", nil
	}
	return " AND namespace = ?", []any{int64(ns.NS)}
}

// deleteWhere deletes owner's messages matching cond, leaving tombstones,
// and returns their hashes, sorted, and by namespace.
func (s *store) deleteWhere(ctx context.Context, owner, cond string, args ...any) ([]string, map[storagerpc.Namespace][]string, error) {
	defer s.gen.Add(1)
	s.tombs.bury()
	defer s.tombs.bury()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("delete: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO deleted (hash, owner, expiry) SELECT hash, owner, expiry FROM messages
		WHERE owner = ?`+cond+` ON CONFLICT (hash) DO NOTHING`, append([]any{owner}, args...)...); err != nil {
		return nil, nil, fmt.Errorf("delete: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM messages WHERE owner = ?`+cond+` RETURNING hash, namespace`,
		append([]any{owner}, args...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("delete: %w", err)
	}
	all, byNS, err := hashesByNamespace(rows)
	if err != nil {
		return nil, nil, fmt.Errorf("delete: %w", err)
	}
	return all, byNS, tx.Commit()
}

// hashesByNamespace reads (hash, namespace) rows, closes them, and returns
// the hashes sorted, and sorted by namespace.
func hashesByNamespace(rows *sql.Rows) ([]string, map[storagerpc.Namespace][]string, error) {
	defer rows.Close()
	var all []string
	byNS := map[storagerpc.Namespace][]string{}
	for rows.Next() {
		var h string
		var ns int64
		if err := rows.Scan(&h, &ns); err != nil {
			return nil, nil, err
		}
		all = append(all, h)
		byNS[storagerpc.Namespace(ns)] = append(byNS[storagerpc.Namespace(ns)], h)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	slices.Sort(all)
	for k := range byNS {
		slices.Sort(byNS[k])
	}
	return all, byNS, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (s *store) deleteHashes(ctx context.Context, owner string, hashes []string) ([]string, error) {
	all, _, err := s.deleteWhere(ctx, owner, ` AND hash IN (`+placeholders(len(hashes))+`)`, anys(hashes)...)
	return all, err
}

func (s *store) deleteAll(ctx context.Context, owner string, ns storagerpc.NamespaceVar) ([]string, map[storagerpc.Namespace][]string, error) {
	cond, args := nsClause(ns)
	return s.deleteWhere(ctx, owner, cond, args...)
}

func (s *store) deleteBefore(ctx context.Context, owner string, ns storagerpc.NamespaceVar, before int64) ([]string, map[storagerpc.Namespace][]string, error) {
	cond, args := nsClause(ns)
	return s.deleteWhere(ctx, owner, cond+` AND timestamp <= ?`, append(args, before)...)
}

// expireAll shortens to expiry the expiries later than it; it returns the
// updated hashes, sorted, and by namespace.
func (s *store) expireAll(ctx context.Context, owner string, ns storagerpc.NamespaceVar, expiry int64) ([]string, map[storagerpc.Namespace][]string, error) {
	defer s.gen.Add(1)
	cond, args := nsClause(ns)
	rows, err := s.db.QueryContext(ctx, `UPDATE messages SET expiry = ? WHERE owner = ?`+cond+` AND expiry > ? RETURNING hash, namespace`,
		append(append([]any{expiry, owner}, args...), expiry)...)
	if err != nil {
		return nil, nil, fmt.Errorf("expire all: %w", err)
	}
	return hashesByNamespace(rows)
}

// expiryOf is a stored message's expiry and namespace.
type expiryOf struct {
	expiry int64
	ns     storagerpc.Namespace
}

// expiries returns the current expiries of owner's messages among hashes.
func (s *store) expiries(ctx context.Context, owner string, hashes []string) (map[string]expiryOf, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, expiry, namespace FROM messages WHERE owner = ? AND hash IN (`+placeholders(len(hashes))+`)`,
		append([]any{owner}, anys(hashes)...)...)
	if err != nil {
		return nil, fmt.Errorf("get expiries: %w", err)
	}
	defer rows.Close()
	out := map[string]expiryOf{}
	for rows.Next() {
		var h string
		var e, ns int64
		if err := rows.Scan(&h, &e, &ns); err != nil {
			return nil, err
		}
		out[h] = expiryOf{e, storagerpc.Namespace(ns)}
	}
	return out, rows.Err()
}

// allExpiries returns the expiries of all owner's messages.
func (s *store) allExpiries(ctx context.Context, owner string) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, expiry FROM messages WHERE owner = ?`, owner)
	if err != nil {
		return nil, fmt.Errorf("get expiries: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var h string
		var e int64
		if err := rows.Scan(&h, &e); err != nil {
			return nil, err
		}
		out[h] = e
	}
	return out, rows.Err()
}

// setExpiry sets the expiry of one message.
func (s *store) setExpiry(ctx context.Context, owner, hash string, expiry int64) error {
	defer s.gen.Add(1)
	_, err := s.db.ExecContext(ctx, `UPDATE messages SET expiry = ? WHERE owner = ? AND hash = ?`, expiry, owner, hash)
	return err
}

// removeExpired deletes the messages, and the tombstones, expired at now.
// It counts in gen only when it removed something: it runs every
// ExpiryInterval, idle or not.
func (s *store) removeExpired(ctx context.Context, now int64) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM messages WHERE expiry <= ?`, now)
	if err != nil {
		s.gen.Add(1)
		return 0, fmt.Errorf("remove expired: %w", err)
	}
	tombs, err := s.db.ExecContext(ctx, `DELETE FROM deleted WHERE expiry <= ?`, now)
	if err != nil {
		s.gen.Add(1)
		return 0, fmt.Errorf("remove expired tombstones: %w", err)
	}
	n, _ := res.RowsAffected()
	t, _ := tombs.RowsAffected()
	if n > 0 || t > 0 {
		s.gen.Add(1)
	}
	if t > 0 {
		if err := s.checkTombs(ctx); err != nil {
			return n, fmt.Errorf("count tombstones: %w", err)
		}
	}
	return n, nil
}

// page returns up to limit unexpired records with id > after, in id order.
func (s *store) page(ctx context.Context, after int64, limit int, now int64) ([]*record, error) {
	return s.records(ctx, `WHERE id > ? AND expiry > ? ORDER BY id LIMIT ?`, after, now, limit)
}

// records reads the whole records that the condition cond selects.
func (s *store) records(ctx context.Context, cond string, args ...any) ([]*record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, hash, owner, namespace, timestamp, expiry, data FROM messages `+cond, args...)
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []*record
	for rows.Next() {
		r := &record{}
		var ns int64
		if err := rows.Scan(&r.ID, &r.Hash, &r.Owner, &ns, &r.Timestamp, &r.Expiry, &r.Data); err != nil {
			return nil, err
		}
		r.Namespace = storagerpc.Namespace(ns)
		out = append(out, r)
	}
	return out, rows.Err()
}

// forget deletes records by hash (after they moved to their new swarm).
func (s *store) forget(ctx context.Context, hashes []string) error {
	defer s.gen.Add(1)
	for len(hashes) > 0 {
		n := min(len(hashes), 500)
		if _, err := s.db.ExecContext(ctx, `DELETE FROM messages WHERE hash IN (`+placeholders(n)+`)`, anys(hashes[:n])...); err != nil {
			return fmt.Errorf("forget moved messages: %w", err)
		}
		hashes = hashes[n:]
	}
	return nil
}

// count returns how many messages are stored.
func (s *store) count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM messages`).Scan(&n)
	return n, err
}

// data returns a message's data, or nil when it is not stored.
func (s *store) data(ctx context.Context, hash string) ([]byte, error) {
	var d []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM messages WHERE hash = ?`, hash).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return d, err
}

// revoke adds tokens to owner's revocations, keeping the newest keep; it
// returns how many were new. at orders the change against others of the
// same token (last writer wins), so repair can merge lists.
func (s *store) revoke(ctx context.Context, owner string, toks []storagerpc.Token, at int64, keep int) (int, error) {
	return s.setRevocations(ctx, owner, toks, at, true, keep)
}

// unrevoke marks tokens unrevoked (a marker that wins over older revokes).
func (s *store) unrevoke(ctx context.Context, owner string, toks []storagerpc.Token, at int64, keep int) (int, error) {
	return s.setRevocations(ctx, owner, toks, at, false, keep)
}

func (s *store) setRevocations(ctx context.Context, owner string, toks []storagerpc.Token, at int64, revoked bool, keep int) (int, error) {
	rows := make([]revocation, len(toks))
	for i, t := range toks {
		rows[i] = revocation{Owner: owner, Token: t.String(), Added: at*1000 + int64(i), Revoked: revoked}
	}
	return s.mergeRevocations(ctx, rows, keep)
}

// revocation is one token's revocation state, as repair exchanges it.
type revocation struct {
	Owner   string `json:"owner"`
	Token   string `json:"token"` // hex
	Added   int64  `json:"added"` // orders changes of one token
	Revoked bool   `json:"revoked"`
}

// mergeRevocations applies revocation changes, each only where it is newer
// than what is stored for its token, then keeps, per owner, the newest
// keep revocations and the newest keep unrevocations. It returns how many
// changed the token's state.
//
// It counts in gen only when it wrote: the revocation sync merges what the
// swarm holds, mostly nothing new, idle or not.
func (s *store) mergeRevocations(ctx context.Context, rows []revocation, keep int) (n int, err error) {
	wrote := false
	defer func() {
		if wrote || err != nil {
			s.gen.Add(1)
		}
	}()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	owners := map[string]bool{}
	for _, r := range rows {
		t, err := storagerpc.ParseToken(r.Token)
		if err != nil {
			continue
		}
		var was int64 = -1
		var wasRevoked bool
		err = tx.QueryRowContext(ctx, `SELECT added, revoked FROM revocations WHERE owner = ? AND token = ?`, r.Owner, t[:]).Scan(&was, &wasRevoked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("revoke: %w", err)
		}
		if was >= r.Added {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (owner, token, added, revoked) VALUES (?, ?, ?, ?)
			ON CONFLICT (owner, token) DO UPDATE SET added = excluded.added, revoked = excluded.revoked`, r.Owner, t[:], r.Added, r.Revoked); err != nil {
			return 0, fmt.Errorf("revoke: %w", err)
		}
		wrote = true
		if was < 0 && r.Revoked || was >= 0 && wasRevoked != r.Revoked {
			n++
		}
		owners[r.Owner] = true
	}
	for owner := range owners {
		for _, rv := range []bool{true, false} {
			res, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE owner = ? AND revoked = ? AND token NOT IN
				(SELECT token FROM revocations WHERE owner = ? AND revoked = ? ORDER BY added DESC LIMIT ?)`, owner, rv, owner, rv, keep)
			if err != nil {
				return 0, fmt.Errorf("trim revocations: %w", err)
			}
			if c, _ := res.RowsAffected(); c > 0 {
				wrote = true
			}
		}
	}
	return n, tx.Commit()
}

func (s *store) isRevoked(ctx context.Context, owner string, t storagerpc.Token) (bool, error) {
	var x int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM revocations WHERE owner = ? AND token = ? AND revoked = 1`, owner, t[:]).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *store) revokedTokens(ctx context.Context, owner string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token FROM revocations WHERE owner = ? AND revoked = 1 ORDER BY added`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var t storagerpc.Token
		copy(t[:], b)
		out = append(out, t.String())
	}
	return out, rows.Err()
}

// revocations returns the revocation rows (both kinds) of the given owners,
// or of every owner when owners is nil.
func (s *store) revocations(ctx context.Context, owners []string) ([]revocation, error) {
	q := `SELECT owner, token, added, revoked FROM revocations`
	var args []any
	if owners != nil {
		if len(owners) == 0 {
			return nil, nil
		}
		q += ` WHERE owner IN (` + placeholders(len(owners)) + `)`
		args = anys(owners)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY owner, token`, args...)
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	defer rows.Close()
	var out []revocation
	for rows.Next() {
		var r revocation
		var tok []byte
		if err := rows.Scan(&r.Owner, &tok, &r.Added, &r.Revoked); err != nil {
			return nil, err
		}
		r.Token = hex.EncodeToString(tok)
		out = append(out, r)
	}
	return out, rows.Err()
}

// revocationsAfter returns up to limit revocation rows (both kinds) that
// come after the (owner, token) cursor, in (owner, token) order; an empty
// cursor starts from the first row.
func (s *store) revocationsAfter(ctx context.Context, owner string, token []byte, limit int) ([]revocation, error) {
	if token == nil {
		token = []byte{}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT owner, token, added, revoked FROM revocations
		WHERE owner > ? OR (owner = ? AND token > ?) ORDER BY owner, token LIMIT ?`, owner, owner, token, limit)
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	defer rows.Close()
	var out []revocation
	for rows.Next() {
		var r revocation
		var tok []byte
		if err := rows.Scan(&r.Owner, &tok, &r.Added, &r.Revoked); err != nil {
			return nil, err
		}
		r.Token = hex.EncodeToString(tok)
		out = append(out, r)
	}
	return out, rows.Err()
}

// entry is a message or a tombstone as repair compares them.
type entry struct {
	Hash    string
	Owner   string
	Expiry  int64
	Deleted bool
}

// walkEntries calls f with every unexpired message and tombstone, in hash
// order (for one hash, the message first), until f returns false.
func (s *store) walkEntries(ctx context.Context, now int64, f func(entry) bool) error {
	rows, err := s.db.QueryContext(ctx, `SELECT hash, owner, expiry, 0 AS d FROM messages WHERE expiry > ?
		UNION ALL SELECT hash, owner, expiry, 1 AS d FROM deleted WHERE expiry > ? ORDER BY hash, d`, now, now)
	if err != nil {
		return fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.Hash, &e.Owner, &e.Expiry, &e.Deleted); err != nil {
			return err
		}
		if !f(e) {
			return nil
		}
	}
	return rows.Err()
}

// byHashes returns the stored records among hashes.
func (s *store) byHashes(ctx context.Context, hashes []string) ([]*record, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	return s.records(ctx, `WHERE hash IN (`+placeholders(len(hashes))+`)`, anys(hashes)...)
}

// bury deletes the messages among tombs and records their tombstones.
func (s *store) bury(ctx context.Context, tombs []entry) (int, error) {
	defer s.gen.Add(1)
	s.tombs.bury()
	defer s.tombs.bury()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	n := 0
	for _, t := range tombs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deleted (hash, owner, expiry) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING`, t.Hash, t.Owner, t.Expiry); err != nil {
			return 0, fmt.Errorf("bury: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE hash = ? AND owner = ?`, t.Hash, t.Owner)
		if err != nil {
			return 0, fmt.Errorf("bury: %w", err)
		}
		if c, _ := res.RowsAffected(); c > 0 {
			n++
		}
	}
	return n, tx.Commit()
}
