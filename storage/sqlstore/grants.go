package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// GetGrant returns a user's remembered consent for a client or ErrNotFound.
func (s *Store) GetGrant(ctx context.Context, userID, clientID string) (storage.Grant, error) {
	g := storage.Grant{UserID: userID, ClientID: clientID}
	tid, err := tenantOf(ctx)
	if err != nil {
		return g, err
	}
	err = s.queryRow(ctx, `SELECT id, scopes, created_at, updated_at FROM consent_grants
		WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`, tid, userID, clientID).
		Scan(&g.ID, listScan{&g.Scopes}, &g.CreatedAt, &g.UpdatedAt)
	return g, err
}

// UpsertGrant creates the (user, client) grant or replaces its scopes
// (deferred inside a transaction).
func (s *Store) UpsertGrant(ctx context.Context, g storage.Grant) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	if g.ID == "" {
		g.ID = NewID()
	}
	return s.execDeferred(ctx, `INSERT INTO consent_grants (tenant_id, id, user_id, client_id, scopes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`,
		tid, g.ID, g.UserID, g.ClientID, list(g.Scopes), ts(s.now()))
}

// DeleteGrant forgets a user's consent for a client.
func (s *Store) DeleteGrant(ctx context.Context, userID, clientID string) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `DELETE FROM consent_grants WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3`,
		tid, userID, clientID)
	if err == nil && n == 0 {
		return notFound("grant")
	}
	return err
}

// GetUserGrant returns an account and its grant to a client in one query.
func (s *Store) GetUserGrant(ctx context.Context, userID, clientID string) (storage.User, storage.Grant, error) {
	u := storage.User{}
	g := storage.Grant{UserID: userID, ClientID: clientID}
	tid, err := tenantOf(ctx)
	if err != nil {
		return u, g, err
	}
	u.TenantID = tid
	var grantID *string
	var scopes []string
	var created, updated *time.Time
	err = scanUser(s.queryRow(ctx, `SELECT `+prefixed(userColumns, "u")+`, g.id, g.scopes, g.created_at, g.updated_at
		FROM users u LEFT JOIN consent_grants g ON g.tenant_id = u.tenant_id AND g.user_id = u.id AND g.client_id = $3
		WHERE u.tenant_id = $1 AND u.id = $2`, tid, userID, clientID), &u, &grantID, listScan{&scopes}, &created, &updated)
	if err == nil && grantID != nil {
		g.ID, g.Scopes, g.CreatedAt, g.UpdatedAt = *grantID, scopes, *created, *updated
	}
	return u, g, err
}
