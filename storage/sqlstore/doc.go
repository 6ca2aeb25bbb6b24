// Package sqlstore is the one body of SQL that both backends run.
//
// modernc.org/sqlite accepts PostgreSQL-style $n placeholders, ON CONFLICT,
// RETURNING and booleans, so nearly every statement is one text for both
// databases. Where they really differ (row locks, the migration dialect) the
// Dialect says so; nothing is rewritten with regular expressions. What is
// shared is proved by storage/storagetest, which runs on both backends.
//
// A backend (storage/postgres, storage/sqlite) supplies a Backend: its pool,
// its transactions, and the translation of its driver errors into the
// storage sentinels. This package owns transactions in ctx, tenant scoping
// and the queries; it knows no HTTP and no fosite handler.
package sqlstore
