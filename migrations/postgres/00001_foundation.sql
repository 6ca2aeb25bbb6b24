-- +goose Up
CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    disabled    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

INSERT INTO tenants (id, name, disabled, created_at, updated_at)
VALUES ('default', 'Default', false, now(), now());

-- The outbox: written in the same transaction as the change it records.
CREATE TABLE events (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    type         text NOT NULL,
    subject      text NOT NULL DEFAULT '',
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    delivered_at timestamptz
);
CREATE INDEX events_tenant_created ON events (tenant_id, created_at);
CREATE INDEX events_tenant_subject ON events (tenant_id, subject);
CREATE INDEX events_undelivered ON events (created_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE events;
DROP TABLE tenants;
