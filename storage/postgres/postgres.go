package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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
	// Plans: custom (every execution planned with its parameters and the
	// table as it is now) until the statistics can tell the indexes apart,
	// then PostgreSQL's default (auto: a cached generic plan once it is no
	// dearer than the custom ones). See planMode. A DSN that sets
	// plan_cache_mode wins, and no statistics are read.
	_, pinned := pc.ConnConfig.RuntimeParams["plan_cache_mode"]
	if !pinned {
		pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
		// A connection keeps the mode it was given; this bounds how long a
		// mode outlives the statistics it was chosen from.
		if !strings.Contains(dsn, "pool_max_conn_lifetime") {
			pc.MaxConnLifetime, pc.MaxConnLifetimeJitter = connLifetime, connLifetime/5
		}
	}
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lastMode atomic.Value
	var warnOnce sync.Once
	// Scan timestamptz as UTC, whatever the process's local zone, so times
	// read back the same on both backends.
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		if pinned {
			return nil
		}
		mode, err := planMode(ctx, c)
		if err != nil {
			if c.IsClosed() {
				return fmt.Errorf("choose the plan mode: %w", err)
			}
			// A database without these catalog views (a PostgreSQL-compatible
			// engine) keeps custom plans; the connection is fine.
			mode = "force_custom_plan"
			warnOnce.Do(func() {
				log.Warn("PostgreSQL statistics unreadable: every statement planned per run", "err", err)
			})
		}
		if prev := lastMode.Swap(mode); prev != mode {
			log.Info("PostgreSQL plan mode for new connections", "plan_cache_mode", mode,
				"established", mode == "auto")
		}
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

// connLifetime is how long a pooled connection lives (with up to a fifth
// more, at random, so they do not all reconnect at once): a new connection
// reads the statistics again and takes the plan mode they call for.
const connLifetime = 5 * time.Minute

// establishedRows is how many rows (by the statistics) each table of
// establishedTables must hold before generic plans are allowed.
const establishedRows = 1000

// establishedTables are the tables that grow with traffic and that the hot
// statements read. Each must have been analyzed and hold establishedRows.
var establishedTables = []string{"users", "credentials", "login_sessions", "auth_flows", "consent_grants",
	"oauth2_code", "oauth2_access", "oauth2_refresh", "events"}

// planModeSQL sets and returns a new connection's plan mode ($1: the tables,
// $2: the rows each must hold). A variable for a test of its failure.
var planModeSQL = `SELECT set_config('plan_cache_mode',
		CASE WHEN count(*) = cardinality($1::text[]) THEN 'auto' ELSE 'force_custom_plan' END, false)
	FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
	WHERE c.oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t) AND c.reltuples >= $2
		AND (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL)`

// planMode sets the plan_cache_mode of a new connection and returns it.
//
// pgx prepares each statement once per connection; PostgreSQL's default
// (auto) then plans its first five runs with their parameters and switches
// to a cached generic plan when that is no dearer. Generic plans save about
// half of PostgreSQL's CPU on a refresh (one planning per statement instead
// of one per run). But a generic plan is made from the statistics of its
// moment and kept until the table is next analyzed. On a new database every
// table is empty or unanalyzed, every index looks alike (every estimate is
// one row), and PostgreSQL 15 picked, for example, a lookup of an account by
// id through the phone index (the tenant's whole range) or a sequential
// scan, and kept it while the table grew (seven statements did, checked one
// by one): a refresh fell to half its rate for the first minute.
//
// So a connection plans every run (force_custom_plan: the plan follows the
// table as it is now) until every table in establishedTables has been
// analyzed holding at least establishedRows rows. From then on the
// statistics tell a unique lookup (one row) from a range (thousands), and a
// connection gets auto. The choice is made per connection, when it opens,
// from pg_class and pg_stat_user_tables; connections live connLifetime, so
// a database that stops being established (a table purged nearly empty)
// is back on custom plans within minutes. TestPlanMode checks both states,
// and TestConformance/Plans every statement's generic plan in both.
func planMode(ctx context.Context, c *pgx.Conn) (string, error) {
	var mode string
	err := c.QueryRow(ctx, planModeSQL, pgx.QueryExecModeExec, establishedTables, establishedRows).Scan(&mode)
	return mode, err
}

type backend struct {
	pool  *pgxpool.Pool
	sqlDB *sql.DB
}

func (b *backend) Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "postgres", ForUpdate: " FOR UPDATE", RelaxedCommit: "SET LOCAL synchronous_commit TO OFF"}
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
// COMMIT; BEGIN is queued the same way, and so are conditional writes whose
// row count the database checks itself (ExpectRow: spending a refresh token
// or a code). A refresh or a code exchange thus costs two network round
// trips (the read of the token with its account, then the transaction)
// instead of eight or nine. Errors of queued statements come back from the
// call that sent them; after one, the transaction is aborted and only
// rollback remains.
type txn struct {
	conn   *pgxpool.Conn
	queue  []queued
	sent   bool  // something reached the server: a rollback must be sent
	failed error // first error; the transaction is aborted
}

type queued struct {
	sql  string
	args []any
	miss error // ExpectRow: what to return when the write changed no row
}

func (t *txn) Defer(_ context.Context, q string, args ...any) {
	t.queue = append(t.queue, queued{sql: q, args: args})
}

// expectMiss is the SQLSTATE gatehouse_expect_row raises (migration 00005).
const expectMiss = "GH001"

// ExpectRow queues q (an UPDATE or DELETE without RETURNING) so that the
// database itself fails the transaction when it changes no row: the write
// goes with the next statement or COMMIT, in the same round trip.
func (t *txn) ExpectRow(_ context.Context, miss error, q string, args ...any) {
	t.queue = append(t.queue, queued{
		sql:  "WITH r AS (" + q + " RETURNING 1) SELECT gatehouse_expect_row(count(*)) FROM r",
		args: args, miss: miss})
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
	queue := t.queue
	t.queue, t.sent = t.queue[:0], true
	br := t.conn.SendBatch(ctx, b)
	for _, q := range queue {
		if _, err := br.Exec(); err != nil {
			var pgErr *pgconn.PgError
			if q.miss != nil && errors.As(err, &pgErr) && pgErr.Code == expectMiss {
				err = fmt.Errorf("%w (%w)", q.miss, err)
			}
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
	br, err := t.send(ctx, queued{sql: q, args: args})
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
	br, err := t.send(ctx, queued{sql: q, args: args})
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
