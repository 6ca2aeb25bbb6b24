package storage

import (
	"context"
	"encoding/json"
	"time"
)

// Transactor opens transactions that travel in ctx. BeginTX, Commit and
// Rollback match fosite's storage.Transactional so the same store serves
// fosite; InTx is what our services use.
//
// Nesting: BeginTX (or InTx) on a ctx that already carries a transaction of
// the same store joins it; the inner Commit is a no-op and the inner Rollback
// marks the outer transaction rollback-only, so its Commit fails with
// ErrRolledBack instead of committing half a change.
type Transactor interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	// InTx runs fn in a transaction (joining an open one). The outermost
	// InTx retries fn on ErrSerialization a few times, so fn must be safe to
	// run again.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Tenant is one isolated space of accounts, clients, keys and tokens.
type Tenant struct {
	ID        string
	Name      string
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Event is one row of the outbox: a fact about a change, written in the same
// transaction as the change. Later issues deliver them (webhooks) and query
// them (audit); DeliveredAt is set once delivered.
type Event struct {
	ID          string
	TenantID    string
	Type        string
	Subject     string
	Data        json.RawMessage
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

// EventFilter narrows ListEvents. Zero fields match everything.
type EventFilter struct {
	Type    string
	Subject string
	Limit   int
}

// MigrationStatus is one migration of the running binary and whether the
// database has it.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// Tenants reads and writes tenants. Tenants are the one record not scoped by
// the ctx tenant.
type Tenants interface {
	CreateTenant(ctx context.Context, t Tenant) error
	GetTenant(ctx context.Context, id string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
}

// Events appends to and reads the outbox of the ctx tenant.
type Events interface {
	AppendEvent(ctx context.Context, e Event) error
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
}

// Migrator applies and reports the embedded migrations.
type Migrator interface {
	// Migrate applies every pending migration and returns the ones it applied.
	Migrate(ctx context.Context) ([]MigrationStatus, error)
	// Migrations lists every migration the binary knows, applied or not.
	Migrations(ctx context.Context) ([]MigrationStatus, error)
	// Pending lists the migrations not yet applied.
	Pending(ctx context.Context) ([]MigrationStatus, error)
}

// Store is the contract every backend implements. It is owned here, by the
// producer, because it is a plugin contract; consumers still declare the
// small interfaces they use.
type Store interface {
	Transactor
	Migrator
	Tenants
	Events
	Clients
	Users
	LoginSessions
	Flows
	Grants
	SigningKeys
	Tokens
	// Backend names the backend: "postgres" or "sqlite".
	Backend() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}
