-- The janitor deletes expired rows in small batches, each an index range scan
-- of the time column (oldest first). 00002 indexed every expires_at; these
-- two partial indexes cover the other cutoffs: revoked browser sessions
-- (revoked_at) and delivered events (delivered_at). Only the NOT NULL rows
-- are indexed, so undelivered events and open sessions cost nothing here.

-- +goose Up
CREATE INDEX login_sessions_revoked ON login_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX events_delivered ON events (delivered_at) WHERE delivered_at IS NOT NULL;

-- +goose Down
DROP INDEX events_delivered;
DROP INDEX login_sessions_revoked;
