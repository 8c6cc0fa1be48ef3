package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sessionctl/sessionctl/chain"
	"github.com/sessionctl/sessionctl/internal/sqlitedb"
)

// The ledger's database: the blocks as they were made (the truth), an index
// of transactions, and snapshots of the state every Params.SnapshotEvery
// blocks so a restart replays only the blocks after the last snapshot.
var migrations = []string{
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
	 CREATE TABLE blocks (
		height    INTEGER PRIMARY KEY,
		hash      TEXT NOT NULL UNIQUE,
		prev_hash TEXT NOT NULL,
		timestamp INTEGER NOT NULL,
		txs       BLOB NOT NULL
	 ) STRICT;
	 CREATE TABLE txs (
		hash   TEXT PRIMARY KEY,
		height INTEGER NOT NULL REFERENCES blocks(height),
		idx    INTEGER NOT NULL
	 ) STRICT;
	 CREATE TABLE snapshots (
		height INTEGER PRIMARY KEY REFERENCES blocks(height),
		state  BLOB NOT NULL
	 ) STRICT;`,
}

// formatVersion is the version of what the ledger writes in its database
// beyond the schema: the meaning of blocks, transactions and snapshots.
const formatVersion = 1

// ErrFormat is returned for a database this build cannot read correctly.
var ErrFormat = errors.New("ledger database format")

type store struct{ db *sql.DB }

func openStore(ctx context.Context, path string) (*store, error) {
	db, err := sqlitedb.Open(ctx, path, migrations)
	if err != nil {
		return nil, err
	}
	return &store{db: db}, nil
}

func (st *store) close() error { return st.db.Close() }

// genesisMeta is what the first start records: everything the chain derives from.
type genesisMeta struct {
	Format  int          `json:"format"`
	Seed    string       `json:"seed"`
	Params  chain.Params `json:"params"`
	Genesis []Allocation `json:"genesis"`
}

func (st *store) loadMeta(ctx context.Context) (*genesisMeta, error) {
	var v string
	err := st.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'genesis'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read genesis: %w", err)
	}
	var m genesisMeta
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, fmt.Errorf("%w: genesis record: %v", ErrFormat, err)
	}
	if m.Format != formatVersion {
		return nil, fmt.Errorf("%w: version %d, this sessionctl reads %d", ErrFormat, m.Format, formatVersion)
	}
	return &m, nil
}

// saveGenesis writes the genesis record and block 0 in one transaction.
func (st *store) saveGenesis(ctx context.Context, m *genesisMeta, b *Block) error {
	meta, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('genesis', ?)`, string(meta)); err != nil {
		return fmt.Errorf("write genesis: %w", err)
	}
	if err := insertBlock(ctx, tx, b); err != nil {
		return err
	}
	return tx.Commit()
}

func insertBlock(ctx context.Context, tx *sql.Tx, b *Block) error {
	txs, err := json.Marshal(b.Txs)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO blocks (height, hash, prev_hash, timestamp, txs) VALUES (?, ?, ?, ?, ?)`,
		int64(b.Height), b.Hash, b.PrevHash, b.Timestamp, txs); err != nil {
		return fmt.Errorf("write block %d: %w", b.Height, err)
	}
	for i, t := range b.Txs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO txs (hash, height, idx) VALUES (?, ?, ?)`, t.Hash(), int64(b.Height), i); err != nil {
			return fmt.Errorf("index transaction of block %d: %w", b.Height, err)
		}
	}
	return nil
}

// saveBlock writes a block, and with snap a snapshot of the state after it,
// in one transaction; older snapshots but the previous one are dropped.
func (st *store) saveBlock(ctx context.Context, b *Block, snap *State) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertBlock(ctx, tx, b); err != nil {
		return err
	}
	if snap != nil {
		if err := writeSnapshot(ctx, tx, snap); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func writeSnapshot(ctx context.Context, tx *sql.Tx, s *State) error {
	data, err := s.encode()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO snapshots (height, state) VALUES (?, ?)`, int64(s.Height), data); err != nil {
		return fmt.Errorf("write snapshot at %d: %w", s.Height, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM snapshots WHERE height < (SELECT height FROM snapshots ORDER BY height DESC LIMIT 1 OFFSET 1)`); err != nil {
		return fmt.Errorf("drop old snapshots: %w", err)
	}
	return nil
}

// saveSnapshot writes a snapshot of s on its own.
func (st *store) saveSnapshot(ctx context.Context, s *State) error {
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := writeSnapshot(ctx, tx, s); err != nil {
		return err
	}
	return tx.Commit()
}

// latestSnapshot returns the newest snapshot, or nil.
func (st *store) latestSnapshot(ctx context.Context) (*State, error) {
	var data []byte
	var h int64
	err := st.db.QueryRowContext(ctx, `SELECT height, state FROM snapshots ORDER BY height DESC LIMIT 1`).Scan(&h, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	s, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot at %d: %v", ErrFormat, h, err)
	}
	if s.Height != uint64(h) {
		return nil, fmt.Errorf("%w: snapshot at %d says height %d", ErrFormat, h, s.Height)
	}
	return s, nil
}

// blocksAfter calls fn for each block above height, in order.
func (st *store) blocksAfter(ctx context.Context, height uint64, fn func(*Block) error) error {
	rows, err := st.db.QueryContext(ctx, `SELECT height, hash, prev_hash, timestamp, txs FROM blocks WHERE height > ? ORDER BY height`, int64(height))
	if err != nil {
		return fmt.Errorf("read blocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

type scanner interface{ Scan(...any) error }

func scanBlock(row scanner) (*Block, error) {
	var (
		b   Block
		h   int64
		txs []byte
	)
	if err := row.Scan(&h, &b.Hash, &b.PrevHash, &b.Timestamp, &txs); err != nil {
		return nil, err
	}
	b.Height = uint64(h)
	if err := json.Unmarshal(txs, &b.Txs); err != nil {
		return nil, fmt.Errorf("%w: block %d: %v", ErrFormat, h, err)
	}
	for i, t := range b.Txs {
		if t == nil {
			return nil, fmt.Errorf("%w: block %d: transaction %d is null", ErrFormat, h, i)
		}
		if err := t.Check(); err != nil {
			return nil, fmt.Errorf("%w: block %d: transaction %d: %v", ErrFormat, h, i, err)
		}
	}
	return &b, nil
}

func (st *store) block(ctx context.Context, height uint64) (*Block, error) {
	row := st.db.QueryRowContext(ctx, `SELECT height, hash, prev_hash, timestamp, txs FROM blocks WHERE height = ?`, int64(height))
	b, err := scanBlock(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNoBlock, height)
	}
	return b, err
}

func (st *store) txHeight(ctx context.Context, hash string) (uint64, bool, error) {
	var h int64
	err := st.db.QueryRowContext(ctx, `SELECT height FROM txs WHERE hash = ?`, hash).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return uint64(h), true, nil
}
