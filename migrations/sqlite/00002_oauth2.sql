-- Times are INTEGER microseconds in TIMESTAMP columns; JSON is TEXT (see 00001).

-- +goose Up
-- Registered OAuth2 / OIDC clients. List-valued settings are JSON arrays.
CREATE TABLE clients (
    tenant_id                       TEXT NOT NULL REFERENCES tenants (id),
    id                              TEXT NOT NULL,
    name                            TEXT NOT NULL,
    secret_hash                     BLOB,
    redirect_uris                   TEXT NOT NULL,
    post_logout_redirect_uris       TEXT NOT NULL,
    grant_types                     TEXT NOT NULL,
    response_types                  TEXT NOT NULL,
    scopes                          TEXT NOT NULL,
    audience                        TEXT NOT NULL,
    public                          BOOLEAN NOT NULL,
    token_endpoint_auth_method      TEXT NOT NULL,
    token_endpoint_auth_signing_alg TEXT NOT NULL DEFAULT '',
    jwks                            TEXT,
    id_token_alg                    TEXT NOT NULL,
    access_token_format             TEXT NOT NULL,
    skip_consent                    BOOLEAN NOT NULL,
    created_at                      TIMESTAMP NOT NULL,
    updated_at                      TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Accounts. email_normalized is unique per tenant (NULLs never collide).
CREATE TABLE users (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    id               TEXT NOT NULL,
    email            TEXT,
    email_normalized TEXT,
    email_verified   BOOLEAN NOT NULL DEFAULT false,
    phone            TEXT,
    phone_verified   BOOLEAN NOT NULL DEFAULT false,
    name             TEXT NOT NULL DEFAULT '',
    given_name       TEXT NOT NULL DEFAULT '',
    family_name      TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL DEFAULT 'active',
    status_reason    TEXT NOT NULL DEFAULT '',
    status_by        TEXT NOT NULL DEFAULT '',
    status_until     TIMESTAMP,
    resettable       BOOLEAN NOT NULL DEFAULT true,
    metadata         TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (tenant_id, email_normalized);
CREATE UNIQUE INDEX users_phone ON users (tenant_id, phone);

-- Credentials: one row per (user, type); the password is an argon2id PHC string.
CREATE TABLE credentials (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, user_id, type),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Browser sign-in sessions. The cookie holds a random value; only its SHA-256 is stored.
CREATE TABLE login_sessions (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    user_id    TEXT NOT NULL,
    auth_time  TIMESTAMP NOT NULL,
    amr        TEXT NOT NULL,
    acr        TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX login_sessions_token ON login_sessions (token_hash);
CREATE INDEX login_sessions_user ON login_sessions (tenant_id, user_id);
CREATE INDEX login_sessions_expires ON login_sessions (expires_at);

-- Pending authorizations (login → consent → code), bound to a browser.
CREATE TABLE auth_flows (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    id          TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    device_hash BLOB NOT NULL,
    data        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX auth_flows_expires ON auth_flows (expires_at);

-- Remembered consent: one row per (user, client) holding the granted scopes.
CREATE TABLE consent_grants (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX consent_grants_user_client ON consent_grants (tenant_id, user_id, client_id);

-- Signing keys. At most one active and one next key per (tenant, alg).
CREATE TABLE signing_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    kid          TEXT NOT NULL,
    alg          TEXT NOT NULL,
    state        TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    activated_at TIMESTAMP,
    retired_at   TIMESTAMP,
    expires_at   TIMESTAMP,
    PRIMARY KEY (tenant_id, kid)
);
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (tenant_id, alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_next ON signing_keys (tenant_id, alg) WHERE state = 'next';

-- fosite's requests, one table per kind (a code's row also serves as its
-- PKCE and OIDC session). signature is a SHA-256 (hex) of the token's
-- signature; session_data is encrypted with GATEHOUSE_SECRET. The request
-- index has request_id alone (random per grant: as selective alone): with
-- tenant_id in it, a generic plan made on an empty table answered lookups
-- by signature and tenant from the tenant's whole range of this index. No foreign key to clients: every token
-- insert would lock the client's row (FOR KEY SHARE), and all of one
-- client's concurrent token requests would contend on it; a deleted
-- client's tokens are dead anyway (the provider loads the client for every
-- use) and the janitor removes them when they expire.
-- List columns are JSON text (on PostgreSQL too: never queried inside, and
-- text costs less than jsonb on every insert and read).
CREATE TABLE oauth2_code (
    signature        TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    requested_at     TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    scopes           TEXT NOT NULL,
    granted_scopes   TEXT NOT NULL,
    audience         TEXT NOT NULL,
    granted_audience TEXT NOT NULL,
    form_data        TEXT NOT NULL,
    session_data     BLOB NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX oauth2_code_request ON oauth2_code (request_id);
CREATE INDEX oauth2_code_expires ON oauth2_code (expires_at);

CREATE TABLE oauth2_access (
    signature        TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    requested_at     TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    scopes           TEXT NOT NULL,
    granted_scopes   TEXT NOT NULL,
    audience         TEXT NOT NULL,
    granted_audience TEXT NOT NULL,
    form_data        TEXT NOT NULL,
    session_data     BLOB NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT true
);
CREATE INDEX oauth2_access_request ON oauth2_access (request_id);
CREATE INDEX oauth2_access_expires ON oauth2_access (expires_at);

CREATE TABLE oauth2_refresh (
    signature        TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    requested_at     TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    scopes           TEXT NOT NULL,
    granted_scopes   TEXT NOT NULL,
    audience         TEXT NOT NULL,
    granted_audience TEXT NOT NULL,
    form_data        TEXT NOT NULL,
    session_data     BLOB NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT true,
    access_signature TEXT NOT NULL DEFAULT ''
);
CREATE INDEX oauth2_refresh_request ON oauth2_refresh (request_id);
CREATE INDEX oauth2_refresh_expires ON oauth2_refresh (expires_at);

-- private_key_jwt assertion ids seen, for replay protection (RFC 7523 §3).
CREATE TABLE oauth2_jti (
    tenant_id  TEXT NOT NULL,
    jti_hash   TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, jti_hash)
);
CREATE INDEX oauth2_jti_expires ON oauth2_jti (expires_at);

-- +goose Down
DROP TABLE oauth2_jti;
DROP TABLE oauth2_refresh;
DROP TABLE oauth2_access;
DROP TABLE oauth2_code;
DROP TABLE signing_keys;
DROP TABLE consent_grants;
DROP TABLE auth_flows;
DROP TABLE login_sessions;
DROP TABLE credentials;
DROP TABLE users;
DROP TABLE clients;
