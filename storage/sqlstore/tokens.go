package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// tokenTables maps each kind to its table. Table names come only from here.
var tokenTables = map[storage.TokenKind]string{
	storage.TokenCode:    "oauth2_code",
	storage.TokenAccess:  "oauth2_access",
	storage.TokenRefresh: "oauth2_refresh",
}

func tokenTable(kind storage.TokenKind) (string, error) {
	t, ok := tokenTables[kind]
	if !ok {
		return "", fmt.Errorf("unknown token kind %q", kind)
	}
	return t, nil
}

const tokenColumns = `signature, request_id, client_id, subject, requested_at, expires_at, scopes, granted_scopes,
	audience, granted_audience, form_data, session_data, active`

// CreateToken stores a fosite request of kind.
func (s *Store) CreateToken(ctx context.Context, kind storage.TokenKind, t storage.Token) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	table, err := tokenTable(kind)
	if err != nil {
		return err
	}
	args := []any{tid, t.Signature, t.RequestID, t.ClientID, t.Subject, ts(t.RequestedAt), ts(t.ExpiresAt),
		list(t.Scopes), list(t.GrantedScopes), list(t.Audience), list(t.GrantedAudience), t.Form, t.Session, t.Active}
	q := `INSERT INTO ` + table + ` (tenant_id, ` + tokenColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	if kind == storage.TokenRefresh {
		q = `INSERT INTO ` + table + ` (tenant_id, ` + tokenColumns + `, access_signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
		args = append(args, t.AccessSignature)
	}
	// Inside a transaction (token issuance) the insert travels with the
	// next statement or the commit; a conflict surfaces there.
	return s.execDeferred(ctx, q, args...)
}

// tokenDest is where a row of tokenColumns is scanned.
func tokenDest(t *storage.Token) []any {
	return []any{&t.Signature, &t.RequestID, &t.ClientID, &t.Subject, &t.RequestedAt, &t.ExpiresAt,
		listScan{&t.Scopes}, listScan{&t.GrantedScopes}, listScan{&t.Audience}, listScan{&t.GrantedAudience},
		&t.Form, &t.Session, &t.Active}
}

// withUser runs a query that selects an account's columns (alias u) and
// then the rest, from the tables in from, filtered by $1 = key and $2 =
// the ctx tenant; it scans the account into a User and the rest into dest.
func (s *Store) withUser(ctx context.Context, rest, from string, key any, dest ...any) (storage.User, error) {
	u := storage.User{}
	tid, err := tenantOf(ctx)
	if err != nil {
		return u, err
	}
	u.TenantID = tid
	err = scanUser(s.queryRow(ctx, `SELECT `+prefixed(userColumns, "u")+`, `+rest+` FROM `+from, key, tid), &u, dest...)
	return u, err
}

// GetToken returns a stored request of kind, active or not.
func (s *Store) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.Token, error) {
	var t storage.Token
	tid, err := tenantOf(ctx)
	if err != nil {
		return t, err
	}
	table, err := tokenTable(kind)
	if err != nil {
		return t, err
	}
	cols, dest := tokenColumns, tokenDest(&t)
	if kind == storage.TokenRefresh {
		cols += ", access_signature"
		dest = append(dest, &t.AccessSignature)
	}
	err = s.queryRow(ctx, `SELECT `+cols+` FROM `+table+` WHERE signature = $1 AND tenant_id = $2`, signature, tid).Scan(dest...)
	return t, err
}

// GetRefreshWithAccount returns a refresh token with its account and grant.
func (s *Store) GetRefreshWithAccount(ctx context.Context, signature string) (storage.Token, storage.User, storage.Grant, error) {
	var t storage.Token
	g := storage.Grant{}
	var grantID *string
	var scopes []string
	var created, updated *time.Time
	u, err := s.withUser(ctx, prefixed(tokenColumns+", access_signature", "t")+`, g.id, g.scopes, g.created_at, g.updated_at`,
		`oauth2_refresh t
		JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.subject
		LEFT JOIN consent_grants g ON g.tenant_id = t.tenant_id AND g.user_id = t.subject AND g.client_id = t.client_id
		WHERE t.signature = $1 AND t.tenant_id = $2`, signature,
		append(tokenDest(&t), &t.AccessSignature, &grantID, listScan{&scopes}, &created, &updated)...)
	g.UserID, g.ClientID = t.Subject, t.ClientID
	if err == nil && grantID != nil {
		g.ID, g.Scopes, g.CreatedAt, g.UpdatedAt = *grantID, scopes, *created, *updated
	}
	return t, u, g, err
}

// GetCodeWithAccount returns an authorization code with its account.
func (s *Store) GetCodeWithAccount(ctx context.Context, signature string) (storage.Token, storage.User, error) {
	var t storage.Token
	u, err := s.withUser(ctx, prefixed(tokenColumns, "t"), `oauth2_code t
		JOIN users u ON u.tenant_id = t.tenant_id AND u.id = t.subject
		WHERE t.signature = $1 AND t.tenant_id = $2`, signature, tokenDest(&t)...)
	return t, u, err
}

// DeactivateToken marks an active row inactive in one conditional statement;
// ErrNotFound when there was no active row to change.
func (s *Store) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	return s.deactivate(ctx, kind, signature, false)
}

// SpendToken is DeactivateToken whose check may travel with the
// transaction's later statements (RowExpecter): a refresh or a code
// exchange then costs one round trip fewer.
func (s *Store) SpendToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	return s.deactivate(ctx, kind, signature, true)
}

func (s *Store) deactivate(ctx context.Context, kind storage.TokenKind, signature string, spend bool) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	table, err := tokenTable(kind)
	if err != nil {
		return err
	}
	q := `UPDATE ` + table + ` SET active = false WHERE signature = $1 AND tenant_id = $2 AND active`
	if spend {
		if h := s.handle(ctx); h != nil {
			if e, ok := h.st.tx.(RowExpecter); ok {
				e.ExpectRow(ctx, spentErrs[kind], q, signature, tid)
				return nil
			}
		}
	}
	n, err := s.exec(ctx, q, signature, tid)
	switch {
	case err != nil || n > 0:
		return err
	case spend:
		return spentErrs[kind]
	}
	return notFound("active " + string(kind))
}

// spentErrs are SpendToken's misses, one per kind (made once: a spend is on
// every refresh and code exchange).
var spentErrs = func() map[storage.TokenKind]error {
	m := make(map[storage.TokenKind]error, len(tokenTables))
	for kind := range tokenTables {
		m[kind] = fmt.Errorf("active %s: %w: %w", kind, storage.ErrSpent, storage.ErrNotFound)
	}
	return m
}()

// DeleteToken removes a row (idempotent).
func (s *Store) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	table, err := tokenTable(kind)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, `DELETE FROM `+table+` WHERE signature = $1 AND tenant_id = $2`, signature, tid)
}

// DiscardTokens is RevokeTokens, deferred inside a transaction.
func (s *Store) DiscardTokens(ctx context.Context, kind storage.TokenKind, requestID string) error {
	q, args, err := s.revokeSQL(ctx, kind, requestID)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, q, args...)
}

// revokeSQL is the statement of RevokeTokens.
func (s *Store) revokeSQL(ctx context.Context, kind storage.TokenKind, requestID string) (string, []any, error) {
	tid, err := tenantOf(ctx)
	if err != nil {
		return "", nil, err
	}
	table, err := tokenTable(kind)
	if err != nil {
		return "", nil, err
	}
	if kind == storage.TokenRefresh {
		return `UPDATE ` + table + ` SET active = false WHERE tenant_id = $1 AND request_id = $2 AND active`, []any{tid, requestID}, nil
	}
	return `DELETE FROM ` + table + ` WHERE tenant_id = $1 AND request_id = $2`, []any{tid, requestID}, nil
}

// RevokeTokens ends every row of kind issued for requestID. Refresh tokens
// are deactivated, not deleted, so a later reuse is still recognised.
func (s *Store) RevokeTokens(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	q, args, err := s.revokeSQL(ctx, kind, requestID)
	if err != nil {
		return 0, err
	}
	return s.exec(ctx, q, args...)
}

// UseJTI records a client assertion id until exp. The insert and the
// replacement of an expired row are one statement, so two concurrent uses
// of one jti cannot both succeed.
func (s *Store) UseJTI(ctx context.Context, jtiHash string, exp time.Time) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `INSERT INTO oauth2_jti (tenant_id, jti_hash, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, jti_hash) DO UPDATE SET expires_at = excluded.expires_at
		WHERE oauth2_jti.expires_at < $4`, tid, jtiHash, ts(exp), ts(s.now()))
	if err == nil && n == 0 {
		return fmt.Errorf("client assertion jti already used: %w", storage.ErrConflict)
	}
	return err
}
