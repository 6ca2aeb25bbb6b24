package sqlstore

import (
	"context"

	"github.com/gatehouse/gatehouse/storage"
)

const clientColumns = `id, name, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, response_types,
	scopes, audience, public, token_endpoint_auth_method, token_endpoint_auth_signing_alg, jwks, id_token_alg,
	access_token_format, skip_consent, created_at, updated_at`

func scanClient(r Row, c *storage.Client) error {
	var jwks []byte
	err := r.Scan(&c.ID, &c.Name, &c.SecretHash, listScan{&c.RedirectURIs}, listScan{&c.PostLogoutRedirectURIs},
		listScan{&c.GrantTypes}, listScan{&c.ResponseTypes}, listScan{&c.Scopes}, listScan{&c.Audience}, &c.Public,
		&c.TokenEndpointAuthMethod, &c.TokenEndpointAuthSigningAlg, &jwks, &c.IDTokenAlg, &c.AccessTokenFormat,
		&c.SkipConsent, &c.CreatedAt, &c.UpdatedAt)
	if len(jwks) > 0 {
		c.JWKS = jwks
	}
	return err
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// CreateClient inserts a client; an existing id is ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO clients (tenant_id, `+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		tid, c.ID, c.Name, c.SecretHash, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes),
		list(c.ResponseTypes), list(c.Scopes), list(c.Audience), c.Public, c.TokenEndpointAuthMethod,
		c.TokenEndpointAuthSigningAlg, nullJSON(c.JWKS), c.IDTokenAlg, c.AccessTokenFormat, c.SkipConsent,
		ts(c.CreatedAt), ts(c.UpdatedAt))
	return err
}

// GetClient returns a client of the ctx tenant or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c := storage.Client{}
	tid, err := tenantOf(ctx)
	if err != nil {
		return c, err
	}
	c.TenantID = tid
	err = scanClient(s.queryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE tenant_id = $1 AND id = $2`, tid, id), &c)
	return c, err
}

// ListClients returns the ctx tenant's clients by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	tid, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	var out []storage.Client
	err = s.query(ctx, func(r Rows) error {
		c := storage.Client{TenantID: tid}
		if err := scanClient(r, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}, `SELECT `+clientColumns+` FROM clients WHERE tenant_id = $1 ORDER BY id`, tid)
	return out, err
}

// UpdateClient replaces every setting of an existing client (not created_at).
func (s *Store) UpdateClient(ctx context.Context, c storage.Client) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `UPDATE clients SET name = $3, secret_hash = $4, redirect_uris = $5,
		post_logout_redirect_uris = $6, grant_types = $7, response_types = $8, scopes = $9, audience = $10,
		public = $11, token_endpoint_auth_method = $12, token_endpoint_auth_signing_alg = $13, jwks = $14,
		id_token_alg = $15, access_token_format = $16, skip_consent = $17, updated_at = $18
		WHERE tenant_id = $1 AND id = $2`,
		tid, c.ID, c.Name, c.SecretHash, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes),
		list(c.ResponseTypes), list(c.Scopes), list(c.Audience), c.Public, c.TokenEndpointAuthMethod,
		c.TokenEndpointAuthSigningAlg, nullJSON(c.JWKS), c.IDTokenAlg, c.AccessTokenFormat, c.SkipConsent, ts(c.UpdatedAt))
	if err == nil && n == 0 {
		return notFound("client")
	}
	return err
}

// DeleteClient removes a client and, by cascade, its tokens and grants.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tid, err := tenantOf(ctx)
	if err != nil {
		return err
	}
	n, err := s.exec(ctx, `DELETE FROM clients WHERE tenant_id = $1 AND id = $2`, tid, id)
	if err == nil && n == 0 {
		return notFound("client")
	}
	return err
}
