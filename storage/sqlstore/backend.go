package sqlstore

import (
	"context"
	"database/sql"
)

// Querier runs statements; pools and transactions both are one.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is the part of pgx.Rows and *sql.Rows the store uses.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the part of pgx.Row and *sql.Row the store uses.
type Row interface {
	Scan(dest ...any) error
}

// ErrRow returns a Row whose Scan fails with err: what a backend's QueryRow
// returns when it cannot run the statement (its transaction failed already).
func ErrRow(err error) Row { return errRow{err} }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// Tx is an open transaction.
type Tx interface {
	Querier
	// Defer queues a write whose only result that matters is its error: a
	// backend may send it together with the next statement or the commit
	// (one network round trip for several statements). Its error then
	// comes back from that later call; the transaction fails either way.
	Defer(ctx context.Context, query string, args ...any)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// RowExpecter is a Tx that can queue a conditional write (an UPDATE or
// DELETE without RETURNING) that must change a row, with the check made by
// the database: the write then travels with the next statement or the
// commit, like Defer, and when it changed no row that later call returns
// miss and the transaction is aborted, so nothing after the write commits.
type RowExpecter interface {
	ExpectRow(ctx context.Context, miss error, query string, args ...any)
}

// Dialect holds what differs between the databases.
type Dialect struct {
	// Name is "postgres" or "sqlite".
	Name string
	// ForUpdate is appended to a SELECT that must lock its rows for the rest
	// of the transaction (" FOR UPDATE" on PostgreSQL; SQLite transactions
	// are IMMEDIATE and hold the write lock already).
	ForUpdate string
	// RelaxedCommit, run first in a transaction, lets its COMMIT return
	// before the commit reaches the disk (PostgreSQL: synchronous_commit off
	// for that transaction; "" where the database has no such switch). Only
	// for rows whose loss in a database crash costs a user a retry and
	// nothing else: see CreateFlow.
	RelaxedCommit string
}

// Backend is what a database driver package hands to New.
type Backend interface {
	Querier
	Dialect() Dialect
	// Begin opens a transaction.
	Begin(ctx context.Context) (Tx, error)
	// Translate maps a driver error to the storage sentinels (wrapping the
	// original); nil stays nil.
	Translate(err error) error
	// SQLDB is a database/sql handle on the same database, for the migration
	// runner.
	SQLDB() *sql.DB
	// Ping checks the database answers.
	Ping(ctx context.Context) error
	Close() error
}
