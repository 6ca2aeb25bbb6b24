package storagetest

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlite"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/tenant"
)

// Open returns a new, migrated store of backend ("sqlite": a file in t's
// temporary directory; "postgres": a schema of its own, see PostgresDSN),
// closed when t ends.
func Open(t testing.TB, backend string) *sqlstore.Store {
	t.Helper()
	var s *sqlstore.Store
	var err error
	switch backend {
	case "sqlite":
		s, err = sqlite.Open(SQLitePath(t), sqlite.Config{}, sqlstore.Options{})
	case "postgres":
		s, err = postgres.Open(PostgresDSN(t), postgres.Config{}, sqlstore.Options{})
	default:
		t.Fatalf("storagetest.Open: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// SQLite is Open(t, "sqlite") with a context for the default tenant.
func SQLite(t testing.TB) (*sqlstore.Store, context.Context) {
	t.Helper()
	return Open(t, "sqlite"), tenant.With(context.Background(), tenant.Default)
}
