package provider

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// TestSessionClone: the clone is equal and shares nothing mutable.
func TestSessionClone(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	s := &Session{DefaultSession: &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{Subject: "u1", Audience: []string{"c1"}, AuthTime: now, AuthenticationMethodsReferences: []string{"pwd"},
			Extra: map[string]any{"sid": "s1", "email": "a@example.com"}},
		Headers:   &jwt.Headers{Extra: map[string]any{AlgHeader: "ES256"}},
		ExpiresAt: map[fosite.TokenType]time.Time{fosite.AccessToken: now},
		Subject:   "u1", Username: "a@example.com",
	}, ClientID: "c1", UserID: "u1", SessionID: "s1", Alg: "ES256", Issuer: "https://id.example.com"}
	c := s.Clone().(*Session)
	a, _ := json.Marshal(s)
	b, _ := json.Marshal(c)
	if string(a) != string(b) {
		t.Fatalf("clone differs:\n%s\n%s", a, b)
	}
	c.Claims.Extra["email"] = "changed"
	c.Claims.Audience[0] = "changed"
	c.Claims.AuthenticationMethodsReferences[0] = "changed"
	c.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	c.Headers.Extra["x"] = 1
	c.Claims.Subject = "changed"
	if s.Claims.Extra["email"] != "a@example.com" || s.Claims.Audience[0] != "c1" || s.Claims.AuthenticationMethodsReferences[0] != "pwd" ||
		!s.GetExpiresAt(fosite.AccessToken).Equal(now) || len(s.Headers.Extra) != 1 || s.Claims.Subject != "u1" {
		t.Fatalf("mutating the clone changed the original: %+v", s.Claims)
	}
	if (&Session{}).Clone() == nil || (*Session)(nil).Clone() != nil {
		t.Fatal("empty session must clone to a session, nil to nil")
	}
}
