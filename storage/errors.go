package storage

import "errors"

// The sentinels every backend returns; test them with errors.Is. Backends wrap
// them with the driver error so logs keep the detail.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique or foreign-key constraint refused the write.
	ErrConflict = errors.New("storage: conflict")
	// ErrSerialization: a concurrent transaction won (PostgreSQL 40001/40P01,
	// SQLite BUSY/LOCKED); the whole transaction may be retried.
	ErrSerialization = errors.New("storage: serialization failure")
	// ErrUnavailable: the database cannot be reached or refused service;
	// callers fail closed with 503.
	ErrUnavailable = errors.New("storage: database unavailable")
	// ErrNoTenant: a store method was called without a tenant in ctx. It is a
	// programming error; the store refuses to run an unscoped query.
	ErrNoTenant = errors.New("storage: no tenant in context")
	// ErrRolledBack: a joined (inner) transaction rolled back, so the outer
	// one could not commit.
	ErrRolledBack = errors.New("storage: transaction was rolled back by an inner scope")
	// ErrSpent: SpendToken found no active row to spend (the token or code
	// was used already: a concurrent request won). Errors wrapping it wrap
	// ErrNotFound too.
	ErrSpent = errors.New("storage: already spent")
)
