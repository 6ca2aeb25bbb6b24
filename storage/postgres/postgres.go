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

func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, err
	}
	return txn{tx}, nil
}

func (b *backend) SQLDB() *sql.DB { return b.sqlDB }

func (b *backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b *backend) Close() error {
	err := b.sqlDB.Close()
	b.pool.Close()
	return err
}

type txn struct{ tx pgx.Tx }

func (t txn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (t txn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return t.tx.Query(ctx, q, args...)
}

func (t txn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return t.tx.QueryRow(ctx, q, args...)
}

func (t txn) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t txn) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

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
