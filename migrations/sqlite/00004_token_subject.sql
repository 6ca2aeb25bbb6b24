-- A status other than active ends the account's refresh and access tokens
-- (SECURITY.md: suspension ends the account's sessions and refresh tokens),
-- which finds them by subject.

-- +goose Up
CREATE INDEX oauth2_refresh_subject ON oauth2_refresh (tenant_id, subject);
CREATE INDEX oauth2_access_subject ON oauth2_access (tenant_id, subject);

-- +goose Down
DROP INDEX oauth2_access_subject;
DROP INDEX oauth2_refresh_subject;
