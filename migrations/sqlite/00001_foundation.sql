-- Times are stored as INTEGER microseconds since the epoch in columns
-- declared TIMESTAMP (the driver runs with _time_integer_format=unix_micro and
-- _inttotime=1), so they compare numerically and scan back as time.Time.

-- +goose Up
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    disabled    BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

INSERT INTO tenants (id, name, disabled, created_at, updated_at)
VALUES ('default', 'Default', false, CAST(strftime('%s', 'now') AS INTEGER) * 1000000, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

-- The outbox: written in the same transaction as the change it records.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    type         TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX events_tenant_created ON events (tenant_id, created_at);
CREATE INDEX events_tenant_subject ON events (tenant_id, subject);
CREATE INDEX events_undelivered ON events (created_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE events;
DROP TABLE tenants;
