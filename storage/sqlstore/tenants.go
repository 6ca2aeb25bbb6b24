package sqlstore

import (
	"context"

	"github.com/gatehouse/gatehouse/storage"
)

// CreateTenant inserts a tenant; an existing id is ErrConflict.
func (s *Store) CreateTenant(ctx context.Context, t storage.Tenant) error {
	now := ts(s.now())
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	_, err := s.exec(ctx,
		`INSERT INTO tenants (id, name, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		t.ID, t.Name, t.Disabled, ts(t.CreatedAt))
	return err
}

// GetTenant returns one tenant or ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, id string) (storage.Tenant, error) {
	var t storage.Tenant
	err := s.queryRow(ctx,
		`SELECT id, name, disabled, created_at, updated_at FROM tenants WHERE id = $1`, id).
		Scan(&t.ID, &t.Name, &t.Disabled, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// ListTenants returns every tenant, by id.
func (s *Store) ListTenants(ctx context.Context) ([]storage.Tenant, error) {
	var out []storage.Tenant
	err := s.query(ctx, func(r Rows) error {
		var t storage.Tenant
		if err := r.Scan(&t.ID, &t.Name, &t.Disabled, &t.CreatedAt, &t.UpdatedAt); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	}, `SELECT id, name, disabled, created_at, updated_at FROM tenants ORDER BY id`)
	return out, err
}
