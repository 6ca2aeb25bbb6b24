package provider_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"golang.org/x/oauth2"
)

// TestCodeFlow is the whole life of a sign-in through real client
// libraries: authorization code + PKCE with the login form and the consent
// page, a verified ID token, userinfo, refresh, introspection, revocation
// and RP-initiated logout; then a second authorization with no password.
func TestCodeFlow(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request()
		code := e.signIn(b, a)
		if !strings.HasPrefix(code, "gh_ac_") {
			t.Errorf("code %q lacks its prefix", code)
		}

		tok, err := e.rp.exchange(code, a.verifier)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if !strings.HasPrefix(tok.AccessToken, "gh_at_") || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("token response: access %q refresh %q type %q", tok.AccessToken, tok.RefreshToken, tok.TokenType)
		}
		idt, claims := e.rp.verifyIDToken(t, tok)
		if idt.Subject != e.user.ID || idt.Nonce != a.nonce {
			t.Errorf("id_token sub %q nonce %q", idt.Subject, idt.Nonce)
		}
		for _, k := range []string{"auth_time", "sid", "acr", "amr", "azp", "iat", "exp", "at_hash"} {
			if _, ok := claims[k]; !ok {
				t.Errorf("id_token lacks %s: %v", k, claims)
			}
		}
		if claims["email"] != email || claims["email_verified"] != true || claims["name"] != "Test "+email || claims["azp"] != e.client.ID {
			t.Errorf("id_token claims: %v", claims)
		}
		if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
			t.Errorf("amr = %v", claims["amr"])
		}

		// UserInfo, from the live account.
		ui, err := e.rp.provider.UserInfo(e.rp.ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != e.user.ID || ui.Email != email || !ui.EmailVerified {
			t.Fatalf("userinfo = %+v, %v", ui, err)
		}

		// Introspection.
		in := e.introspect(tok.AccessToken)
		if in["active"] != true || in["sub"] != e.user.ID || in["client_id"] != e.client.ID || in["token_type"] != "Bearer" {
			t.Fatalf("introspection = %v", in)
		}
		if !strings.Contains(in["scope"].(string), "openid") {
			t.Errorf("introspection scope = %v", in["scope"])
		}

		// Refresh through x/oauth2: rotated, same sub and auth_time.
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		tok2, err := e.rp.oauth.TokenSource(e.rp.ctx, &expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
			t.Fatal("refresh did not rotate the tokens")
		}
		_, claims2 := e.rp.verifyIDToken(t, tok2)
		if claims2["sub"] != claims["sub"] || claims2["auth_time"] != claims["auth_time"] || claims2["sid"] != claims["sid"] {
			t.Errorf("after refresh: sub %v auth_time %v sid %v; before %v %v %v",
				claims2["sub"], claims2["auth_time"], claims2["sid"], claims["sub"], claims["auth_time"], claims["sid"])
		}
		if _, ok := claims2["nonce"]; ok && claims2["nonce"] != a.nonce {
			t.Errorf("refreshed id_token nonce = %v", claims2["nonce"])
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("the access token issued before the refresh is still active (strict rotation)")
		}

		// A second authorization: session and remembered consent, no pages.
		a2 := e.rp.request()
		res, err := b.Get(a2.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rp.exchange(e.code(res, a2), a2.verifier); err != nil {
			t.Fatalf("second exchange: %v", err)
		}
		// prompt=none works with the session.
		a3 := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a3.url)
		e.code(res, a3)

		// Revocation: 200, and the grant is dead.
		resp, _ := post(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {tok2.RefreshToken}}, e.client.ID, e.secret)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("revoke = %d", resp.StatusCode)
		}
		if e.introspect(tok2.AccessToken)["active"] != false || e.introspect(tok2.RefreshToken)["active"] != false {
			t.Fatal("tokens still active after revoking the refresh token")
		}
		events, _ := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: "token.revoked"})
		if len(events) == 0 || events[0].Subject != e.user.ID {
			t.Errorf("token.revoked events = %+v", events)
		}

		// RP-initiated logout with id_token_hint: straight back, session gone.
		rawID, _ := tok.Extra("id_token").(string)
		lo, err := b.Get(e.in.URL + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {rawID},
			"post_logout_redirect_uri": {logoutURI}, "state": {"bye-state"}}.Encode())
		if err != nil || lo.Redirect == nil || !strings.HasPrefix(lo.Redirect.String(), logoutURI) || lo.Redirect.Query().Get("state") != "bye-state" {
			t.Fatalf("logout = %+v, %v", lo, err)
		}
		a4 := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a4.url)
		if got := e.authError(res, a4); got != "login_required" {
			t.Fatalf("prompt=none after logout: error %q, want login_required", got)
		}
		for _, typ := range []string{"user.registered", "login.succeeded", "consent.granted", "logout.succeeded"} {
			if ev, _ := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: typ}); len(ev) == 0 {
				t.Errorf("no %s event recorded", typ)
			}
		}
	})
}

// TestLoginPage: the login form's fields, wrong credentials re-rendered
// with INVALID_CREDENTIALS (same answer for an unknown account), a missing
// CSRF token refused, the session cookie's attributes.
func TestLoginPage(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request(oauth2.SetAuthURLParam("login_hint", "hint@example.com"))
		res, err := b.Get(a.url)
		if err != nil || res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page = %+v, %v", res, err)
		}
		page := res.Page
		for _, want := range []string{`autocomplete="username"`, `autocomplete="current-password"`, `name="csrf_token"`, `value="hint@example.com"`, "Test App"} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("login page lacks %s", want)
			}
		}
		loginURL := e.in.URL + "/login"
		for _, creds := range [][2]string{{email, "wrong password!"}, {"nobody@example.com", password}} {
			r, _ := b.Post(loginURL, url.Values{"flow": {page.Flow}, "csrf_token": {page.CSRF}, "email": {creds[0]}, "password": {creds[1]}})
			if r.Page == nil || r.Page.Name != "login" || r.Page.ErrorCode != "INVALID_CREDENTIALS" || r.Page.Status != http.StatusUnauthorized {
				t.Fatalf("login as %s = %+v", creds[0], r.Page)
			}
		}
		r, _ := b.Post(loginURL, url.Values{"flow": {page.Flow}, "email": {email}, "password": {password}})
		if r.Page == nil || r.Page.ErrorCode != "INVALID_REQUEST" {
			t.Fatalf("login without CSRF token = %+v", r.Page)
		}
		// Another browser (no device cookie) cannot use this flow.
		other := servertest.NewBrowser(e.in.URL)
		r, _ = other.Post(loginURL, url.Values{"flow": {page.Flow}, "csrf_token": {page.CSRF}, "email": {email}, "password": {password}})
		if r.Page == nil || r.Page.ErrorCode != "INVALID_TOKEN" {
			t.Fatalf("flow from another browser = %+v", r.Page)
		}
		// The real sign-in: a fresh session cookie with the right attributes.
		noFollow := &http.Client{Jar: b.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.PostForm(loginURL, url.Values{"flow": {page.Flow}, "csrf_token": {page.CSRF}, "email": {email}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "gh_session" {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || len(session.Value) < 43 {
			t.Fatalf("session cookie = %+v", session)
		}
		// Signed in, the flow moves on at once: to the consent page here.
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/consent?flow=") {
			t.Errorf("login POST answered %d → %s, want 303 to the consent page", resp.StatusCode, resp.Header.Get("Location"))
		}
		failed, _ := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: "login.failed"})
		if len(failed) != 2 {
			t.Errorf("%d login.failed events, want 2", len(failed))
		}
	})
}

// TestConsent: the consent page lists the scopes; deny gives access_denied;
// allow is remembered per (account, client, scopes) so a later request
// within it needs no page, prompt=none included; a wider request asks
// again; prompt=consent asks again; a first-party client never asks.
func TestConsent(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request()
		res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password, Consent: "deny"})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.authError(res, a); got != "access_denied" {
			t.Fatalf("deny: error %q", got)
		}
		// Narrow request, allowed.
		narrow := *e.rp.oauth
		narrow.Scopes = []string{"openid", "email"}
		r := &rp{oauth: &narrow, provider: e.rp.provider, verifier: e.rp.verifier, ctx: e.rp.ctx}
		a = r.request()
		res, _ = b.Get(a.url)
		if res.Page == nil || res.Page.Name != "consent" {
			t.Fatalf("want the consent page, got %+v", res)
		}
		for _, s := range []string{`data-scope="openid"`, `data-scope="email"`} {
			if !strings.Contains(res.Page.Body, s) {
				t.Errorf("consent page lacks %s", s)
			}
		}
		res, _ = b.Authorize(a.url, servertest.Steps{})
		e.code(res, a)
		// Within the grant: no page, prompt=none too.
		a = r.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		e.code(res, a)
		// Wider: asks again; with prompt=none: consent_required.
		a = e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		if got := e.authError(res, a); got != "consent_required" {
			t.Fatalf("wider scopes with prompt=none: %q", got)
		}
		a = r.request(oauth2.SetAuthURLParam("prompt", "consent"))
		res, _ = b.Get(a.url)
		if res.Page == nil || res.Page.Name != "consent" {
			t.Fatalf("prompt=consent: want the consent page, got %+v", res)
		}

		// First-party: no consent page at all.
		fp, fpSecret := e.in.CreateClient(t, e.in.Ctx(), firstParty())
		fr := e.newRP(fp, fpSecret, e.in.URL)
		a = fr.request()
		res, _ = b.Get(a.url)
		if _, err := fr.exchange(e.code(res, a), a.verifier); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClientCredentials: machine tokens, opaque and RFC 9068 JWT (RS256 and
// ES256); the subject is the client; openid is refused.
func TestClientCredentials(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		for _, tc := range []struct{ format, alg string }{{"opaque", "RS256"}, {"jwt", "RS256"}, {"jwt", "ES256"}} {
			t.Run(tc.format+"-"+tc.alg, func(t *testing.T) {
				c, secret := e.in.CreateClient(t, e.in.Ctx(), machine(tc.format, tc.alg))
				resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, c.ID, secret)
				if resp.StatusCode != 200 || body["token_type"] != "bearer" && body["token_type"] != "Bearer" {
					t.Fatalf("token = %d %v", resp.StatusCode, body)
				}
				at := body["access_token"].(string)
				if _, ok := body["refresh_token"]; ok {
					t.Error("client_credentials issued a refresh token")
				}
				if tc.format == "jwt" {
					hdr, claims := verifyJWT(t, e.in.URL, at)
					if hdr["typ"] != "at+jwt" || hdr["alg"] != tc.alg || hdr["kid"] == "" {
						t.Errorf("JWT header = %v", hdr)
					}
					if claims["sub"] != c.ID || claims["client_id"] != c.ID || claims["scope"] != "api:read" || claims["iss"] != e.in.URL || claims["jti"] == "" {
						t.Errorf("JWT claims = %v", claims)
					}
					if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "https://api.example.com" {
						t.Errorf("JWT aud = %v", claims["aud"])
					}
				} else if !strings.HasPrefix(at, "gh_at_") {
					t.Errorf("opaque token %q", at)
				}
				in := e.introspect(at)
				if in["active"] != true || in["sub"] != c.ID || in["client_id"] != c.ID {
					t.Errorf("introspection = %v", in)
				}
				resp, body = post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, c.ID, secret)
				if resp.StatusCode != 400 || body["error"] != "invalid_scope" {
					t.Errorf("openid with client_credentials = %d %v", resp.StatusCode, body)
				}
			})
		}
	})
}

// TestSuspendedAccount: suspension takes effect on the next use of every
// token: introspection says inactive, userinfo refuses, refresh fails with
// the status code and revokes the family; a new sign-in is refused.
func TestSuspendedAccount(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, storage.StatusSuspended, "abuse", "admin", nil); err != nil {
			t.Fatal(err)
		}
		if got := e.introspect(tok.AccessToken); got["active"] != false || len(got) != 1 {
			t.Errorf("introspection of a suspended account's token = %v", got)
		}
		if _, err := e.rp.provider.UserInfo(e.rp.ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Error("userinfo answered for a suspended account")
		}
		// Suspension deleted the access token (SetUserStatus), so userinfo
		// answers as for any unknown token. (The account check behind it,
		// with the catalog code as error_code, is TestBearerErrorCode.)
		req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r := callUserinfo(t, req); r.status != http.StatusUnauthorized || r.error != "invalid_token" ||
			!strings.Contains(r.www, `error="invalid_token"`) {
			t.Errorf("userinfo of a suspended account = %d %q %v, want 401 invalid_token", r.status, r.www, r.body)
		}
		resp, body := e.refresh(tok.RefreshToken)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != "ACCOUNT_SUSPENDED" {
			t.Errorf("refresh of a suspended account = %d %v", resp.StatusCode, body)
		}
		if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, storage.StatusActive, "", "admin", nil); err != nil {
			t.Fatal(err)
		}
		if resp, _ := e.refresh(tok.RefreshToken); resp.StatusCode == 200 {
			t.Error("the family survived the refused refresh")
		}
		if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, storage.StatusBanned, "", "admin", nil); err != nil {
			t.Fatal(err)
		}
		b := servertest.NewBrowser(e.in.URL)
		res, _ := b.Authorize(e.rp.request().url, servertest.Steps{Email: email, Password: password})
		if res.Page == nil || res.Page.ErrorCode != "ACCOUNT_BANNED" || res.Page.Status != 403 {
			t.Errorf("banned sign-in = %+v", res)
		}
	})
}

// TestConsentRevokedEndsRefresh: a refresh re-checks the grant.
func TestConsentRevokedEndsRefresh(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		if err := e.in.Services().Consent.Revoke(e.in.Ctx(), e.user.ID, e.client.ID); err != nil {
			t.Fatal(err)
		}
		resp, body := e.refresh(tok.RefreshToken)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
			t.Fatalf("refresh after consent revoked = %d %v", resp.StatusCode, body)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("access token survived the revoked consent")
		}
	})
}

func hasAll(list []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(list, w) {
			return false
		}
	}
	return true
}

// TestCodeFlowWithoutOpenID: a plain OAuth 2.0 authorization (no openid
// scope) still binds PKCE and gets tokens, but no ID token; an OpenID
// request right after gets one with its own nonce. (The code's row also
// carries its PKCE and OIDC sessions, so these are the cases where they
// must not be found, or found.)
func TestCodeFlowWithoutOpenID(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request(oauth2.SetAuthURLParam("scope", "profile"))
		code := e.signIn(b, a)
		if _, err := e.rp.exchange(code, ""); err == nil {
			t.Fatal("exchange without the verifier succeeded")
		}
		tok, err := e.rp.exchange(code, a.verifier)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if tok.AccessToken == "" || tok.Extra("id_token") != nil {
			t.Fatalf("access %q, id_token %v: want an access token and no ID token", tok.AccessToken, tok.Extra("id_token"))
		}
		if got := tok.Extra("scope"); got != "profile" {
			t.Errorf("scope = %v", got)
		}

		a = e.rp.request()
		tok, err = e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatalf("openid exchange: %v", err)
		}
		if idt, _ := e.rp.verifyIDToken(t, tok); idt.Nonce != a.nonce {
			t.Errorf("nonce = %q, want %q", idt.Nonce, a.nonce)
		}
	})
}
