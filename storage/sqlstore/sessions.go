package sqlstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

const sessionColumns = `id, token_hash, user_id, auth_time, amr, acr, created_at, expires_at, revoked_at`

func scanSession(r Row, ls *storage.LoginSession) error { return r.Scan(sessionDest(ls)...) }

// sessionDest is where a row of sessionColumns is scanned.
func sessionDest(ls *storage.LoginSession) []any {
	return []any{&ls.ID, &ls.TokenHash, &ls.UserID, &ls.AuthTime, listScan{&ls.AMR}, &ls.ACR, &ls.CreatedAt,
		&ls.ExpiresAt, &ls.RevokedAt}
}

// CreateLoginSession inserts a browser session.
func (s *Store) CreateLoginSession(ctx context.Context, ls storage.LoginSession) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, `INSERT INTO login_sessions (tenant_id, `+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		tid, ls.ID, ls.TokenHash, ls.UserID, ts(ls.AuthTime), list(ls.AMR), ls.ACR, ts(ls.CreatedAt),
		ts(ls.ExpiresAt), optTS(ls.RevokedAt))
}

// GetLoginSessionByToken finds a session of the ctx tenant by the hash of
// its cookie value, whatever its expiry or revocation (the caller decides).
func (s *Store) GetLoginSessionByToken(ctx context.Context, tokenHash []byte) (storage.LoginSession, error) {
	var ls storage.LoginSession
	tid, err := tenantOf(ctx)
	if err != nil {
		return ls, err
	}
	err = scanSession(s.queryRow(ctx, `SELECT `+sessionColumns+` FROM login_sessions
		WHERE token_hash = $1 AND tenant_id = $2`, tokenHash, tid), &ls)
	return ls, err
}

// GetLoginSessionWithUser finds a session by the hash of its cookie value
// together with its account (sessions are deleted with their account).
func (s *Store) GetLoginSessionWithUser(ctx context.Context, tokenHash []byte) (storage.LoginSession, storage.User, error) {
	var ls storage.LoginSession
	u, err := s.withUser(ctx, prefixed(sessionColumns, "s"), `login_sessions s
		JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
		WHERE s.token_hash = $1 AND s.tenant_id = $2`, tokenHash, sessionDest(&ls)...)
	return ls, u, err
}

// GetLoginSession finds a session by its public id.
func (s *Store) GetLoginSession(ctx context.Context, id string) (storage.LoginSession, error) {
	var ls storage.LoginSession
	tid, err := tenantOf(ctx)
	if err != nil {
		return ls, err
	}
	err = scanSession(s.queryRow(ctx, `SELECT `+sessionColumns+` FROM login_sessions
		WHERE tenant_id = $1 AND id = $2`, tid, id), &ls)
	return ls, err
}

// RevokeLoginSession ends one session (idempotent: a revoked or unknown
// session is no error). Inside a transaction the update is deferred: it
// travels with the next statement or the commit, its error coming back
// from there.
func (s *Store) RevokeLoginSession(ctx context.Context, id string, at time.Time) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, `UPDATE login_sessions SET revoked_at = $3
		WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`, tid, id, ts(at))
}

// RevokeUserLoginSessions ends every open session of a user (deferred
// inside a transaction).
func (s *Store) RevokeUserLoginSessions(ctx context.Context, userID string, at time.Time) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	return s.execDeferred(ctx, `UPDATE login_sessions SET revoked_at = $3
		WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL`, tid, userID, ts(at))
}
