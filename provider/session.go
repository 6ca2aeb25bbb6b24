package provider

import (
	"maps"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what gatehouse stores with every code and token. It embeds
// fosite's OIDC session (ID token claims and headers, expiries, subject)
// and adds what fosite's lacks: the client, the account and browser session
// behind a user grant, the RFC 9068 access-token claims and header, and the
// extra claims introspection returns (fosite.ExtraClaimsSession).
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	ClientID               string `json:"client_id"`
	// UserID is empty for client_credentials tokens, whose subject is the
	// client.
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"sid,omitempty"`
	// Alg signs this session's JWTs (ID token and, for jwt clients, access
	// tokens).
	Alg string `json:"alg,omitempty"`
	// Issuer is the tenant's issuer.
	Issuer string `json:"iss"`
}

// newSession returns an empty session for fosite to fill from storage.
func newSession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Extra: map[string]any{}},
		Headers: &jwt.Headers{Extra: map[string]any{}},
	}}
}

// Clone is a deep copy (fosite clones the session of a refresh grant, and
// the clone is then changed). Claim values in Extra are JSON scalars and
// lists that nothing mutates in place, so the maps are copied, not the
// values.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	if s.DefaultSession != nil {
		d := *s.DefaultSession
		if s.Claims != nil {
			claims := *s.Claims
			claims.Audience = slices.Clone(claims.Audience)
			claims.AuthenticationMethodsReferences = slices.Clone(claims.AuthenticationMethodsReferences)
			claims.Extra = maps.Clone(claims.Extra)
			d.Claims = &claims
		}
		if s.Headers != nil {
			d.Headers = &jwt.Headers{Extra: maps.Clone(s.Headers.Extra)}
		}
		d.ExpiresAt = maps.Clone(s.ExpiresAt)
		c.DefaultSession = &d
	}
	return &c
}

// IDTokenHeaders asks the signer for the session's algorithm.
func (s *Session) IDTokenHeaders() *jwt.Headers {
	h := s.DefaultSession.IDTokenHeaders()
	h.Add(AlgHeader, s.alg())
	return h
}

func (s *Session) alg() string {
	if s.Alg == "" {
		return RS256
	}
	return s.Alg
}

// GetJWTClaims returns the RFC 9068 claims of a JWT access token: iss, sub,
// aud, exp, iat, jti, client_id and scope (fosite adds scope, aud and exp).
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	c := accessClaims{&jwt.JWTClaims{
		Subject:  s.Subject,
		Issuer:   s.Issuer,
		IssuedAt: time.Now().UTC(),
		Extra:    map[string]any{"client_id": s.ClientID},
	}}
	if s.UserID != "" && s.Claims != nil && !s.Claims.AuthTime.IsZero() {
		c.Extra["auth_time"] = s.Claims.AuthTime.Unix()
	}
	return c
}

// accessClaims are fosite's JWT claims without an empty scope: fosite
// writes "scope": "" when nothing was granted, and "" is no scope (RFC 6749
// §3.3; RFC 9068 §2.2.3), so the claim is left out, as the token
// response's scope member is.
type accessClaims struct{ *jwt.JWTClaims }

func (c accessClaims) With(expiry time.Time, scope, audience []string) jwt.JWTClaimsContainer {
	return accessClaims{c.JWTClaims.With(expiry, scope, audience).(*jwt.JWTClaims)}
}

func (c accessClaims) WithDefaults(iat time.Time, issuer string) jwt.JWTClaimsContainer {
	return accessClaims{c.JWTClaims.WithDefaults(iat, issuer).(*jwt.JWTClaims)}
}

func (c accessClaims) WithScopeField(f jwt.JWTScopeFieldEnum) jwt.JWTClaimsContainer {
	return accessClaims{c.JWTClaims.WithScopeField(f).(*jwt.JWTClaims)}
}

func (c accessClaims) ToMapClaims() jwt.MapClaims {
	m := c.JWTClaims.ToMapClaims()
	if s, ok := m["scope"].(string); ok && s == "" {
		delete(m, "scope")
	}
	return m
}

// GetJWTHeader is the access-token header: typ at+jwt (RFC 9068 §2.1).
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt", AlgHeader: s.alg()}}
}

// GetExtraClaims is what introspection adds to fosite's standard members.
func (s *Session) GetExtraClaims() map[string]any {
	out := map[string]any{"iss": s.Issuer, "token_type": "Bearer"}
	if s.SessionID != "" {
		out["sid"] = s.SessionID
	}
	return out
}
