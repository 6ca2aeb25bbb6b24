package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
)

// Store implements storage.Store (and fosite's storage contracts, in the
// files that follow) over a Backend.
type Store struct {
	b       Backend
	dialect Dialect
	now     func() time.Time
	log     *slog.Logger
	goose   *goose.Provider
	// maxTxAttempts bounds InTx's retries on ErrSerialization.
	maxTxAttempts int
}

// Options configure New.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives debug lines of the "storage" area; discarded when nil.
	Logger *slog.Logger
}

// New returns a Store over b. It does not touch the database: a store can be
// built while the database is down, and Ping/Migrate report when it is back.
func New(b Backend, opts Options) (*Store, error) {
	s := &Store{b: b, dialect: b.Dialect(), now: opts.Now, log: opts.Logger, maxTxAttempts: 4}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	p, err := newMigrationProvider(b, s.log)
	if err != nil {
		return nil, err
	}
	s.goose = p
	return s, nil
}

// Backend names the database.
func (s *Store) Backend() string { return s.dialect.Name }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.b.Translate(s.b.Ping(ctx)) }

// Close releases the pool.
func (s *Store) Close() error {
	var err error
	if s.goose != nil {
		err = s.goose.Close()
	}
	return errors.Join(err, s.b.Close())
}

// txKey is the ctx key of this store's transaction; keyed by store so two
// stores in one process (tests) never share one.
type txKey struct{ s *Store }

// txState is one open database transaction.
type txState struct {
	tx           Tx
	rollbackOnly bool
	done         bool
}

// txHandle is what a ctx carries: the transaction and whether this scope
// opened it (owner) or joined it.
type txHandle struct {
	st    *txState
	owner bool
}

func (s *Store) handle(ctx context.Context) *txHandle {
	h, _ := ctx.Value(txKey{s}).(*txHandle)
	if h != nil && h.st.done {
		return nil
	}
	return h
}

// InTransaction reports whether ctx carries an open transaction of s.
func (s *Store) InTransaction(ctx context.Context) bool { return s.handle(ctx) != nil }

// BeginTX opens a transaction, or joins the one ctx already carries.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if h := s.handle(ctx); h != nil {
		return context.WithValue(ctx, txKey{s}, &txHandle{st: h.st}), nil
	}
	tx, err := s.b.Begin(ctx)
	if err != nil {
		return ctx, s.b.Translate(err)
	}
	return context.WithValue(ctx, txKey{s}, &txHandle{st: &txState{tx: tx}, owner: true}), nil
}

// Commit commits the transaction ctx carries if this scope opened it; a
// joined scope's Commit does nothing.
func (s *Store) Commit(ctx context.Context) error {
	h, _ := ctx.Value(txKey{s}).(*txHandle)
	if h == nil {
		return errors.New("storage: commit without a transaction")
	}
	if !h.owner {
		return nil
	}
	if h.st.done {
		return errors.New("storage: transaction already finished")
	}
	h.st.done = true
	if h.st.rollbackOnly {
		_ = h.st.tx.Rollback(context.WithoutCancel(ctx))
		return storage.ErrRolledBack
	}
	return s.b.Translate(h.st.tx.Commit(ctx))
}

// Rollback rolls the transaction back if this scope opened it; a joined
// scope marks it rollback-only. Rolling back a finished one is a no-op, so
// it can be deferred.
func (s *Store) Rollback(ctx context.Context) error {
	h, _ := ctx.Value(txKey{s}).(*txHandle)
	if h == nil || h.st.done {
		return nil
	}
	if !h.owner {
		h.st.rollbackOnly = true
		return nil
	}
	h.st.done = true
	return s.b.Translate(h.st.tx.Rollback(context.WithoutCancel(ctx)))
}

// InTx runs fn in a transaction. Inside an open transaction it joins it and
// runs fn once; as the outermost scope it retries fn when the database
// reports a serialization failure.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.handle(ctx) != nil {
		txCtx, _ := s.BeginTX(ctx)
		if err := fn(txCtx); err != nil {
			_ = s.Rollback(txCtx)
			return err
		}
		return nil
	}
	return s.retrySerialization(ctx, "transaction", 2*time.Millisecond, func() error { return s.runTx(ctx, fn) })
}

// retrySerialization runs fn up to maxTxAttempts times while it fails
// with a serialization failure or deadlock, waiting attempt² × unit
// between tries, or less if ctx ends (InTx and Purge).
func (s *Store) retrySerialization(ctx context.Context, what string, unit time.Duration, fn func() error) error {
	var err error
	for attempt := 1; attempt <= s.maxTxAttempts; attempt++ {
		err = fn()
		if !errors.Is(err, storage.ErrSerialization) || ctx.Err() != nil {
			return err
		}
		s.log.DebugContext(ctx, "retrying "+what, "attempt", attempt, "err", err)
		t := time.NewTimer(time.Duration(attempt*attempt) * unit)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	return err
}

func (s *Store) runTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = s.Rollback(txCtx)
			panic(p)
		}
	}()
	if err := fn(txCtx); err != nil {
		_ = s.Rollback(txCtx)
		return err
	}
	return s.Commit(txCtx)
}

// q returns the querier for ctx: the open transaction, or the pool.
func (s *Store) q(ctx context.Context) Querier {
	if h := s.handle(ctx); h != nil {
		return h.st.tx
	}
	return s.b
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := s.q(ctx).Exec(ctx, query, args...)
	return n, s.b.Translate(err)
}

// execDeferred runs a write whose result is only its error: inside a
// transaction the backend may send it with the next statement or the
// commit, and report its error from there.
func (s *Store) execDeferred(ctx context.Context, query string, args ...any) error {
	if h := s.handle(ctx); h != nil {
		h.st.tx.Defer(ctx, query, args...)
		return nil
	}
	_, err := s.exec(ctx, query, args...)
	return err
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) Row {
	return translatingRow{s.q(ctx).QueryRow(ctx, query, args...), s.b}
}

// query runs a SELECT and calls scan once per row.
func (s *Store) query(ctx context.Context, scan func(Rows) error, query string, args ...any) error {
	rows, err := s.q(ctx).Query(ctx, query, args...)
	if err != nil {
		return s.b.Translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return s.b.Translate(err)
		}
	}
	return s.b.Translate(rows.Err())
}

type translatingRow struct {
	r Row
	b Backend
}

func (r translatingRow) Scan(dest ...any) error { return r.b.Translate(r.r.Scan(dest...)) }

// tenant returns the ctx tenant or ErrNoTenant.
func tenantOf(ctx context.Context) (string, error) {
	id, ok := tenant.From(ctx)
	if !ok {
		return "", storage.ErrNoTenant
	}
	return id, nil
}

// NewID returns a new random, URL-safe record id (UUIDv7: random enough to
// be unguessable in its low bits, and index-friendly; nothing relies on its
// order).
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ts normalises a time for storage: UTC, microsecond precision (what
// PostgreSQL keeps), so a value reads back equal on both backends.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func notFound(what string) error { return fmt.Errorf("%s: %w", what, storage.ErrNotFound) }
