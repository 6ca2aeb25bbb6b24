package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Config tunes the pool; zero values take pgx defaults.
type Config struct {
	// MaxConns bounds the pool (pgx default: max(4, GOMAXPROCS)).
	MaxConns int32
	// Tracer, when set, sees every statement (tests use it to check the
	// plans of all the statements a run used).
	Tracer pgx.QueryTracer
}

// Open returns a store over the PostgreSQL database at dsn
// (postgres://… or postgresql://…). It does not connect: a database that is
// down now is reported by Ping and by every call until it is back.
func Open(dsn string, cfg Config, opts sqlstore.Options) (*sqlstore.Store, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	// Plan every execution with its parameters and the table as it is now.
	// pgx prepares statements per connection; PostgreSQL's default (auto)
	// switches a statement to a cached generic plan after five runs, made
	// with the statistics of that moment. On a new database (the first
	// minutes after a deploy) those say the tables are empty, every index
	// looks alike, and PostgreSQL 15 picked, for example, a lookup of an
	// account by id through the phone index (the tenant's whole range) or a
	// sequential scan, and kept that plan while the table grew, until it
	// was next analyzed (seven statements did, checked one by one). Generic
	// plans would save a third of PostgreSQL's CPU per refresh; custom
	// plans cannot go stale. A DSN that sets plan_cache_mode wins.
	if _, ok := pc.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	// Scan timestamptz as UTC, whatever the process's local zone, so times
	// read back the same on both backends.
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL pool: %w", err)
	}
	b := &backend{pool: pool, sqlDB: stdlib.OpenDBFromPool(pool)}
	s, err := sqlstore.New(b, opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	return s, nil
}

type backend struct {
	pool  *pgxpool.Pool
	sqlDB *sql.DB
}

func (b *backend) Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "postgres", ForUpdate: " FOR UPDATE"}
}

func (b *backend) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := b.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (b *backend) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return b.pool.Query(ctx, q, args...)
}

func (b *backend) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return b.pool.QueryRow(ctx, q, args...)
}

// Begin takes a connection for a transaction. BEGIN itself is not sent yet:
// it goes with the transaction's first statement (see txn).
func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &txn{conn: conn, queue: []queued{{sql: "BEGIN ISOLATION LEVEL READ COMMITTED"}}}, nil
}

func (b *backend) SQLDB() *sql.DB { return b.sqlDB }

func (b *backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b *backend) Close() error {
	err := b.sqlDB.Close()
	b.pool.Close()
	return err
}

// txn is a pipelined transaction on one connection. Statements whose result
// is only their error (Defer: token and event inserts, deletes) are queued
// and sent in one batch with the next statement that needs a result, or with
// COMMIT; BEGIN is queued the same way. A refresh or a code exchange thus
// costs three or four network round trips instead of eight or nine. Errors
// of queued statements come back from the call that sent them; after one,
// the transaction is aborted and only rollback remains.
type txn struct {
	conn   *pgxpool.Conn
	queue  []queued
	sent   bool  // something reached the server: a rollback must be sent
	failed error // first error; the transaction is aborted
}

type queued struct {
	sql  string
	args []any
}

func (t *txn) Defer(_ context.Context, q string, args ...any) {
	t.queue = append(t.queue, queued{q, args})
}

// send sends the queue plus last as one batch and reads the queue's
// results; the caller reads last's result from the returned batch, which
// it must close.
func (t *txn) send(ctx context.Context, last queued) (pgx.BatchResults, error) {
	if t.failed != nil {
		return nil, t.failed
	}
	b := &pgx.Batch{}
	for _, q := range t.queue {
		b.Queue(q.sql, q.args...)
	}
	b.Queue(last.sql, last.args...)
	t.queue, t.sent = t.queue[:0], true
	br := t.conn.SendBatch(ctx, b)
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			t.failed = err
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t *txn) fail(err error) error {
	if err != nil && t.failed == nil {
		t.failed = err
	}
	return err
}

func (t *txn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	br, err := t.send(ctx, queued{q, args})
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), t.fail(err)
}

func (t *txn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	br, err := t.send(ctx, queued{q, args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, t.fail(err)
	}
	return &batchRows{Rows: rows, br: br, t: t}, nil
}

func (t *txn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	rows, err := t.Query(ctx, q, args...)
	if err != nil {
		return sqlstore.ErrRow(err)
	}
	return batchRow{rows.(*batchRows)}
}

// Commit sends what is queued with COMMIT. A transaction that never sent
// anything commits without a round trip.
func (t *txn) Commit(ctx context.Context) error {
	defer t.conn.Release()
	if t.failed != nil {
		_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return t.failed
	}
	if !t.sent && len(t.queue) == 1 {
		return nil // only BEGIN: nothing happened
	}
	br, err := t.send(ctx, queued{sql: "COMMIT"})
	if err != nil {
		_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	_, err = br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// Rollback discards the queue and, if anything reached the server, rolls
// back there.
func (t *txn) Rollback(ctx context.Context) error {
	defer t.conn.Release()
	t.queue = nil
	if !t.sent {
		return nil
	}
	_, err := t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	return err
}

// batchRows are the rows of the batch's last statement; closing them closes
// the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
	t  *txn
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.t.fail(r.Rows.Err())
	r.t.fail(r.br.Close())
}

// batchRow is QueryRow over batchRows: first row or pgx.ErrNoRows.
type batchRow struct{ r *batchRows }

func (r batchRow) Scan(dest ...any) error {
	defer r.r.Close()
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.r.Rows.Scan(dest...); err != nil {
		return err
	}
	return nil
}

// Translate maps pgx errors to the storage sentinels by SQLSTATE and error
// type, never by message. The original error stays wrapped for logs.
func (b *backend) Translate(err error) error { return Translate(err) }

// Translate is exported for tests of the mapping.
func Translate(err error) error {
	if err == nil || isSentinel(err) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "23503", "23P01": // unique, foreign key, exclusion
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case "40001", "40P01", "55P03": // serialization, deadlock, lock not available
			return fmt.Errorf("%w: %w", storage.ErrSerialization, err)
		}
		switch pgErr.Code[:2] {
		case "08", "53", "57", "58": // connection, resources, operator intervention, system
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	if isConnectionError(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

func isSentinel(err error) bool {
	for _, s := range []error{storage.ErrNotFound, storage.ErrConflict, storage.ErrSerialization, storage.ErrUnavailable, storage.ErrNoTenant, storage.ErrRolledBack} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func isConnectionError(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, sql.ErrConnDone):
		return true
	}
	return false
}
