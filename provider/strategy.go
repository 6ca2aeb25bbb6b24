package provider

import (
	"context"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// Token prefixes make gatehouse's secrets recognisable (secret scanners,
// logs) and keep one kind from being mistaken for another.
const (
	prefixCode    = "gh_ac_"
	prefixAccess  = "gh_at_"
	prefixRefresh = "gh_rt_"
)

// tokenStrategy issues opaque (HMAC) codes and refresh tokens, and access
// tokens that are opaque or, for clients configured so, RFC 9068 JWTs.
// Which strategy validates an access token follows from its shape.
type tokenStrategy struct {
	hmac *oauth2.HMACSHAStrategyUnPrefixed
	jwt  *oauth2.DefaultJWTStrategy
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)

func isJWT(token string) bool {
	return strings.Count(token, ".") == 2 && strings.HasPrefix(token, "ey")
}

func wantsJWT(r fosite.Requester) bool {
	c, ok := r.GetClient().(*client)
	return ok && c.AccessTokenFormat == "jwt"
}

func (s *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return s.jwt.AccessTokenSignature(ctx, token)
	}
	return s.hmac.AccessTokenSignature(ctx, strings.TrimPrefix(token, prefixAccess))
}

func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if wantsJWT(r) {
		return s.jwt.GenerateAccessToken(ctx, r)
	}
	tok, sig, err := s.hmac.GenerateAccessToken(ctx, r)
	return prefixAccess + tok, sig, err
}

func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		return s.jwt.ValidateAccessToken(ctx, r, token)
	}
	if !strings.HasPrefix(token, prefixAccess) {
		return fosite.ErrInvalidTokenFormat
	}
	return s.hmac.ValidateAccessToken(ctx, r, strings.TrimPrefix(token, prefixAccess))
}

func (s *tokenStrategy) RefreshTokenSignature(ctx context.Context, token string) string {
	return s.hmac.RefreshTokenSignature(ctx, strings.TrimPrefix(token, prefixRefresh))
}

func (s *tokenStrategy) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	tok, sig, err := s.hmac.GenerateRefreshToken(ctx, r)
	return prefixRefresh + tok, sig, err
}

func (s *tokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	if !strings.HasPrefix(token, prefixRefresh) {
		return fosite.ErrInvalidTokenFormat
	}
	return s.hmac.ValidateRefreshToken(ctx, r, strings.TrimPrefix(token, prefixRefresh))
}

func (s *tokenStrategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return s.hmac.AuthorizeCodeSignature(ctx, strings.TrimPrefix(token, prefixCode))
}

func (s *tokenStrategy) GenerateAuthorizeCode(ctx context.Context, r fosite.Requester) (string, string, error) {
	tok, sig, err := s.hmac.GenerateAuthorizeCode(ctx, r)
	return prefixCode + tok, sig, err
}

func (s *tokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	if !strings.HasPrefix(token, prefixCode) {
		return fosite.ErrInvalidTokenFormat
	}
	return s.hmac.ValidateAuthorizeCode(ctx, r, strings.TrimPrefix(token, prefixCode))
}
