package provider_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

const (
	redirectURI = "http://127.0.0.1:9999/callback"
	logoutURI   = "http://127.0.0.1:9999/bye"
	email       = "ada@example.com"
	password    = "correct horse battery staple"
)

// env is one running gatehouse with a user and a confidential client, and a
// relying party built from x/oauth2 + go-oidc pointed at the issuer.
type env struct {
	t      *testing.T
	in     *servertest.Instance
	user   storage.User
	client storage.Client
	secret string
	rp     *rp
}

// rp is a relying party: the client's credentials in x/oauth2 and go-oidc.
type rp struct {
	oauth    *oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

type option func(*setup)

type setup struct {
	cfg  func(*config.Config)
	opts servertest.Options
	spec provider.ClientSpec
}

func withClient(f func(*provider.ClientSpec)) option { return func(s *setup) { f(&s.spec) } }
func withConfig(f func(*config.Config)) option       { return func(s *setup) { s.cfg = f } }
func withOptions(o servertest.Options) option        { return func(s *setup) { s.opts = o } }

func newEnv(t *testing.T, backend string, opts ...option) *env {
	t.Helper()
	s := setup{spec: provider.ClientSpec{
		Name: "Test App", RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{logoutURI},
		Scopes: []string{"openid", "profile", "email", "offline_access", "api:read"}, Audience: []string{"https://api.example.com"},
	}}
	for _, o := range opts {
		o(&s)
	}
	cfg := servertest.Config(t, backend)
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	in := servertest.Start(t, cfg, s.opts)
	e := &env{t: t, in: in}
	e.user = in.CreateUser(t, in.Ctx(), email, password)
	e.client, e.secret = in.CreateClient(t, in.Ctx(), s.spec)
	e.rp = e.newRP(e.client, e.secret, in.URL)
	return e
}

func (e *env) newRP(c storage.Client, secret, issuer string) *rp {
	e.t.Helper()
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	style := oauth2.AuthStyleInHeader
	if c.Public || c.TokenEndpointAuthMethod == provider.AuthSecretPost {
		style = oauth2.AuthStyleInParams
	}
	return &rp{
		oauth: &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: c.RedirectURIs[0],
			Endpoint: oauth2.Endpoint{AuthURL: p.Endpoint().AuthURL, TokenURL: p.Endpoint().TokenURL, AuthStyle: style},
			Scopes:   []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}},
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID, SupportedSigningAlgs: []string{"RS256", "ES256"}}),
		ctx:      ctx,
	}
}

// newTenant creates tenant id with its signing keys and returns its context.
func (e *env) newTenant(id string) context.Context {
	e.t.Helper()
	if err := e.in.Store().CreateTenant(e.in.Ctx(), storage.Tenant{ID: id, Name: id}); err != nil {
		e.t.Fatal(err)
	}
	ctx := tenant.With(e.in.Ctx(), id)
	if err := e.in.Services().Provider.Keys.Ensure(ctx); err != nil {
		e.t.Fatal(err)
	}
	return ctx
}

// authRequest is one authorization request of the relying party.
type authRequest struct {
	url, state, nonce, verifier string
}

func (r *rp) request(extra ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{state: "state-" + oauth2.GenerateVerifier()[:16], nonce: "nonce-" + oauth2.GenerateVerifier()[:16], verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	a.url = r.oauth.AuthCodeURL(a.state, opts...)
	return a
}

// signIn runs a full authorization with a new browser and returns the
// browser (holding the session) and the code.
func (e *env) signIn(b *servertest.Browser, a authRequest) string {
	e.t.Helper()
	if b == nil {
		b = servertest.NewBrowser(e.in.URL)
	}
	res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password})
	if err != nil {
		e.t.Fatalf("authorize: %v", err)
	}
	return e.code(res, a)
}

// code checks a successful authorization response (state, iss) and returns
// the code.
func (e *env) code(res servertest.Result, a authRequest) string {
	e.t.Helper()
	if res.Redirect == nil {
		e.t.Fatalf("authorization ended on page %q (%d %s), want a redirect to the client", res.Page.Name, res.Page.Status, res.Page.ErrorCode)
	}
	q := res.Redirect.Query()
	if !strings.HasPrefix(res.Redirect.String(), redirectURI) {
		e.t.Fatalf("redirected to %s", res.Redirect)
	}
	if q.Get("error") != "" {
		e.t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		e.t.Fatalf("state = %q, want %q", q.Get("state"), a.state)
	}
	if q.Get("iss") != e.in.URL {
		e.t.Fatalf("iss = %q, want %q (RFC 9207)", q.Get("iss"), e.in.URL)
	}
	if q.Get("code") == "" {
		e.t.Fatal("no code")
	}
	return q.Get("code")
}

// authError checks an error redirect and returns its error code.
func (e *env) authError(res servertest.Result, a authRequest) string {
	e.t.Helper()
	if res.Redirect == nil {
		e.t.Fatalf("ended on page %q (%d), want an error redirect", res.Page.Name, res.Page.Status)
	}
	q := res.Redirect.Query()
	if q.Get("state") != a.state || q.Get("iss") != e.in.URL {
		e.t.Errorf("error redirect state=%q iss=%q", q.Get("state"), q.Get("iss"))
	}
	return q.Get("error")
}

func (r *rp) exchange(code, verifier string) (*oauth2.Token, error) {
	opts := []oauth2.AuthCodeOption{}
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	return r.oauth.Exchange(r.ctx, code, opts...)
}

// verifyIDToken verifies the token response's id_token.
func (r *rp) verifyIDToken(t *testing.T, tok *oauth2.Token) (*oidc.IDToken, map[string]any) {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in the token response")
	}
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		t.Fatalf("verify id_token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return idt, claims
}

// oauthError extracts error and error_code from an x/oauth2 error.
func oauthError(t *testing.T, err error) (code, errorCode string, status int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if err == nil {
		t.Fatal("want an error, got success")
	}
	if !asRetrieve(err, &re) {
		t.Fatalf("error %v is not a token endpoint error", err)
	}
	var body struct {
		Error string `json:"error"`
		Code  string `json:"error_code"`
	}
	_ = json.Unmarshal(re.Body, &body)
	return body.Error, body.Code, re.Response.StatusCode
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}

// send does req and returns the response (its body read and closed), the
// raw body and the body as a JSON object (nil when it is not one).
func send(t *testing.T, req *http.Request) (*http.Response, []byte, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp, raw, body
}

// post sends a form with optional Basic auth and decodes the JSON answer.
func post(t *testing.T, u string, form url.Values, user, pass string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, _, body := send(t, req)
	return resp, body
}

// introspect asks whether token is active, as the env's client.
func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	resp, body := post(e.t, e.in.URL+"/oauth2/introspect", url.Values{"token": {token}}, e.client.ID, e.secret)
	if resp.StatusCode != 200 {
		e.t.Fatalf("introspect = %d %v", resp.StatusCode, body)
	}
	return body
}

// refresh presents a refresh token directly (no x/oauth2 caching).
func (e *env) refresh(rt string) (*http.Response, map[string]any) {
	e.t.Helper()
	return post(e.t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.client.ID, e.secret)
}

func firstParty() provider.ClientSpec {
	return provider.ClientSpec{Name: "First Party", RedirectURIs: []string{redirectURI}, SkipConsent: true,
		Scopes: []string{"openid", "profile", "email", "offline_access"}}
}

func machine(format, alg string) provider.ClientSpec {
	return provider.ClientSpec{Name: "Machine", GrantTypes: []string{provider.GrantClientCredentials},
		Scopes: []string{"api:read", "api:write"}, Audience: []string{"https://api.example.com"},
		AccessTokenFormat: format, IDTokenAlg: alg}
}

// verifyJWT verifies a JWT against the issuer's JWKS (by kid) and returns
// its header and claims.
func verifyJWT(t *testing.T, issuer, raw string) (map[string]any, map[string]any) {
	t.Helper()
	set := fetchJWKS(t, issuer)
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	h := sig.Signatures[0].Header
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", h.KeyID)
	}
	payload, err := sig.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify JWT: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	header := map[string]any{"alg": h.Algorithm, "kid": h.KeyID}
	for k, v := range h.ExtraHeaders {
		header[string(k)] = v
	}
	return header, claims
}

func fetchJWKS(t *testing.T, issuer string) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// tokens signs in with a new browser and exchanges the code: the tokens of
// a fresh grant.
func (e *env) tokens() *oauth2.Token {
	e.t.Helper()
	a := e.rp.request()
	tok, err := e.rp.exchange(e.signIn(nil, a), a.verifier)
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}
