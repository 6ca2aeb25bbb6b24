-- A status other than active ends the account's refresh and access tokens
-- (SECURITY.md: suspension ends the account's sessions and refresh tokens),
-- which finds them by subject. Built CONCURRENTLY so large token tables keep
-- taking writes; the DROP before each CREATE makes an interrupted build
-- start over.

-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS oauth2_refresh_subject;
CREATE INDEX CONCURRENTLY oauth2_refresh_subject ON oauth2_refresh (tenant_id, subject);
DROP INDEX CONCURRENTLY IF EXISTS oauth2_access_subject;
CREATE INDEX CONCURRENTLY oauth2_access_subject ON oauth2_access (tenant_id, subject);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS oauth2_access_subject;
DROP INDEX CONCURRENTLY IF EXISTS oauth2_refresh_subject;
