package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"path"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

func newMigrationProvider(b Backend, log *slog.Logger) (*goose.Provider, error) {
	fsys, err := migrations.FS(b.Dialect().Name)
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	var dialect goose.Dialect
	switch b.Dialect().Name {
	case "postgres":
		dialect = goose.DialectPostgres
		// A table lock, not an advisory lock: PostgreSQL-compatible
		// distributed engines lack advisory locks. It keeps two replicas
		// that start together from applying the same migration twice.
		locker, err := lock.NewPostgresTableLocker(lock.WithTableName("gatehouse_migration_lock"))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithLocker(locker))
	case "sqlite":
		dialect = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("sqlstore: no migrations for backend %q", b.Dialect().Name)
	}
	return goose.NewProvider(dialect, b.SQLDB(), fsys, opts...)
}

// Migrate applies every pending migration, each in its own transaction.
func (s *Store) Migrate(ctx context.Context) ([]storage.MigrationStatus, error) {
	results, err := s.goose.Up(ctx)
	if err != nil {
		return nil, s.b.Translate(fmt.Errorf("migrate: %w", err))
	}
	out := make([]storage.MigrationStatus, 0, len(results))
	for _, r := range results {
		out = append(out, storage.MigrationStatus{
			Version: r.Source.Version, Name: path.Base(r.Source.Path), Applied: r.Error == nil,
		})
	}
	return out, nil
}

// Migrations lists every migration the binary carries and its state.
func (s *Store) Migrations(ctx context.Context) ([]storage.MigrationStatus, error) {
	st, err := s.goose.Status(ctx)
	if err != nil {
		return nil, s.b.Translate(fmt.Errorf("migration status: %w", err))
	}
	out := make([]storage.MigrationStatus, 0, len(st))
	for _, m := range st {
		out = append(out, storage.MigrationStatus{
			Version:   m.Source.Version,
			Name:      path.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt,
		})
	}
	return out, nil
}

// Pending lists the migrations not applied yet.
func (s *Store) Pending(ctx context.Context) ([]storage.MigrationStatus, error) {
	all, err := s.Migrations(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.MigrationStatus
	for _, m := range all {
		if !m.Applied {
			out = append(out, m)
		}
	}
	return out, nil
}
