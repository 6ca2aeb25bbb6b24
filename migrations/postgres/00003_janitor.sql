-- The janitor deletes expired rows in small batches, each an index range scan
-- of the time column (oldest first). 00002 indexed every expires_at; these
-- two partial indexes cover the other cutoffs: revoked browser sessions
-- (revoked_at) and delivered events (delivered_at). Only the NOT NULL rows
-- are indexed, so undelivered events and open sessions cost nothing here.
--
-- Built CONCURRENTLY (outside a transaction) so a large events or
-- login_sessions table keeps taking writes (sign-ins) while they build. A
-- build interrupted half-way leaves an invalid index: the DROP before each
-- CREATE makes a rerun start over.

-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS login_sessions_revoked;
CREATE INDEX CONCURRENTLY login_sessions_revoked ON login_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS events_delivered;
CREATE INDEX CONCURRENTLY events_delivered ON events (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_delivered;
DROP INDEX CONCURRENTLY IF EXISTS login_sessions_revoked;
