package provider

import (
	"encoding/json"
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

// Clone is a deep copy (fosite clones the session of a refresh grant).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	raw, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	c := newSession()
	if err := json.Unmarshal(raw, c); err != nil {
		panic(err)
	}
	return c
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
	c := &jwt.JWTClaims{
		Subject:  s.Subject,
		Issuer:   s.Issuer,
		IssuedAt: time.Now().UTC(),
		Extra:    map[string]any{"client_id": s.ClientID},
	}
	if s.UserID != "" && s.Claims != nil && !s.Claims.AuthTime.IsZero() {
		c.Extra["auth_time"] = s.Claims.AuthTime.Unix()
	}
	return c
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
