package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"golang.org/x/oauth2"
)

// TestCodeReplay: a code works once; the second exchange is invalid_grant
// and revokes what the first issued.
func TestCodeReplay(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		a := e.rp.request()
		code := e.signIn(nil, a)
		tok, err := e.rp.exchange(code, a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.rp.exchange(code, a.verifier)
		if code, _, status := oauthError(t, err); code != "invalid_grant" || status != 400 {
			t.Fatalf("replayed code: %s %d", code, status)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("access token issued from a replayed code is still active")
		}
		if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh token issued from a replayed code still works: %d %v", resp.StatusCode, body)
		}
		// The replay is on record (architecture: token.revoked for
		// replayed codes), as it is when the replay loses a race.
		events, err := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: "token.revoked"})
		if err != nil {
			t.Fatal(err)
		}
		recorded := 0
		for _, ev := range events {
			if strings.Contains(string(ev.Data), "authorization code replayed") {
				recorded++
			}
		}
		if recorded != 1 {
			t.Errorf("%d token.revoked events for the replayed code, want 1: %v", recorded, events)
		}
	})
}

// TestConcurrentCodeExchange: of several simultaneous exchanges of one code
// at most one succeeds and none answers 500.
func TestConcurrentCodeExchange(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		a := e.rp.request()
		code := e.signIn(nil, a)
		statuses := parallel(8, func(int) int {
			resp, _ := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {redirectURI}, "code_verifier": {a.verifier}}, e.client.ID, e.secret)
			return resp.StatusCode
		})
		if ok := count(statuses, 200); ok > 1 {
			t.Fatalf("%d exchanges of one code succeeded: %v", ok, statuses)
		}
		for _, s := range statuses {
			if s != 200 && s != 400 {
				t.Fatalf("statuses %v: want only 200 and 400", statuses)
			}
		}
	})
}

// TestConcurrentLoginSubmit: the same login form posted several times at
// once, from one browser, yields one code; the other submissions find the
// flow finished (INVALID_TOKEN page), never a second code or a 500. The flow
// is written once, with the code, so this is where the race is decided.
func TestConcurrentLoginSubmit(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request()) // consent remembered: a sign-in ends with the code
		a := e.rp.request(oauth2.SetAuthURLParam("prompt", "login"))
		res, err := b.Get(a.url)
		if err != nil || res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("prompt=login: %+v, %v", res, err)
		}
		form := url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}}
		if codes := racedSubmissions(t, postAtOnce(b, e.in.URL+"/login", form, 4), gotCode); codes != 1 {
			t.Fatalf("%d codes from one flow, want 1", codes)
		}
	})
}

// TestPKCE: S256 only; a wrong or missing verifier, a verifier without a
// challenge, plain PKCE and a public client without PKCE are all refused.
func TestPKCE(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)

		a := e.rp.request()
		code := e.signIn(b, a)
		_, err := e.rp.exchange(code, oauth2.GenerateVerifier())
		if c, _, _ := oauthError(t, err); c != "invalid_grant" {
			t.Errorf("wrong verifier: %s", c)
		}
		_, err = e.rp.exchange(code, "")
		if c, _, _ := oauthError(t, err); c != "invalid_grant" {
			t.Errorf("missing verifier: %s", c)
		}
		// A wrong verifier does not strip the code of its binding: the right
		// one still works (and nothing weaker ever does).
		if _, err := e.rp.exchange(code, a.verifier); err != nil {
			t.Errorf("right verifier after wrong ones: %v", err)
		}

		// No challenge at authorization, a verifier at the token endpoint:
		// a downgrade, refused.
		state := "state-no-pkce-000"
		res, _ := b.Get(e.rp.oauth.AuthCodeURL(state))
		code = e.code(res, authRequest{state: state})
		_, err = e.rp.exchange(code, oauth2.GenerateVerifier())
		if c, _, _ := oauthError(t, err); c != "invalid_grant" {
			t.Errorf("verifier without challenge: %s", c)
		}

		// plain is not supported.
		state = "state-plain-00000"
		res, _ = b.Get(e.rp.oauth.AuthCodeURL(state, oauth2.SetAuthURLParam("code_challenge", oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")))
		if got := e.authError(res, authRequest{state: state}); got != "invalid_request" {
			t.Errorf("plain PKCE: %q", got)
		}

		// Public clients must use PKCE.
		pub, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "SPA", Public: true, RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "offline_access"}})
		pr := e.newRP(pub, "", e.in.URL)
		pr.oauth.Scopes = []string{"openid", "offline_access"}
		state = "state-public-0000"
		res, _ = b.Get(pr.oauth.AuthCodeURL(state))
		if got := e.authError(res, authRequest{state: state}); got != "invalid_request" {
			t.Errorf("public client without PKCE: %q", got)
		}
		pa := pr.request()
		res, _ = b.Authorize(pa.url, servertest.Steps{})
		tok, err := pr.exchange(e.code(res, pa), pa.verifier)
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("public client with PKCE: %v", err)
		}
	})
}

// TestRedirectURIs: only registered redirect URIs, compared byte for byte
// (a loopback port may vary); anything else is an error page, never a
// redirect. Unknown clients likewise.
func TestRedirectURIs(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		params := func(clientID, redirect string) string {
			return e.in.URL + "/oauth2/auth?" + url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid"},
				"redirect_uri": {redirect}, "state": {"state-123456789"}, "code_challenge": {strings.Repeat("a", 43)},
				"code_challenge_method": {"S256"}}.Encode()
		}
		for _, tc := range []struct{ name, client, redirect string }{
			{"unregistered", e.client.ID, "https://evil.example.com/callback"},
			{"path appended", e.client.ID, redirectURI + "/extra"},
			{"query appended", e.client.ID, redirectURI + "?x=1"},
			{"other loopback name", e.client.ID, "http://localhost:9999/callback"},
			{"case changed", e.client.ID, strings.Replace(redirectURI, "callback", "Callback", 1)},
			{"unknown client", "no-such-client", redirectURI},
		} {
			resp, err := noFollow.Get(params(tc.client, tc.redirect))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %d Location %q", tc.name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		// The loopback port may vary (RFC 8252 §7.3).
		resp, err := noFollow.Get(params(e.client.ID, "http://127.0.0.1:4321/callback"))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `data-page="login"`) {
			t.Errorf("loopback with another port: %d %s, want the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
		// Registration refuses what matching would never accept.
		for _, bad := range []string{"http://app.example.com/cb", "https://app.example.com/cb#frag", "javascript:alert(1)", "/relative"} {
			_, _, err := e.in.Services().Provider.Clients.Create(e.in.Ctx(), provider.ClientSpec{Name: "x", RedirectURIs: []string{bad}})
			if err == nil || !strings.Contains(err.Error(), "redirect_uri") {
				t.Errorf("registered %q: %v", bad, err)
			}
		}
	})
}

// TestClientAuthentication: a wrong secret is 401 invalid_client with
// WWW-Authenticate; unsupported grants and response types are refused.
func TestClientAuthentication(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, e.client.ID, "wrong-secret")
		if resp.StatusCode != 401 || body["error"] != "invalid_client" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("wrong secret: %d %v %q", resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("error Cache-Control %q", resp.Header.Get("Cache-Control"))
		}
		resp, body = post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}, e.client.ID, e.secret)
		if resp.StatusCode != 400 || body["error"] != "unsupported_grant_type" && body["error"] != "invalid_request" {
			t.Errorf("password grant: %d %v", resp.StatusCode, body)
		}
		// This client may not use client_credentials.
		resp, body = post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, e.client.ID, e.secret)
		if resp.StatusCode != 400 || body["error"] != "unauthorized_client" {
			t.Errorf("unregistered grant: %d %v", resp.StatusCode, body)
		}
		// client_secret_post: the secret in the body, through x/oauth2.
		spec := firstParty()
		spec.AuthMethod = provider.AuthSecretPost
		pc, psecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		pr := e.newRP(pc, psecret, e.in.URL)
		pa := pr.request()
		if _, err := pr.exchange(e.signIn(nil, pa), pa.verifier); err != nil {
			t.Errorf("client_secret_post: %v", err)
		}
		// A client_secret_post client may not authenticate with Basic.
		resp, body = post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"gh_rt_x.y"}}, pc.ID, psecret)
		if resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("client_secret_post client with Basic: %d %v", resp.StatusCode, body)
		}
		for _, rt := range []string{"token", "id_token", "code id_token", "code token"} {
			b := servertest.NewBrowser(e.in.URL)
			res, _ := b.Get(e.rp.oauth.AuthCodeURL("state-implicit-1", oauth2.SetAuthURLParam("response_type", rt), oauth2.SetAuthURLParam("nonce", "nonce-12345678")))
			if res.Redirect == nil || res.Redirect.Query().Get("error") != "unsupported_response_type" {
				t.Errorf("response_type=%s: %+v", rt, res)
			}
		}
	})
}

// TestRefreshReuse: a rotated refresh token presented again fails with
// invalid_grant + INVALID_REFRESH_TOKEN and revokes the whole family.
func TestRefreshReuse(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		resp, body := e.refresh(tok.RefreshToken)
		if resp.StatusCode != 200 {
			t.Fatalf("first refresh: %d %v", resp.StatusCode, body)
		}
		newest := body["refresh_token"].(string)
		newAccess := body["access_token"].(string)
		resp, body = e.refresh(tok.RefreshToken)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
			t.Fatalf("reused refresh token: %d %v", resp.StatusCode, body)
		}
		if resp, body := e.refresh(newest); resp.StatusCode != 400 || body["error_code"] != "INVALID_REFRESH_TOKEN" {
			t.Fatalf("newest refresh token after reuse: %d %v (the family must be revoked)", resp.StatusCode, body)
		}
		if e.introspect(newAccess)["active"] != false {
			t.Fatal("newest access token still active after reuse")
		}
		if ev, _ := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: "token.reuse_detected"}); len(ev) == 0 || ev[0].Subject != e.user.ID {
			t.Errorf("reuse events = %+v", ev)
		}
		// Unknown and malformed refresh tokens are the same answer.
		for _, rt := range []string{"gh_rt_unknown.token", "garbage"} {
			if resp, body := e.refresh(rt); resp.StatusCode != 400 || body["error_code"] != "INVALID_REFRESH_TOKEN" && body["error"] != "invalid_request" {
				t.Errorf("refresh %q: %d %v", rt, resp.StatusCode, body)
			}
		}
	})
}

// TestConcurrentRefresh: N simultaneous refreshes of one token: at most one
// wins, the others get invalid_grant, none a 500.
func TestConcurrentRefresh(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		var mu sync.Mutex
		var codes []string
		statuses := parallel(10, func(int) int {
			resp, body := e.refresh(tok.RefreshToken)
			mu.Lock()
			codes = append(codes, fmt.Sprint(body["error"], "/", body["error_code"]))
			mu.Unlock()
			return resp.StatusCode
		})
		if count(statuses, 200) > 1 {
			t.Fatalf("%d concurrent refreshes succeeded: %v", count(statuses, 200), statuses)
		}
		for i, s := range statuses {
			if s != 200 && s != 400 {
				t.Fatalf("statuses %v (%v): want only 200 and 400", statuses, codes)
			}
			_ = i
		}
		for _, c := range codes {
			if c != "<nil>/<nil>" && c != "invalid_grant/INVALID_REFRESH_TOKEN" {
				t.Errorf("loser answered %s, want invalid_grant/INVALID_REFRESH_TOKEN", c)
			}
		}
	})
}

// TestForeignRefreshToken: a refresh token only works for its client, and
// only its client (authenticated) revokes it.
func TestForeignRefreshToken(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		other, otherSecret := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Other", RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "offline_access"}})
		resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, other.ID, otherSecret)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("another client's refresh token: %d %v", resp.StatusCode, body)
		}
		// Revoking another client's token answers 200 and revokes nothing.
		resp, _ = post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, other.ID, otherSecret)
		if resp.StatusCode != 200 {
			t.Fatalf("revoke another client's token: %d", resp.StatusCode)
		}
		// A wrong secret (401 invalid_client) or no credentials (400
		// invalid_request, as at the token endpoint): nothing revoked
		// (RFC 7009 §2.1: the client is authenticated first).
		resp, body = post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, e.client.ID, "not-the-secret")
		if resp.StatusCode != 401 || body["error"] != "invalid_client" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("revoke with a wrong secret: %d %v, want 401 invalid_client", resp.StatusCode, body)
		}
		resp, body = post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, "", "")
		if resp.StatusCode != 400 || body["error"] != "invalid_request" {
			t.Errorf("revoke without credentials: %d %v, want 400 invalid_request", resp.StatusCode, body)
		}
		if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 200 {
			t.Fatalf("token revoked by another client: %d %v", resp.StatusCode, body)
		}
	})
}

// TestPromptNoneWithoutSession: login_required, back to the client.
func TestPromptNoneWithoutSession(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		a := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, err := servertest.NewBrowser(e.in.URL).Get(a.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.authError(res, a); got != "login_required" {
			t.Fatalf("prompt=none without a session: %q", got)
		}
		// prompt=login with a session shows the login page again.
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		res, _ = b.Get(e.rp.request(oauth2.SetAuthURLParam("prompt", "login")).url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("prompt=login with a session: %+v", res)
		}
	})
}

// clock is a server clock tests can move.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time      { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) set(d time.Duration) { c.offset.Store(int64(d)) }

// TestMaxAge: a session older than max_age forces a new sign-in, and the
// new ID token's auth_time is the new one.
func TestMaxAge(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		clk := &clock{}
		clk.set(-2 * time.Hour) // the first sign-in happens two hours ago
		e := newEnv(t, backend, withOptions(servertest.Options{Now: clk.Now}))
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request()
		tok, err := e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		_, first := e.rp.verifyIDToken(t, tok)
		clk.set(0)
		// Within max_age: no login page.
		a = e.rp.request(oauth2.SetAuthURLParam("max_age", "36000"))
		res, _ := b.Get(a.url)
		e.code(res, a)
		// Older than max_age: the login page, then a fresh auth_time.
		a = e.rp.request(oauth2.SetAuthURLParam("max_age", "60"))
		res, _ = b.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("max_age=60 with a 2h-old session: %+v", res)
		}
		tok, err = e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		_, second := e.rp.verifyIDToken(t, tok)
		if second["auth_time"].(float64)-first["auth_time"].(float64) < 7000 {
			t.Fatalf("auth_time %v after re-login, first %v", second["auth_time"], first["auth_time"])
		}
		// max_age with prompt=none and an old session: login_required.
		clk.set(time.Hour)
		a = e.rp.request(oauth2.SetAuthURLParam("max_age", "60"), oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		if got := e.authError(res, a); got != "login_required" {
			t.Fatalf("max_age + prompt=none: %q", got)
		}
	})
}

// faultStore fails token lookups and revocations on demand, as a database
// that went away would.
type faultStore struct {
	storage.Store
	fail atomic.Bool
}

func (f *faultStore) GetToken(ctx context.Context, kind storage.TokenKind, sig string) (storage.Token, error) {
	if f.fail.Load() {
		return storage.Token{}, fmt.Errorf("injected fault: %w", storage.ErrUnavailable)
	}
	return f.Store.GetToken(ctx, kind, sig)
}

func (f *faultStore) GetRefreshWithAccount(ctx context.Context, sig string) (storage.Token, storage.User, storage.Grant, error) {
	if f.fail.Load() {
		return storage.Token{}, storage.User{}, storage.Grant{}, fmt.Errorf("injected fault: %w", storage.ErrUnavailable)
	}
	return f.Store.GetRefreshWithAccount(ctx, sig)
}

func (f *faultStore) DiscardTokens(ctx context.Context, kind storage.TokenKind, requestID string) error {
	if f.fail.Load() {
		return fmt.Errorf("injected fault: %w", storage.ErrUnavailable)
	}
	return f.Store.DiscardTokens(ctx, kind, requestID)
}

func (f *faultStore) RevokeTokens(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	if f.fail.Load() {
		return 0, fmt.Errorf("injected fault: %w", storage.ErrUnavailable)
	}
	return f.Store.RevokeTokens(ctx, kind, requestID)
}

// TestRevocationStorageFailure: revocation answers 503 (never 200) when
// the store fails; so do introspection and the token endpoint.
func TestRevocationStorageFailure(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		var fs *faultStore
		e := newEnv(t, backend, withOptions(servertest.Options{WrapStore: func(s storage.Store) storage.Store {
			fs = &faultStore{Store: s}
			return fs
		}}))
		tok := e.tokens()
		fs.fail.Store(true)
		for _, hint := range []string{"refresh_token", "access_token", ""} {
			resp, body := post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {hint}}, e.client.ID, e.secret)
			if resp.StatusCode != 503 || body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("revoke (hint %q) with the store failing: %d %v", hint, resp.StatusCode, body)
			}
		}
		resp, body := post(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, e.client.ID, e.secret)
		if resp.StatusCode != 503 {
			t.Errorf("introspect with the store failing: %d %v", resp.StatusCode, body)
		}
		resp, body = e.refresh(tok.RefreshToken)
		if resp.StatusCode != 503 {
			t.Errorf("refresh with the store failing: %d %v", resp.StatusCode, body)
		}
		fs.fail.Store(false)
		resp, _ = post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, e.client.ID, e.secret)
		if resp.StatusCode != 200 || e.introspect(tok.AccessToken)["active"] != false {
			t.Errorf("revoke after recovery: %d", resp.StatusCode)
		}
	})
}

// TestDatabaseOutageProtocol takes PostgreSQL away for real (a TCP proxy
// that drops every connection): protocol endpoints fail closed with 503.
func TestDatabaseOutageProtocol(t *testing.T) {
	proxy, dsn := storagetest.NewProxy(t, storagetest.PostgresDSN(t))
	e := newEnv(t, "postgres", withConfig(func(c *config.Config) { c.DSN = dsn }))
	a := e.rp.request()
	tok, err := e.rp.exchange(e.signIn(nil, a), a.verifier)
	if err != nil {
		t.Fatal(err)
	}
	proxy.SetDown(true)
	for name, do := range map[string]func() int{
		"revoke": func() int {
			r, _ := post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok.RefreshToken}}, e.client.ID, e.secret)
			return r.StatusCode
		},
		"introspect": func() int {
			r, _ := post(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, e.client.ID, e.secret)
			return r.StatusCode
		},
		"token": func() int { r, _ := e.refresh(tok.RefreshToken); return r.StatusCode },
		"userinfo": func() int {
			req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			r.Body.Close()
			return r.StatusCode
		},
	} {
		if got := do(); got != http.StatusServiceUnavailable {
			t.Errorf("%s with the database down: %d, want 503", name, got)
		}
	}
	proxy.SetDown(false)
	e.in.WaitReady(t, 30*time.Second)
	if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 200 {
		t.Fatalf("refresh after the database came back: %d %v (nothing accepted before the outage may be lost)", resp.StatusCode, body)
	}
}

func parallel(n int, fn func(i int) int) []int {
	out := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// postAtOnce posts form to url n times at once from one browser.
func postAtOnce(b *servertest.Browser, url string, form url.Values, n int) []servertest.Result {
	results := make([]servertest.Result, n)
	parallel(n, func(i int) int {
		results[i], _ = b.Post(url, form)
		return 0
	})
	return results
}

// gotCode: the answer is the redirect back to the client with a code.
func gotCode(r servertest.Result) bool {
	return r.Redirect != nil && r.Redirect.Query().Get("code") != ""
}

// racedSubmissions counts the results that won; every other one must be an
// INVALID_TOKEN page below 500 (the flow moved on under it).
func racedSubmissions(t *testing.T, results []servertest.Result, won func(servertest.Result) bool) int {
	t.Helper()
	n := 0
	for _, r := range results {
		switch {
		case won(r):
			n++
		case r.Page != nil && r.Page.ErrorCode == "INVALID_TOKEN" && r.Page.Status < 500:
		default:
			t.Errorf("submission ended with %+v", r)
		}
	}
	return n
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// TestDeletedClientTokens: a deleted client's tokens stop working at once
// on this replica (the client cache entry is dropped) — introspection,
// refresh and userinfo.
func TestDeletedClientTokens(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		rs, rsSecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		if err := e.in.Services().Provider.Clients.Delete(e.in.Ctx(), e.client.ID); err != nil {
			t.Fatal(err)
		}
		resp, body := post(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, rs.ID, rsSecret)
		if resp.StatusCode != 200 || body["active"] != false {
			t.Errorf("introspection of a deleted client's token: %d %v", resp.StatusCode, body)
		}
		if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Errorf("refresh by a deleted client: %d %v", resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
			t.Errorf("userinfo with a deleted client's token: %v %v", r.StatusCode, err)
		}
	})
}

// brokenClients fails every client lookup with an error that is neither
// not-found nor an outage (a record that no longer decodes, say).
type brokenClients struct {
	storage.Store
	fail atomic.Bool
}

func (b *brokenClients) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if b.fail.Load() {
		return storage.Client{}, errors.New("injected fault: client record does not decode")
	}
	return b.Store.GetClient(ctx, id)
}

// TestClientLookupFailure: a client lookup that fails for a reason of the
// server's is 500 server_error (INTERNAL), not invalid_client: fosite calls
// every lookup failure a bad client, which would hide the fault at debug
// level behind a 401.
func TestClientLookupFailure(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		var bc *brokenClients
		e := newEnv(t, backend, withOptions(servertest.Options{WrapStore: func(s storage.Store) storage.Store {
			bc = &brokenClients{Store: s}
			return bc
		}}))
		m, secret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		bc.fail.Store(true) // before any use: the client is not in the cache yet
		resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, m.ID, secret)
		if resp.StatusCode != 500 || body["error"] != "server_error" || body["error_code"] != "INTERNAL" {
			t.Fatalf("token with the client lookup failing: %d %v, want 500 server_error INTERNAL", resp.StatusCode, body)
		}
		bc.fail.Store(false)
		if resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, m.ID, secret); resp.StatusCode != 200 {
			t.Fatalf("after the fault: %d %v", resp.StatusCode, body)
		}
	})
}
