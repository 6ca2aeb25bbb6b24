// Package postgres is the PostgreSQL backend: a pgx v5 pool (pgxpool) behind
// storage/sqlstore. It owns the connection, transactions (READ COMMITTED;
// the atomic steps are conditional statements or FOR UPDATE) and the
// translation of SQLSTATEs into the storage sentinels. It uses nothing that
// PostgreSQL-compatible distributed engines lack (no advisory locks, no
// reliance on serial ordering).
package postgres
