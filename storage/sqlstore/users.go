package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

const userColumns = `id, email, email_normalized, email_verified, phone, phone_verified, name, given_name, family_name,
	status, status_reason, status_by, status_until, resettable, metadata, created_at, updated_at`

// prefixed returns a column list with every column qualified by alias.
func prefixed(columns, alias string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// scanUser scans userColumns (then extra destinations, for joins).
func scanUser(r Row, u *storage.User, extra ...any) error {
	var email, norm, phone *string
	var meta []byte
	err := r.Scan(append([]any{&u.ID, &email, &norm, &u.EmailVerified, &phone, &u.PhoneVerified, &u.Name, &u.GivenName,
		&u.FamilyName, &u.Status, &u.StatusReason, &u.StatusBy, &u.StatusUntil, &u.Resettable, &meta,
		&u.CreatedAt, &u.UpdatedAt}, extra...)...)
	u.Email, u.EmailNormalized, u.Phone = deref(email), deref(norm), deref(phone)
	u.Metadata = meta
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateUser inserts an account; a taken email or phone is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	if u.Status == "" {
		u.Status = storage.StatusActive
	}
	_, err = s.exec(ctx, `INSERT INTO users (tenant_id, `+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		tid, u.ID, nullString(u.Email), nullString(u.EmailNormalized), u.EmailVerified, nullString(u.Phone),
		u.PhoneVerified, u.Name, u.GivenName, u.FamilyName, u.Status, u.StatusReason, u.StatusBy,
		optTS(u.StatusUntil), u.Resettable, jsonText(u.Metadata, "{}"), ts(u.CreatedAt), ts(u.UpdatedAt))
	return err
}

// GetUser returns an account of the ctx tenant or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u := storage.User{}
	tid, err := tenantOf(ctx)
	if err != nil {
		return u, err
	}
	u.TenantID = tid
	err = scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND id = $2`, tid, id), &u)
	return u, err
}

// GetUserByEmail finds an account by its normalized email.
func (s *Store) GetUserByEmail(ctx context.Context, normalized string) (storage.User, error) {
	u := storage.User{}
	tid, err := tenantOf(ctx)
	if err != nil {
		return u, err
	}
	u.TenantID = tid
	err = scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE tenant_id = $1 AND email_normalized = $2`,
		tid, normalized), &u)
	return u, err
}

// GetUserCredential finds an account by normalized email with its
// credential of one type, in one query (a sign-in needs both).
func (s *Store) GetUserCredential(ctx context.Context, normalized, typ string) (storage.User, storage.Credential, error) {
	u := storage.User{}
	c := storage.Credential{Type: typ}
	tid, err := tenantOf(ctx)
	if err != nil {
		return u, c, err
	}
	u.TenantID = tid
	var secret *string
	var created, updated *time.Time
	err = scanUser(s.queryRow(ctx, `SELECT `+prefixed(userColumns, "u")+`, c.secret, c.created_at, c.updated_at
		FROM users u LEFT JOIN credentials c ON c.tenant_id = u.tenant_id AND c.user_id = u.id AND c.type = $3
		WHERE u.tenant_id = $1 AND u.email_normalized = $2`, tid, normalized, typ), &u, &secret, &created, &updated)
	if err == nil && secret != nil {
		c.UserID, c.Secret, c.CreatedAt, c.UpdatedAt = u.ID, *secret, *created, *updated
	}
	return u, c, err
}

// SetUserStatus changes an account's status and records why and by whom.
// Any status but active (unless its end has already passed: such a status
// stops nothing, see login.StatusError) also ends the account's browser
// sessions, refresh tokens (deactivated: a later use is still recognised)
// and access tokens (deleted, as RevokeTokens does), in the same
// transaction (SECURITY.md). Hiding them while the status lasts is not
// enough: they would work again once a suspension ends or the account is
// reactivated, handing back what the suspension was meant to stop.
func (s *Store) SetUserStatus(ctx context.Context, id, status, reason, by string, until *time.Time) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	return s.InTx(ctx, func(ctx context.Context) error {
		n, err := s.exec(ctx, `UPDATE users SET status = $3, status_reason = $4, status_by = $5, status_until = $6,
			updated_at = $7 WHERE tenant_id = $1 AND id = $2`, tid, id, status, reason, by, optTS(until), ts(now))
		if err == nil && n == 0 {
			return notFound("user")
		}
		if err != nil || status == storage.StatusActive || (until != nil && !until.After(now)) {
			return err
		}
		if err := s.RevokeUserLoginSessions(ctx, id, now); err != nil {
			return err
		}
		if err := s.execDeferred(ctx, `UPDATE oauth2_refresh SET active = false
			WHERE tenant_id = $1 AND subject = $2 AND active`, tid, id); err != nil {
			return err
		}
		return s.execDeferred(ctx, `DELETE FROM oauth2_access WHERE tenant_id = $1 AND subject = $2`, tid, id)
	})
}

// SetCredential creates or replaces a user's credential of one type
// (deferred inside a transaction).
func (s *Store) SetCredential(ctx context.Context, c storage.Credential) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	now := ts(s.now())
	return s.execDeferred(ctx, `INSERT INTO credentials (tenant_id, user_id, type, secret, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (tenant_id, user_id, type) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at`,
		tid, c.UserID, c.Type, c.Secret, now)
}

// GetCredential returns a user's credential of one type or ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, userID, typ string) (storage.Credential, error) {
	c := storage.Credential{UserID: userID, Type: typ}
	tid, err := tenantOf(ctx)
	if err != nil {
		return c, err
	}
	err = s.queryRow(ctx, `SELECT secret, created_at, updated_at FROM credentials
		WHERE tenant_id = $1 AND user_id = $2 AND type = $3`, tid, userID, typ).Scan(&c.Secret, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}
