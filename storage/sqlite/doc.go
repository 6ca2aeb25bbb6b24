// Package sqlite is the embedded SQLite backend over modernc.org/sqlite
// (pure Go, no cgo) behind storage/sqlstore. Every connection runs with WAL,
// a busy timeout, foreign keys on, and IMMEDIATE transactions (a transaction
// takes the write lock when it begins, so read-modify-write steps are
// serialised); times are stored as integer microseconds. It owns the
// connection and the translation of SQLite result codes into the storage
// sentinels.
package sqlite
