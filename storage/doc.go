// Package storage holds the records gatehouse persists and the store
// contract every backend implements.
//
// The backends (storage/postgres over pgx, storage/sqlite over
// modernc.org/sqlite) share one body of SQL in storage/sqlstore and prove it
// by running the one conformance suite in storage/storagetest. Stores know no
// HTTP and no fosite handler: they return the sentinels of this package
// (ErrNotFound, ErrConflict, ErrSerialization, ErrUnavailable), translated
// from driver errors by SQLSTATE or SQLite result code, never by message.
//
// Every method takes ctx first. The tenant travels in ctx (package tenant) and
// every query is scoped by it; a ctx without a tenant fails with ErrNoTenant.
// Two intentional exceptions work across tenants: Tenants, and Purger (the
// janitor's batched deletes of expired rows, and their row counts).
// Transactions travel in ctx too and nest: a BeginTX or InTx inside an open
// transaction joins it, so fosite's handlers and our services can both open
// one (see docs/architecture.md).
package storage
