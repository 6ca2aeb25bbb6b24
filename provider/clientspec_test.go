package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/catalog"
)

// TestClientSpecValidateKeysAndAudience: a JWK set with two keys under one
// kid, or with private key material, is refused whatever the
// authentication method; JWT access tokens need an audience; a standard
// scope written in another case (OPENID, Offline_Access) is refused.
func TestClientSpecValidateKeysAndAudience(t *testing.T) {
	pub := map[string]any{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
		"y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "use": "sig", "kid": "k1", "alg": "ES256"}
	priv := map[string]any{}
	for k, v := range pub {
		priv[k] = v
	}
	priv["d"], priv["kid"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI", "k2"
	set := func(keys ...map[string]any) json.RawMessage {
		raw, _ := json.Marshal(map[string]any{"keys": keys})
		return raw
	}
	base := ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: []string{"openid"}}
	for name, tc := range map[string]struct {
		change func(*ClientSpec)
		field  string
	}{
		"duplicate kid":                      {func(s *ClientSpec) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, set(pub, pub) }, "jwks"},
		"private key, private_key_jwt":       {func(s *ClientSpec) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, set(pub, priv) }, "jwks"},
		"private key, client_secret_basic":   {func(s *ClientSpec) { s.JWKS = set(priv) }, "jwks"},
		"JWT access tokens without audience": {func(s *ClientSpec) { s.AccessTokenFormat = "jwt" }, "audience"},
		"OPENID":                             {func(s *ClientSpec) { s.Scopes = []string{"OPENID"} }, "scope"},
		"Offline_Access":                     {func(s *ClientSpec) { s.Scopes = []string{"openid", "Offline_Access"} }, "scope"},
		"Email":                              {func(s *ClientSpec) { s.Scopes = []string{"openid", "Email"} }, "scope"},
		// OIDC Registration §2: none MUST NOT be used; fosite would never
		// accept an assertion under an algorithm it cannot verify.
		"assertion alg none":  {func(s *ClientSpec) { s.AuthMethod, s.JWKS, s.AuthSigningAlg = AuthPrivateKeyJWT, set(pub), "none" }, "token_endpoint_auth_signing_alg"},
		"assertion alg HS256": {func(s *ClientSpec) { s.AuthMethod, s.JWKS, s.AuthSigningAlg = AuthPrivateKeyJWT, set(pub), "HS256" }, "token_endpoint_auth_signing_alg"},
		"assertion alg es256": {func(s *ClientSpec) { s.AuthMethod, s.JWKS, s.AuthSigningAlg = AuthPrivateKeyJWT, set(pub), "es256" }, "token_endpoint_auth_signing_alg"},
	} {
		spec := base
		tc.change(&spec)
		err := spec.withDefaults().Validate()
		ce, ok := err.(*catalog.Error)
		if !ok || ce.Code != catalog.InvalidRequest.Code || !strings.Contains(ce.Message, tc.field) {
			t.Errorf("%s: %v, want INVALID_REQUEST on %s", name, err, tc.field)
		}
	}
	ok := base
	ok.AuthMethod, ok.JWKS = AuthPrivateKeyJWT, set(pub)
	if err := ok.withDefaults().Validate(); err != nil {
		t.Errorf("a public signing key: %v", err)
	}
	ok.AuthSigningAlg = "ES256"
	if err := ok.withDefaults().Validate(); err != nil {
		t.Errorf("assertions signed with ES256: %v", err)
	}
}
