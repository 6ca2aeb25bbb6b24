package storage

import (
	"context"
	"encoding/json"
	"slices"
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
// them (audit); DeliveredAt is set once delivered (AppendEvent stores it when
// given, for imports and tests). Delivered events are purged by the janitor
// after a retention; undelivered ones never are.
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
// the ctx tenant (Purger, which cleans every tenant, is the one other
// exception to scoping).
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

// PurgeTarget names one kind of row that nothing reads again once its time
// has passed: a table and the time column compared with Purge's cutoff. The
// targets are a fixed list; the SQL behind each is chosen from it, never built
// from input.
type PurgeTarget string

// The purge targets. Each deletes the rows whose column is before the cutoff
// that Purge is given; the janitor decides the cutoffs (now, or now minus a
// retention).
const (
	PurgeCodes         PurgeTarget = "oauth2_code"    // authorization codes, used or not: expires_at
	PurgeAccessTokens  PurgeTarget = "oauth2_access"  // access tokens: expires_at
	PurgeRefreshTokens PurgeTarget = "oauth2_refresh" // refresh tokens, active or not: expires_at (inactive ones are kept until then for reuse detection)
	PurgeJTIs          PurgeTarget = "oauth2_jti"     // private_key_jwt assertion ids: expires_at
	PurgeFlows         PurgeTarget = "auth_flows"     // pending authorizations: expires_at
	// PurgeLoginSessions deletes browser sessions by expires_at;
	// PurgeRevokedLoginSessions by revoked_at (revoked, unexpired sessions).
	PurgeLoginSessions        PurgeTarget = "login_sessions"
	PurgeRevokedLoginSessions PurgeTarget = "login_sessions:revoked"
	// PurgeDeliveredEvents deletes events by delivered_at; an undelivered
	// event (delivered_at NULL) is never purged.
	PurgeDeliveredEvents PurgeTarget = "events"
)

// PurgeTargets returns every target, in the order a janitor pass runs them.
func PurgeTargets() []PurgeTarget {
	return []PurgeTarget{PurgeCodes, PurgeAccessTokens, PurgeRefreshTokens, PurgeJTIs,
		PurgeFlows, PurgeLoginSessions, PurgeRevokedLoginSessions, PurgeDeliveredEvents}
}

// PurgeTables returns the tables the targets purge, each once, in pass order.
func PurgeTables() []string {
	var out []string
	for _, t := range PurgeTargets() {
		if !slices.Contains(out, t.Table()) {
			out = append(out, t.Table())
		}
	}
	return out
}

// Table is the table target deletes from.
func (t PurgeTarget) Table() string {
	if t == PurgeRevokedLoginSessions {
		return "login_sessions"
	}
	return string(t)
}

// MaxPurgeBatch bounds the rows one Purge statement may delete, so that no
// statement holds its row locks (or SQLite's write lock) for long.
const MaxPurgeBatch = 10000

// Purger deletes rows that expired, for the janitor.
//
// It is NOT scoped by the ctx tenant: the janitor cleans every tenant at
// once, and a ctx without a tenant is fine. Besides Tenants it is the one
// intentional exception to tenant scoping; nothing on a request path may use
// it.
type Purger interface {
	// Purge deletes at most batch (1..MaxPurgeBatch) rows of target whose
	// time column is before `before`, oldest first, in one statement that
	// commits by itself. It never joins the ctx transaction: a ctx carrying
	// one is refused. It returns how many rows it deleted; fewer than batch
	// means none were left (or another purger took them: several replicas
	// may purge at once, each row is deleted once). The cutoff is checked
	// again on every row it deletes, so a row that a concurrent transaction
	// gave a later time (a client assertion id recorded again) is kept. The
	// store's clock is not consulted: the caller computes `before`.
	Purge(ctx context.Context, target PurgeTarget, before time.Time, batch int) (int64, error)
	// CountRows returns the number of rows of every table of PurgeTables,
	// across tenants (for benchmarks and operators; it counts, so it reads
	// every row).
	CountRows(ctx context.Context) (map[string]int64, error)
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
	Purger
	// Backend names the backend: "postgres" or "sqlite".
	Backend() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}
