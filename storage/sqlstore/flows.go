package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/storage"
)

// CreateFlow inserts a pending authorization.
func (s *Store) CreateFlow(ctx context.Context, f storage.Flow) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO auth_flows (tenant_id, id, client_id, state, device_hash, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tid, f.ID, f.ClientID, f.State, f.DeviceHash, jsonText(f.Data, "{}"), ts(f.CreatedAt), ts(f.ExpiresAt))
	return err
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
