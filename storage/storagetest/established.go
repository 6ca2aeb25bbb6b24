package storagetest

import "fmt"

// EstablishedSeed returns the statements that put n rows in each table
// PostgreSQL's store needs established before it allows generic plans (see
// storage/postgres): n accounts, 1 in 10 with a phone, each
// with a password, a browser session and a grant to client; n flows, codes,
// access and refresh tokens (one request each, spread over the accounts)
// and events. client must exist in the default tenant.
func EstablishedSeed(n int, client string) []string {
	q := []string{
		fmt.Sprintf(`INSERT INTO users (tenant_id, id, email, email_normalized, phone, metadata, created_at, updated_at)
			SELECT 'default', 'su' || g, 'su' || g || '@example.com', 'su' || g || '@example.com',
				CASE WHEN g %% 10 = 0 THEN '+1555' || g END, '{}', now(), now() FROM generate_series(1, %d) g`, n),
		`INSERT INTO credentials (tenant_id, user_id, type, secret, created_at, updated_at)
			SELECT tenant_id, id, 'password', 'x', now(), now() FROM users WHERE id LIKE 'su%'`,
		`INSERT INTO login_sessions (tenant_id, id, token_hash, user_id, auth_time, amr, created_at, expires_at)
			SELECT tenant_id, 'ss' || id, ('st' || id)::bytea, id, now(), '[]', now(), now() + interval '1 day' FROM users WHERE id LIKE 'su%'`,
		fmt.Sprintf(`INSERT INTO consent_grants (tenant_id, id, user_id, client_id, scopes, created_at, updated_at)
			SELECT tenant_id, 'sg' || id, id, '%s', '[]', now(), now() FROM users WHERE id LIKE 'su%%'`, client),
		fmt.Sprintf(`INSERT INTO auth_flows (tenant_id, id, client_id, state, device_hash, data, created_at, expires_at)
			SELECT 'default', 'sf' || g, '%[2]s', 'login', '\x00', '{}', now(), now() + interval '1 hour' FROM generate_series(1, %[1]d) g`, n, client),
		fmt.Sprintf(`INSERT INTO events (id, tenant_id, type, subject, data, created_at)
			SELECT 'se' || g, 'default', 't', 'su' || g, '{}', now() - g * interval '1 minute' FROM generate_series(1, %d) g`, n),
	}
	for _, table := range []string{"oauth2_code", "oauth2_access", "oauth2_refresh"} {
		q = append(q, fmt.Sprintf(`INSERT INTO %s (signature, tenant_id, request_id, client_id, subject, requested_at,
			expires_at, scopes, granted_scopes, audience, granted_audience, form_data, session_data, active)
			SELECT md5('%[1]s' || g), 'default', 'sr' || g, '%[3]s', 'su' || (g %% %[2]d + 1), now(), now() + interval '1 hour',
				'["openid"]', '["openid"]', '[]', '[]', 'scope=openid', decode(repeat('ab', 200), 'hex'), true
			FROM generate_series(1, %[2]d) g`, table, n, client))
	}
	return q
}
