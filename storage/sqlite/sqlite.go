package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Config tunes the pool.
type Config struct {
	// MaxOpenConns bounds the pool (default 8). WAL lets readers run beside
	// the one writer.
	MaxOpenConns int
	// Synchronous is the PRAGMA synchronous level (default FULL: every
	// commit is durable).
	Synchronous string
}

// Open returns a store over the SQLite file at path, creating it when
// missing. The directory must exist.
func Open(path string, cfg Config, opts sqlstore.Options) (*sqlstore.Store, error) {
	return open(path, cfg, opts, "")
}

// OpenTemp returns a store over a new SQLite file in a temporary directory
// that Close removes: the throwaway database behind GATEHOUSE_DSN=memory.
func OpenTemp(cfg Config, opts sqlstore.Options) (*sqlstore.Store, error) {
	dir, err := os.MkdirTemp("", "gatehouse-memory-")
	if err != nil {
		return nil, err
	}
	s, err := open(filepath.Join(dir, "gatehouse.db"), cfg, opts, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return s, err
}

func open(path string, cfg Config, opts sqlstore.Options, removeDir string) (*sqlstore.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("invalid SQLite path %q", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("SQLite directory %q does not exist", dir)
		}
	}
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 8
	}
	if cfg.Synchronous == "" {
		cfg.Synchronous = "FULL"
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+cfg.Synchronous+")")
	q.Set("_txlock", "immediate")
	q.Set("_time_integer_format", "unix_micro")
	q.Set("_inttotime", "1")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	// Fail now on an unusable file (permissions, not a database).
	if err := db.PingContext(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open SQLite database %q: %w", path, err)
	}
	b := &backend{db: db, removeDir: removeDir, writer: make(chan struct{}, 1)}
	s, err := sqlstore.New(b, opts)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

type backend struct {
	db        *sql.DB
	removeDir string
	// writer admits one writing transaction (or autocommit write) at a
	// time. SQLite allows one writer anyway; queueing here, instead of in
	// SQLite's busy handler (which sleeps and polls), serves writers in
	// turn without the sleeps that made tail latency. The busy timeout
	// still covers other processes on the same file (admin commands).
	writer chan struct{}
}

func (b *backend) lock(ctx context.Context) error {
	select {
	case b.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *backend) unlock() { <-b.writer }

func (b *backend) Dialect() sqlstore.Dialect { return sqlstore.Dialect{Name: "sqlite"} }

func (b *backend) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := b.lock(ctx); err != nil {
		return 0, err
	}
	defer b.unlock()
	return execResult(b.db.ExecContext(ctx, q, args...))
}

func (b *backend) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	r, err := b.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (b *backend) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return b.db.QueryRowContext(ctx, q, args...)
}

func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		b.unlock()
		return nil, err
	}
	return &txn{tx: tx, release: b.unlock}, nil
}

func (b *backend) SQLDB() *sql.DB                 { return b.db }
func (b *backend) Ping(ctx context.Context) error { return b.db.PingContext(ctx) }

func (b *backend) Close() error {
	err := b.db.Close()
	if b.removeDir != "" {
		err = errors.Join(err, os.RemoveAll(b.removeDir))
	}
	return err
}

func execResult(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type rows struct{ *sql.Rows }

func (r rows) Close() { _ = r.Rows.Close() }

// txn is a SQLite transaction. Deferred writes run at once (the database is
// in-process: nothing to save by sending them later). The first one to fail
// fails the transaction, as the contract says (and as on PostgreSQL, where
// the transaction is aborted): its error is kept and returned by every later
// Exec, Query and QueryRow, later deferred writes are skipped, and Commit
// rolls back and returns it. A caller that ignores the error of one later
// call thus cannot commit the writes that came before.
type txn struct {
	tx      *sql.Tx
	failed  error  // the first deferred write's error
	release func() // the writer slot, given back once
}

func (t *txn) done() {
	if t.release != nil {
		t.release()
		t.release = nil
	}
}

func (t *txn) Defer(ctx context.Context, q string, args ...any) {
	if t.failed != nil {
		return
	}
	if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
		t.failed = err
	}
}

func (t *txn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if t.failed != nil {
		return 0, t.failed
	}
	return execResult(t.tx.ExecContext(ctx, q, args...))
}

func (t *txn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	if t.failed != nil {
		return nil, t.failed
	}
	r, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (t *txn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if t.failed != nil {
		return sqlstore.ErrRow(t.failed)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t *txn) Commit(context.Context) error {
	defer t.done()
	if t.failed != nil {
		_ = t.tx.Rollback()
		return t.failed
	}
	return t.tx.Commit()
}

func (t *txn) Rollback(context.Context) error {
	defer t.done()
	return t.tx.Rollback()
}

// Translate maps SQLite result codes to the storage sentinels, never by
// message; the original error stays wrapped.
func (b *backend) Translate(err error) error { return Translate(err) }

// Translate is exported for tests of the mapping.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrSerialization, storage.ErrUnavailable, storage.ErrNoTenant, storage.ErrRolledBack} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", storage.ErrConflict, err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", storage.ErrSerialization, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}
