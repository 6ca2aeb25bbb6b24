-- +goose Up
-- Registered OAuth2 / OIDC clients. List-valued settings are JSON arrays.
CREATE TABLE clients (
    tenant_id                       text NOT NULL REFERENCES tenants (id),
    id                              text NOT NULL,
    name                            text NOT NULL,
    secret_hash                     bytea,
    redirect_uris                   jsonb NOT NULL,
    post_logout_redirect_uris       jsonb NOT NULL,
    grant_types                     jsonb NOT NULL,
    response_types                  jsonb NOT NULL,
    scopes                          jsonb NOT NULL,
    audience                        jsonb NOT NULL,
    public                          boolean NOT NULL,
    token_endpoint_auth_method      text NOT NULL,
    token_endpoint_auth_signing_alg text NOT NULL DEFAULT '',
    jwks                            jsonb,
    id_token_alg                    text NOT NULL,
    access_token_format             text NOT NULL,
    skip_consent                    boolean NOT NULL,
    created_at                      timestamptz NOT NULL,
    updated_at                      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Accounts. email_normalized is unique per tenant (NULLs never collide).
CREATE TABLE users (
    tenant_id        text NOT NULL REFERENCES tenants (id),
    id               text NOT NULL,
    email            text,
    email_normalized text,
    email_verified   boolean NOT NULL DEFAULT false,
    phone            text,
    phone_verified   boolean NOT NULL DEFAULT false,
    name             text NOT NULL DEFAULT '',
    given_name       text NOT NULL DEFAULT '',
    family_name      text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'active',
    status_reason    text NOT NULL DEFAULT '',
    status_by        text NOT NULL DEFAULT '',
    status_until     timestamptz,
    resettable       boolean NOT NULL DEFAULT true,
    metadata         jsonb NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (tenant_id, email_normalized);
CREATE UNIQUE INDEX users_phone ON users (tenant_id, phone);

-- Credentials: one row per (user, type); the password is an argon2id PHC string.
CREATE TABLE credentials (
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    type       text NOT NULL,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, type),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Browser sign-in sessions. The cookie holds a random value; only its SHA-256 is stored.
CREATE TABLE login_sessions (
    tenant_id  text NOT NULL,
    id         text NOT NULL,
    token_hash bytea NOT NULL,
    user_id    text NOT NULL,
    auth_time  timestamptz NOT NULL,
    amr        jsonb NOT NULL,
    acr        text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX login_sessions_token ON login_sessions (token_hash);
CREATE INDEX login_sessions_user ON login_sessions (tenant_id, user_id);
CREATE INDEX login_sessions_expires ON login_sessions (expires_at);

-- Pending authorizations (login → consent → code), bound to a browser.
CREATE TABLE auth_flows (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    id          text NOT NULL,
    client_id   text NOT NULL,
    state       text NOT NULL,
    device_hash bytea NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX auth_flows_expires ON auth_flows (expires_at);

-- Remembered consent: one row per (user, client) holding the granted scopes.
CREATE TABLE consent_grants (
    tenant_id  text NOT NULL,
    id         text NOT NULL,
    user_id    text NOT NULL,
    client_id  text NOT NULL,
    scopes     jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX consent_grants_user_client ON consent_grants (tenant_id, user_id, client_id);

-- Signing keys. At most one active and one next key per (tenant, alg).
CREATE TABLE signing_keys (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    kid          text NOT NULL,
    alg          text NOT NULL,
    state        text NOT NULL,
    private_key  bytea NOT NULL,
    public_jwk   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    activated_at timestamptz,
    retired_at   timestamptz,
    expires_at   timestamptz,
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
    signature        text PRIMARY KEY,
    tenant_id        text NOT NULL,
    request_id       text NOT NULL,
    client_id        text NOT NULL,
    subject          text NOT NULL,
    requested_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    scopes           text NOT NULL,
    granted_scopes   text NOT NULL,
    audience         text NOT NULL,
    granted_audience text NOT NULL,
    form_data        text NOT NULL,
    session_data     bytea NOT NULL,
    active           boolean NOT NULL DEFAULT true
);
CREATE INDEX oauth2_code_request ON oauth2_code (request_id);
CREATE INDEX oauth2_code_expires ON oauth2_code (expires_at);

CREATE TABLE oauth2_access (
    signature        text PRIMARY KEY,
    tenant_id        text NOT NULL,
    request_id       text NOT NULL,
    client_id        text NOT NULL,
    subject          text NOT NULL,
    requested_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    scopes           text NOT NULL,
    granted_scopes   text NOT NULL,
    audience         text NOT NULL,
    granted_audience text NOT NULL,
    form_data        text NOT NULL,
    session_data     bytea NOT NULL,
    active           boolean NOT NULL DEFAULT true
);
CREATE INDEX oauth2_access_request ON oauth2_access (request_id);
CREATE INDEX oauth2_access_expires ON oauth2_access (expires_at);

CREATE TABLE oauth2_refresh (
    signature        text PRIMARY KEY,
    tenant_id        text NOT NULL,
    request_id       text NOT NULL,
    client_id        text NOT NULL,
    subject          text NOT NULL,
    requested_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    scopes           text NOT NULL,
    granted_scopes   text NOT NULL,
    audience         text NOT NULL,
    granted_audience text NOT NULL,
    form_data        text NOT NULL,
    session_data     bytea NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    access_signature text NOT NULL DEFAULT ''
);
CREATE INDEX oauth2_refresh_request ON oauth2_refresh (request_id);
CREATE INDEX oauth2_refresh_expires ON oauth2_refresh (expires_at);

-- private_key_jwt assertion ids seen, for replay protection (RFC 7523 §3).
CREATE TABLE oauth2_jti (
    tenant_id  text NOT NULL,
    jti_hash   text NOT NULL,
    expires_at timestamptz NOT NULL,
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
