package provider

// Micro-benchmarks of the per-request crypto of the token path: client
// authentication, token generation, session sealing, JWT signing and
// verification. Run with
//
//	go test -run '^$' -bench . -benchtime 1s ./provider/
//
// Every benchmark checks its result (before or inside the loop), so a broken
// piece cannot benchmark fast.

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

const (
	benchSecret = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
	benchIssuer = "https://id.example.com"
	benchUserID = "01968a52-7c3e-7d4a-9f51-3b2c1d0e9a87" // a UUIDv7, as accounts have
)

// benchEnv is a Provider built by New over a migrated SQLite store whose
// default tenant has its signing keys (Keys.Ensure), so Keys serves the
// parsed, cached keys as it does between rotations.
type benchEnv struct {
	ctx      context.Context
	ring     *keyring.Keyring
	p        *Provider
	strategy *tokenStrategy
	hasher   fosite.Hasher
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	store, ctx := storagetest.SQLite(b)
	ring, err := keyring.New([]string{benchSecret})
	if err != nil {
		b.Fatal(err)
	}
	p := New(Deps{Store: store, Ring: ring, Log: slog.New(slog.DiscardHandler), Now: time.Now, Issuer: benchIssuer,
		Lifetimes: Lifetimes{AccessToken: time.Hour, RefreshToken: 30 * 24 * time.Hour, AuthorizationCode: 10 * time.Minute, IDToken: time.Hour}})
	// Measure the cached-key path only: no 10-second reload in the middle
	// of a long run.
	p.Keys.CacheTTL = time.Hour
	if err := p.Keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{ctx: ctx, ring: ring, p: p, hasher: p.oauth.Config.GetSecretsHasher(ctx)}
	// The strategy the token endpoint really uses: the one New composed into
	// the authorization-code handler.
	for _, h := range p.oauth.Config.GetTokenEndpointHandlers(ctx) {
		if h, ok := h.(*oauth2.AuthorizeExplicitGrantHandler); ok {
			if cs, ok := h.AccessTokenStrategy.(*compose.CommonStrategy); ok {
				e.strategy, _ = cs.CoreStrategy.(*tokenStrategy)
			}
		}
	}
	if e.strategy == nil {
		b.Fatal("no *tokenStrategy in the authorization-code handler")
	}
	return e
}

// benchSession is the session of a user grant as userSession builds it:
// ID token claims with the profile and email claims, sid, azp, amr, acr.
func benchSession(clientID, alg string) *Session {
	now := time.Now().UTC()
	sid := "01968a52-9b1d-7e20-8c44-5a6b7c8d9e0f"
	claims := &jwt.IDTokenClaims{
		Issuer: benchIssuer, Subject: benchUserID, Audience: []string{clientID},
		AuthTime: now.Add(-time.Minute).Truncate(time.Second), RequestedAt: now.Add(-time.Minute),
		Nonce: "n-0S6_WzA2Mj", AuthenticationMethodsReferences: []string{"pwd"}, AuthenticationContextClassReference: "1",
		Extra: map[string]any{
			"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace", "updated_at": now.Add(-24 * time.Hour).Unix(),
			"email": "ada@example.com", "email_verified": true, "azp": clientID, "sid": sid,
		},
	}
	s := &Session{
		DefaultSession: &openid.DefaultSession{Claims: claims, Headers: &jwt.Headers{Extra: map[string]any{}},
			Subject: benchUserID, Username: "ada@example.com"},
		ClientID: clientID, UserID: benchUserID, SessionID: sid, Alg: alg, Issuer: benchIssuer,
	}
	s.SetExpiresAt(fosite.AuthorizeCode, now.Add(10*time.Minute))
	s.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	s.SetExpiresAt(fosite.RefreshToken, now.Add(30*24*time.Hour))
	return s
}

// benchRequest is a granted authorization-code request of a confidential
// client with the usual scopes and one API audience.
func benchRequest(b *testing.B, format, alg string) *fosite.Request {
	b.Helper()
	c, err := newClient(storage.Client{ID: NewClientID(), Name: "Bench App", GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken},
		ResponseTypes: []string{"code"}, Scopes: []string{"openid", "profile", "email", "offline_access", "api:read"},
		Audience: []string{"https://api.example.com"}, TokenEndpointAuthMethod: AuthSecretBasic, IDTokenAlg: alg, AccessTokenFormat: format})
	if err != nil {
		b.Fatal(err)
	}
	r := fosite.NewRequest()
	r.ID = "01968a52-a0b1-7c2d-8e3f-405162738495"
	r.Client = c
	r.Session = benchSession(c.ID, alg)
	for _, s := range c.Scopes {
		r.AppendRequestedScope(s)
		r.GrantScope(s)
	}
	r.AppendRequestedAudience("https://api.example.com")
	r.GrantAudience("https://api.example.com")
	return r
}

// BenchmarkClientSecret is the client_secret_basic/post check of every
// confidential token, introspection and revocation request: fosite's
// Hasher.Compare as New configures it (keyed HMAC-SHA256), against bcrypt,
// fosite's default, at cost 10 and 12 for the same 256-bit secret.
func BenchmarkClientSecret(b *testing.B) {
	e := newBenchEnv(b)
	secret := []byte(NewClientSecret())
	wrong := []byte(NewClientSecret())
	hash, err := e.hasher.Hash(e.ctx, secret)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hmac/correct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := e.hasher.Compare(e.ctx, hash, secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hmac/wrong", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := e.hasher.Compare(e.ctx, hash, wrong); err == nil {
				b.Fatal("wrong secret accepted")
			}
		}
	})
	for _, cost := range []int{10, 12} {
		bh, err := bcrypt.GenerateFromPassword(secret, cost)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("bcrypt"+strconv.Itoa(cost)+"/correct", func(b *testing.B) {
			if bcrypt.CompareHashAndPassword(bh, wrong) == nil {
				b.Fatal("bcrypt accepted a wrong secret")
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := bcrypt.CompareHashAndPassword(bh, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTokenGenerate is one token of each kind from the strategy New
// composes: opaque HMAC-SHA512/256 codes, refresh and access tokens, and an
// RFC 9068 JWT access token (DefaultJWTStrategy over the Signer, RS256).
func BenchmarkTokenGenerate(b *testing.B) {
	e := newBenchEnv(b)
	opaque := benchRequest(b, "opaque", RS256)
	type gen func(context.Context, fosite.Requester) (string, string, error)
	type check func(context.Context, fosite.Requester, string) error
	for _, tc := range []struct {
		name, prefix string
		r            *fosite.Request
		gen          gen
		validate     check
		signature    func(context.Context, string) string
	}{
		{"access", prefixAccess, opaque, e.strategy.GenerateAccessToken, e.strategy.ValidateAccessToken, e.strategy.AccessTokenSignature},
		{"refresh", prefixRefresh, opaque, e.strategy.GenerateRefreshToken, e.strategy.ValidateRefreshToken, e.strategy.RefreshTokenSignature},
		{"code", prefixCode, opaque, e.strategy.GenerateAuthorizeCode, e.strategy.ValidateAuthorizeCode, e.strategy.AuthorizeCodeSignature},
		{"access-jwt-rs256", "ey", benchRequest(b, "jwt", RS256), e.strategy.GenerateAccessToken, e.strategy.ValidateAccessToken, e.strategy.AccessTokenSignature},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tok, sig, err := tc.gen(e.ctx, tc.r)
			if err != nil || !strings.HasPrefix(tok, tc.prefix) || sig == "" || tc.signature(e.ctx, tok) != sig {
				b.Fatalf("generate = %q, %q, %v", tok, sig, err)
			}
			if err := tc.validate(e.ctx, tc.r, tok); err != nil {
				b.Fatalf("validate own token: %v", err)
			}
			if tc.name == "access-jwt-rs256" {
				t, err := e.p.signer.Decode(e.ctx, tok)
				if err != nil || t.Header["typ"] != "at+jwt" || t.Claims["client_id"] != tc.r.Client.GetID() || t.Claims["sub"] != benchUserID {
					b.Fatalf("JWT access token: %v %v %v", err, t.Header, t.Claims)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				tok, sig, err := tc.gen(e.ctx, tc.r)
				if err != nil || len(tok) < 40 || sig == "" {
					b.Fatalf("generate = %q, %q, %v", tok, sig, err)
				}
			}
		})
	}
}

// BenchmarkAccessTokenSignature is the lookup key of a presented opaque
// access token (introspection, userinfo, revocation): prefix strip and the
// signature part, before the storage adapter SHA-256-hashes it.
func BenchmarkAccessTokenSignature(b *testing.B) {
	e := newBenchEnv(b)
	tok, sig, err := e.strategy.GenerateAccessToken(e.ctx, benchRequest(b, "opaque", RS256))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := e.strategy.AccessTokenSignature(e.ctx, tok); got != sig {
			b.Fatalf("signature = %q, want %q", got, sig)
		}
	}
}

// BenchmarkSessionSeal is what the storage adapter does with the session of
// every code and token it writes: JSON, then AES-256-GCM bound to the row.
func BenchmarkSessionSeal(b *testing.B) {
	e := newBenchEnv(b)
	sess := benchSession(NewClientID(), RS256)
	key := hashSignature("bench-signature")
	raw, err := json.Marshal(sess)
	if err != nil {
		b.Fatal(err)
	}
	if pt, err := e.ring.Open(e.ring.Seal(raw, sealAAD(storage.TokenAccess, key)), sealAAD(storage.TokenAccess, key)); err != nil || string(pt) != string(raw) {
		b.Fatalf("seal/open round trip: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		raw, err := json.Marshal(sess)
		if err != nil {
			b.Fatal(err)
		}
		if sealed := e.ring.Seal(raw, sealAAD(storage.TokenAccess, key)); len(sealed) != len(raw)+1+4+12+16 {
			b.Fatalf("sealed %d bytes for %d", len(sealed), len(raw))
		}
	}
	b.ReportMetric(float64(len(raw)), "json-bytes") // after the loop: b.Loop's reset drops earlier metrics
}

// BenchmarkSessionOpen is the reverse, on every code, token and refresh
// lookup: AES-GCM open, then JSON into a fresh session.
func BenchmarkSessionOpen(b *testing.B) {
	e := newBenchEnv(b)
	key := hashSignature("bench-signature")
	raw, err := json.Marshal(benchSession(NewClientID(), RS256))
	if err != nil {
		b.Fatal(err)
	}
	sealed := e.ring.Seal(raw, sealAAD(storage.TokenAccess, key))
	b.ReportAllocs()
	for b.Loop() {
		pt, err := e.ring.Open(sealed, sealAAD(storage.TokenAccess, key))
		if err != nil {
			b.Fatal(err)
		}
		s := newSession()
		if err := json.Unmarshal(pt, s); err != nil {
			b.Fatal(err)
		}
		if s.Claims.Subject != benchUserID || s.Claims.Extra["email"] != "ada@example.com" || s.GetExpiresAt(fosite.AccessToken).IsZero() {
			b.Fatalf("opened session: %+v", s.Claims)
		}
	}
}

// benchIDToken returns the claims and header openid.DefaultStrategy hands
// the Signer for an ID token at the token endpoint.
func benchIDToken(alg string) (jwt.MapClaims, *jwt.Headers) {
	s := benchSession(NewClientID(), alg)
	c := s.IDTokenClaims()
	now := time.Now().UTC()
	c.IssuedAt, c.ExpiresAt = now, now.Add(time.Hour)
	c.AccessTokenHash = "77QmUPtjPfzWtF2AnpK9RQ"
	return c.ToMapClaims(), s.IDTokenHeaders()
}

// BenchmarkSignerGenerate signs an ID token with the tenant's active key
// of the algorithm (RSA-2048 PKCS#1 v1.5 or ECDSA P-256).
func BenchmarkSignerGenerate(b *testing.B) {
	e := newBenchEnv(b)
	for _, alg := range Algs {
		b.Run(alg, func(b *testing.B) {
			claims, header := benchIDToken(alg)
			kid, err := e.p.Keys.ActiveKID(e.ctx, alg)
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := e.p.signer.Generate(e.ctx, claims, header)
			if err != nil {
				b.Fatal(err)
			}
			t, err := e.p.signer.Decode(e.ctx, tok)
			if err != nil || t.Header["kid"] != kid || string(t.Method) != alg || t.Claims["sub"] != benchUserID {
				b.Fatalf("decode own token: %v (kid %v alg %v)", err, t.Header["kid"], t.Method)
			}
			b.ReportAllocs()
			for b.Loop() {
				tok, sig, err := e.p.signer.Generate(e.ctx, claims, header)
				if err != nil || sig == "" || !strings.HasSuffix(tok, sig) {
					b.Fatalf("generate: %v", err)
				}
			}
			b.ReportMetric(float64(len(tok)), "token-bytes")
		})
	}
}

// BenchmarkSignerDecode verifies an ID token by its kid (id_token_hint, JWT
// access tokens at introspection and userinfo) and checks its claims.
func BenchmarkSignerDecode(b *testing.B) {
	e := newBenchEnv(b)
	for _, alg := range Algs {
		b.Run(alg, func(b *testing.B) {
			claims, header := benchIDToken(alg)
			tok, _, err := e.p.signer.Generate(e.ctx, claims, header)
			if err != nil {
				b.Fatal(err)
			}
			i, c := len(tok)-10, "A" // one character inside the signature
			if tok[i] == 'A' {
				c = "B"
			}
			tampered := tok[:i] + c + tok[i+1:]
			if _, err := e.p.signer.Decode(e.ctx, tampered); err == nil {
				b.Fatal("tampered token verified")
			}
			b.ReportAllocs()
			for b.Loop() {
				t, err := e.p.signer.Decode(e.ctx, tok)
				if err != nil || !t.Valid() || string(t.Method) != alg || t.Claims["sub"] != benchUserID {
					b.Fatalf("decode: %v", err)
				}
			}
		})
	}
}
