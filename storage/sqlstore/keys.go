package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// ListSigningKeys returns the ctx tenant's keys, newest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	tid, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.SigningKey
	err = s.query(ctx, func(r Rows) error {
		var k storage.SigningKey
		var jwk []byte
		if err := r.Scan(&k.KID, &k.Alg, &k.State, &k.PrivateKey, &jwk, &k.CreatedAt, &k.ActivatedAt, &k.RetiredAt, &k.ExpiresAt); err != nil {
			return err
		}
		k.PublicJWK = jwk
		out = append(out, k)
		return nil
	}, `SELECT kid, alg, state, private_key, public_jwk, created_at, activated_at, retired_at, expires_at
		FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid`, tid)
	return out, err
}

// CreateSigningKey inserts a key; a second active or next key for one alg
// is refused by a partial unique index: ErrConflict. The insert is ON
// CONFLICT DO NOTHING, so losing that race inside a transaction does not
// abort it (PostgreSQL).
func (s *Store) CreateSigningKey(ctx context.Context, k storage.SigningKey) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `INSERT INTO signing_keys (tenant_id, kid, alg, state, private_key, public_jwk, created_at, activated_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		tid, k.KID, k.Alg, k.State, k.PrivateKey, string(k.PublicJWK), ts(k.CreatedAt), optTS(k.ActivatedAt),
		optTS(k.RetiredAt), optTS(k.ExpiresAt))
	if err == nil && n == 0 {
		return fmt.Errorf("signing key %s (%s %s) conflicts with an existing one: %w", k.KID, k.Alg, k.State, storage.ErrConflict)
	}
	return err
}

// TransitionSigningKey moves a key from state from to state to, stamping
// activated_at (to active) or retired_at and expires_at (to retired). It
// changes nothing and returns ErrNotFound unless the key is in from, so
// concurrent rotations on several replicas cannot both win.
func (s *Store) TransitionSigningKey(ctx context.Context, kid, from, to string, at time.Time, expiresAt *time.Time) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	var n int64
	switch to {
	case storage.KeyActive:
		n, err = s.exec(ctx, `UPDATE signing_keys SET state = $3, activated_at = $5
			WHERE tenant_id = $1 AND kid = $2 AND state = $4`, tid, kid, to, from, ts(at))
	default:
		n, err = s.exec(ctx, `UPDATE signing_keys SET state = $3, retired_at = $5, expires_at = $6
			WHERE tenant_id = $1 AND kid = $2 AND state = $4`, tid, kid, to, from, ts(at), optTS(expiresAt))
	}
	if err == nil && n == 0 {
		return notFound("signing key in state " + from)
	}
	return err
}

// DeleteSigningKey removes a key (idempotent; deferred inside a
// transaction).
func (s *Store) DeleteSigningKey(ctx context.Context, kid string) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, `DELETE FROM signing_keys WHERE tenant_id = $1 AND kid = $2`, tid, kid)
}
