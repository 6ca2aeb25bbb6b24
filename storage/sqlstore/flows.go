package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/storage"
)

// CreateFlow inserts a pending authorization.
//
// On its own (outside a transaction) the insert commits without waiting for
// the disk (Dialect.RelaxedCommit): it is visible to every replica at once,
// and only a database crash within a fraction of a second after it could
// lose it, which costs its user a fresh start from the application: nothing
// is issued from a flow that is not moved on by a later, durable commit
// (the code, the consent step), and PostgreSQL's log is sequential, so that
// commit makes the insert durable too. It saves one WAL flush per
// authorization that shows a page.
func (s *Store) CreateFlow(ctx context.Context, f storage.Flow) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	const insert = `INSERT INTO auth_flows (tenant_id, id, client_id, state, device_hash, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	args := []any{tid, f.ID, f.ClientID, f.State, f.DeviceHash, jsonText(f.Data, "{}"), ts(f.CreatedAt), ts(f.ExpiresAt)}
	if s.handle(ctx) != nil || s.dialect.RelaxedCommit == "" {
		_, err = s.exec(ctx, insert, args...)
		return err
	}
	// BEGIN, the switch, the insert and COMMIT travel in one round trip;
	// the insert's error comes back from the commit.
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.execDeferred(ctx, s.dialect.RelaxedCommit); err != nil {
			return err
		}
		return s.execDeferred(ctx, insert, args...)
	})
}

// GetFlow returns a pending authorization of the ctx tenant or ErrNotFound.
func (s *Store) GetFlow(ctx context.Context, id string) (storage.Flow, error) {
	f := storage.Flow{}
	tid, err := tenantOf(ctx)
	if err != nil {
		return f, err
	}
	var data []byte
	err = s.queryRow(ctx, `SELECT id, client_id, state, device_hash, data, created_at, expires_at FROM auth_flows
		WHERE tenant_id = $1 AND id = $2`, tid, id).
		Scan(&f.ID, &f.ClientID, &f.State, &f.DeviceHash, &data, &f.CreatedAt, &f.ExpiresAt)
	f.Data = data
	return f, err
}

// UpdateFlow writes the flow's state and data if its stored state is still
// fromState; otherwise another request moved it first (or it is gone):
// ErrConflict.
func (s *Store) UpdateFlow(ctx context.Context, f storage.Flow, fromState string) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `UPDATE auth_flows SET state = $3, data = $4 WHERE tenant_id = $1 AND id = $2 AND state = $5`,
		tid, f.ID, f.State, jsonText(f.Data, "{}"), fromState)
	if err == nil && n == 0 {
		return fmt.Errorf("flow is no longer in state %q: %w", fromState, storage.ErrConflict)
	}
	return err
}
