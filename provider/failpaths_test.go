package provider_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"golang.org/x/oauth2"
)

const otherEmail = "bob@example.com"

// errorPage checks that an authorization or logout request ended on
// gatehouse's error page at path, with code and status, and was never
// redirected anywhere (not to the client, not to a sign-in page).
func errorPage(t *testing.T, name string, res servertest.Result, path, code string, status int) {
	t.Helper()
	switch {
	case res.Redirect != nil:
		t.Errorf("%s: redirected to %s, want the %s error page", name, res.Redirect, code)
	case res.Page == nil:
		t.Errorf("%s: no page", name)
	case res.Page.Name != "error" || res.Page.ErrorCode != code || res.Page.Status != status || res.Page.URL.Path != path:
		t.Errorf("%s: page %q at %s, %d %s; want the error page at %s, %d %s",
			name, res.Page.Name, res.Page.URL.Path, res.Page.Status, res.Page.ErrorCode, path, status, code)
	}
}

// clientError checks an authorization error sent back to the client: a
// redirect to target with error, state and iss (RFC 9207) and no code; it
// returns the error.
func (e *env) clientError(name string, res servertest.Result, a authRequest, target string) string {
	e.t.Helper()
	if res.Redirect == nil {
		if res.Page != nil {
			e.t.Errorf("%s: ended on page %q (%d %s), want an error redirect to the client", name, res.Page.Name, res.Page.Status, res.Page.ErrorCode)
		} else {
			e.t.Errorf("%s: no redirect", name)
		}
		return ""
	}
	q := res.Redirect.Query()
	u := *res.Redirect
	u.RawQuery = ""
	if u.String() != target {
		e.t.Errorf("%s: redirected to %s, want %s", name, res.Redirect, target)
	}
	if q.Get("state") != a.state || q.Get("iss") != e.in.URL || q.Get("code") != "" {
		e.t.Errorf("%s: error redirect state=%q iss=%q code=%q; want state %q, iss %q, no code", name, q.Get("state"), q.Get("iss"), q.Get("code"), a.state, e.in.URL)
	}
	return q.Get("error")
}

// idTokenOf signs in who with a new browser through rp and returns the
// browser and the raw ID token of the exchanged code.
func (e *env) idTokenOf(r *rp, who string) (*servertest.Browser, string) {
	e.t.Helper()
	b := servertest.NewBrowser(e.in.URL)
	a := r.request()
	res, err := b.Authorize(a.url, servertest.Steps{Email: who, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Redirect == nil || res.Redirect.Query().Get("code") == "" {
		e.t.Fatalf("sign-in of %s ended with %+v", who, res)
	}
	tok, err := r.exchange(res.Redirect.Query().Get("code"), a.verifier)
	if err != nil {
		e.t.Fatalf("exchange for %s: %v", who, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		e.t.Fatal("no id_token")
	}
	return b, raw
}

// signedIn reports whether the browser's session still signs in a user
// (prompt=none gives a code).
func (e *env) signedIn(b *servertest.Browser) bool {
	e.t.Helper()
	a := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
	res, err := b.Get(a.url)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Redirect == nil {
		return false
	}
	// A browser signed in for another client may still owe e.rp consent.
	q := res.Redirect.Query()
	return q.Get("code") != "" || q.Get("error") == "consent_required"
}

// TestAuthorizeInvalidParameters: an authorization request with a bad
// prompt, max_age, PKCE challenge or id_token_hint, for a known client and
// its registered redirect URI, goes straight back to the client with
// invalid_request, state and iss — before any sign-in page is shown.
func TestAuthorizeInvalidParameters(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		_, idToken := e.idTokenOf(e.rp, email)
		kid := kidOf(t, idToken)
		param := oauth2.SetAuthURLParam
		for _, tc := range []struct {
			name string
			opts []oauth2.AuthCodeOption
		}{
			{"unknown prompt value", []oauth2.AuthCodeOption{param("prompt", "select_account")}},
			{"unknown prompt value among known ones", []oauth2.AuthCodeOption{param("prompt", "login consent create")}},
			{"prompt none with login", []oauth2.AuthCodeOption{param("prompt", "none login")}},
			{"prompt none with consent", []oauth2.AuthCodeOption{param("prompt", "consent none")}},
			{"non-numeric max_age", []oauth2.AuthCodeOption{param("max_age", "ten")}},
			{"negative max_age", []oauth2.AuthCodeOption{param("max_age", "-1")}},
			{"fractional max_age", []oauth2.AuthCodeOption{param("max_age", "1.5")}},
			{"max_age beyond int64", []oauth2.AuthCodeOption{param("max_age", "99999999999999999999")}},
			{"code_challenge too short", []oauth2.AuthCodeOption{param("code_challenge", strings.Repeat("a", 42))}},
			{"code_challenge too long", []oauth2.AuthCodeOption{param("code_challenge", strings.Repeat("a", 129))}},
			{"code_challenge_method without challenge", []oauth2.AuthCodeOption{param("code_challenge", "")}},
			{"code_challenge without method (plain)", []oauth2.AuthCodeOption{param("code_challenge_method", "")}},
			{"unknown code_challenge_method", []oauth2.AuthCodeOption{param("code_challenge_method", "S512")}},
			{"id_token_hint not a JWT", []oauth2.AuthCodeOption{param("id_token_hint", "not-a-jwt")}},
			{"id_token_hint with a forged signature", []oauth2.AuthCodeOption{param("id_token_hint", idToken[:len(idToken)-4]+"AAAA")}},
			{"id_token_hint with alg none", []oauth2.AuthCodeOption{param("id_token_hint", noneToken(e.in.URL, e.user.ID, e.client.ID))}},
			{"id_token_hint HS256 keyed with the public key", []oauth2.AuthCodeOption{param("id_token_hint", hmacWithPublicKey(t, e.in.URL, kid, e.user.ID, e.client.ID))}},
			{"id_token_hint with an unknown kid", []oauth2.AuthCodeOption{param("id_token_hint", withKID(t, idToken, "no-such-kid"))}},
		} {
			a := e.rp.request(tc.opts...)
			res, err := servertest.NewBrowser(e.in.URL).Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.clientError(tc.name, res, a, redirectURI); got != "invalid_request" {
				t.Errorf("%s: error %q, want invalid_request", tc.name, got)
			}
		}
	})
}

// TestAuthorizeMalformedPKCEChallenge: an S256 code_challenge is the
// unpadded base64url of a SHA-256 hash, 43 characters of [A-Za-z0-9_-]. A
// challenge outside that alphabet (standard base64 with + and /, or padded
// with =) can never match any verifier: it must be refused with
// invalid_request at once, like a challenge of the wrong length, instead of
// sending the user through sign-in for a code that cannot be redeemed.
func TestAuthorizeMalformedPKCEChallenge(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		for name, challenge := range map[string]string{
			"standard base64 alphabet":     strings.Repeat("ab+/", 10) + "abc",
			"padded":                       strings.Repeat("a", 43) + "=",
			"characters outside base64url": strings.Repeat("a", 40) + "!*~",
			"verifier-length challenge":    strings.Repeat("a", 128),
		} {
			a := e.rp.request(oauth2.SetAuthURLParam("code_challenge", challenge))
			res, err := servertest.NewBrowser(e.in.URL).Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.clientError(name, res, a, redirectURI); got != "invalid_request" {
				t.Errorf("%s code_challenge %q: error %q, want invalid_request", name, challenge, got)
			}
		}
	})
}

// TestAuthorizeWithoutRedirectURI: redirect_uri is required. When it is
// missing and the client has several registered URIs (or the request is an
// OpenID one, which fosite checks first) there is no URI to trust: an
// INVALID_REQUEST error page, never a redirect. A plain OAuth request of a
// client with a single registered URI goes back to that URI with
// invalid_request, state and iss.
func TestAuthorizeWithoutRedirectURI(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		several, severalSecret := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Several",
			RedirectURIs: []string{redirectURI, "http://127.0.0.1:9999/other"}, Scopes: []string{"openid", "profile"}})
		without := func(r *rp, scope string) authRequest {
			o := *r.oauth
			o.RedirectURL, o.Scopes = "", []string{scope}
			rr := *r
			rr.oauth = &o
			a := rr.request()
			if strings.Contains(a.url, "redirect_uri") {
				t.Fatalf("request has a redirect_uri: %s", a.url)
			}
			return a
		}
		sr := e.newRP(several, severalSecret, e.in.URL)
		for name, a := range map[string]authRequest{
			"several URIs, openid":         without(sr, "openid"),
			"several URIs, plain OAuth":    without(sr, "profile"),
			"one URI, openid":              without(e.rp, "openid"),
			"one URI, openid, signed in":   without(e.rp, "openid"),
			"several URIs, plain, session": without(sr, "profile"),
		} {
			b := servertest.NewBrowser(e.in.URL)
			if strings.Contains(name, "signed in") || strings.Contains(name, "session") {
				e.signIn(b, e.rp.request())
			}
			res, err := b.Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			errorPage(t, name, res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		}
		a := without(e.rp, "profile")
		res, err := servertest.NewBrowser(e.in.URL).Get(a.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.clientError("one URI, plain OAuth", res, a, redirectURI); got != "invalid_request" {
			t.Errorf("one URI, plain OAuth, no redirect_uri: error %q, want invalid_request", got)
		}
	})
}

// TestAuthorizeHintForAnotherUser: an id_token_hint naming someone other
// than the signed-in user is never answered with the session's user. With
// prompt=none it is login_required; without, the login page is shown, and
// signing in there as the session's user (not the hinted one) still ends
// in login_required; signing in as the hinted user gives a code for them.
// A hint for the session's own user passes (the control).
func TestAuthorizeHintForAnotherUser(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		bob := e.in.CreateUser(t, e.in.Ctx(), otherEmail, password)
		b, adaHint := e.idTokenOf(e.rp, email)
		_, bobHint := e.idTokenOf(e.rp, otherEmail)

		a := e.rp.request(oauth2.SetAuthURLParam("id_token_hint", adaHint), oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := b.Get(a.url)
		e.code(res, a)

		a = e.rp.request(oauth2.SetAuthURLParam("id_token_hint", bobHint), oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		if got := e.clientError("prompt=none, hint for another user", res, a, redirectURI); got != "login_required" {
			t.Errorf("prompt=none with a hint for another user: %q, want login_required", got)
		}

		a = e.rp.request(oauth2.SetAuthURLParam("id_token_hint", bobHint))
		res, _ = b.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("hint for another user: %+v, want the login page", res)
		}
		res, _ = b.Post(e.in.URL+"/login", url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}})
		if got := e.clientError("signed in as someone other than the hint", res, a, redirectURI); got != "login_required" {
			t.Errorf("signed in as someone other than the hint: %q, want login_required", got)
		}

		a = e.rp.request(oauth2.SetAuthURLParam("id_token_hint", bobHint))
		res, err := b.Authorize(a.url, servertest.Steps{Email: otherEmail, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.rp.exchange(e.code(res, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		if idt, _ := e.rp.verifyIDToken(t, tok); idt.Subject != bob.ID {
			t.Errorf("signed in as the hinted user: sub %q, want %q", idt.Subject, bob.ID)
		}
	})
}

// TestAuthorizeHintFromAnotherIssuer: an ID token of another tenant (its own
// issuer and keys) is no id_token_hint here: invalid_request, back to the
// client with state and iss.
func TestAuthorizeHintFromAnotherIssuer(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.newTenant("acme")
		e.in.CreateUser(t, acme, email, password)
		ac, asecret := e.in.CreateClient(t, acme, firstParty())
		_, acmeHint := e.idTokenOf(e.newRP(ac, asecret, e.in.URL+"/t/acme"), email)

		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		for _, prompt := range []string{"", "none"} {
			a := e.rp.request(oauth2.SetAuthURLParam("id_token_hint", acmeHint), oauth2.SetAuthURLParam("prompt", prompt))
			res, _ := b.Get(a.url)
			if got := e.clientError("acme hint, prompt="+prompt, res, a, redirectURI); got != "invalid_request" {
				t.Errorf("another tenant's ID token as hint (prompt=%q): %q, want invalid_request", prompt, got)
			}
		}
	})
}

// TestAccessTokenIsNoIDTokenHint: an RFC 9068 JWT access token is signed
// with the same keys as ID tokens but is not one (typ at+jwt, aud = the
// resource servers): as id_token_hint it is refused — at authorization
// (invalid_request) and at logout (INVALID_TOKEN error page, the session
// kept), so whoever holds a user's access token (a resource server) cannot
// sign the user out without the confirmation page (RFC 8725 §2.8, §3.11).
func TestAccessTokenIsNoIDTokenHint(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		spec := firstParty()
		spec.AccessTokenFormat = "jwt"
		spec.Audience = []string{"https://api.example.com"}
		spec.PostLogoutRedirectURIs = []string{logoutURI}
		jc, jsecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		jr := e.newRP(jc, jsecret, e.in.URL)
		b := servertest.NewBrowser(e.in.URL)
		a := jr.request()
		res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jr.exchange(e.code(res, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		at := tok.AccessToken
		if hdr, claims := verifyJWT(t, e.in.URL, at); hdr["typ"] != "at+jwt" || claims["sub"] != e.user.ID {
			t.Fatalf("JWT access token header %v claims %v", hdr, claims)
		}

		a = jr.request(oauth2.SetAuthURLParam("id_token_hint", at), oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		if got := e.clientError("access token as id_token_hint", res, a, redirectURI); got != "invalid_request" {
			t.Errorf("access token as id_token_hint at authorization: %q, want invalid_request", got)
		}

		res, err = b.Get(e.in.URL + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {at}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		errorPage(t, "access token as id_token_hint at logout", res, "/oauth2/sessions/logout", "INVALID_TOKEN", http.StatusBadRequest)
		if !e.signedIn(b) {
			t.Error("an access token used as id_token_hint signed the user out without confirmation")
		}
	})
}

// TestAuthorizeLargeMaxAge: max_age is any non-negative number of seconds
// (OIDC Core §3.1.2.1). A session seconds old is within
// max_age=10000000000 (~317 years): prompt=none gets a code, not
// login_required, and without prompt=none the sign-in (if a login page is
// shown at all) ends with a code. In nanoseconds such a value overflows
// int64 (time.Duration), which must not turn it into "already too old".
func TestAuthorizeLargeMaxAge(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		for _, maxAge := range []string{"3000000000", "10000000000"} {
			a := e.rp.request(oauth2.SetAuthURLParam("max_age", maxAge), oauth2.SetAuthURLParam("prompt", "none"))
			res, _ := b.Get(a.url)
			if res.Redirect == nil || res.Redirect.Query().Get("code") == "" {
				t.Errorf("max_age=%s, prompt=none, session seconds old: %v, want a code", maxAge, res.Redirect)
			} else {
				e.code(res, a)
			}
			a = e.rp.request(oauth2.SetAuthURLParam("max_age", maxAge))
			res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password})
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect == nil || res.Redirect.Query().Get("code") == "" {
				t.Errorf("max_age=%s, signing in again if asked: %+v, want a code", maxAge, res)
			}
		}
	})
}

// TestCodeExchangeAfterAccountStatusChange: an account suspended, banned,
// locked or deactivated between the authorization response and the code
// exchange gets no tokens: 400 invalid_grant with the status's catalog code
// as error_code, no-store, and the code is spent. A suspension whose end has passed is no
// suspension: that code is exchanged.
func TestCodeExchangeAfterAccountStatusChange(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.tokens() // consent remembered: the next sign-ins need no consent page
		future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
		setStatus := func(status string, until *time.Time) {
			t.Helper()
			if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, status, "test", "admin", until); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			status string
			until  *time.Time
			code   string
		}{
			{storage.StatusSuspended, nil, "ACCOUNT_SUSPENDED"},
			{storage.StatusSuspended, &future, "ACCOUNT_SUSPENDED"},
			{storage.StatusBanned, nil, "ACCOUNT_BANNED"},
			{storage.StatusLocked, &future, "ACCOUNT_LOCKED"},
			{storage.StatusInactive, nil, "ACCOUNT_INACTIVE"},
		} {
			name := tc.status
			if tc.until != nil {
				name += " until later"
			}
			a := e.rp.request()
			code := e.signIn(nil, a)
			setStatus(tc.status, tc.until)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {a.verifier}}
			req, _ := http.NewRequest(http.MethodPost, e.in.URL+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.client.ID, e.secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != tc.code || body["access_token"] != nil {
				t.Errorf("%s: exchange = %d %v, want 400 invalid_grant %s", name, resp.StatusCode, body, tc.code)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("%s: Cache-Control %q Content-Type %q", name, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
			}
			setStatus(storage.StatusActive, nil)
			// The refused code is spent: reactivating the account within
			// its lifetime does not make it redeemable.
			if _, err := e.rp.exchange(code, a.verifier); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Errorf("%s: refused code exchanged again after reactivation: %v, want invalid_grant", name, err)
			}
		}

		a := e.rp.request()
		code := e.signIn(nil, a)
		setStatus(storage.StatusSuspended, &past)
		if _, err := e.rp.exchange(code, a.verifier); err != nil {
			t.Errorf("suspension that has ended: %v", err)
		}
	})
}

// TestRefreshAfterAccountStatusChange: TestSuspendedAccount for the other
// statuses: a refresh for a banned, locked or deactivated account fails
// with invalid_grant and the status's code, and the family stays revoked
// once the account is active again (INVALID_REFRESH_TOKEN). A suspension or
// lock whose end has passed does not stop a refresh.
func TestRefreshAfterAccountStatusChange(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
		setStatus := func(status string, until *time.Time) {
			t.Helper()
			if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, status, "test", "admin", until); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			status string
			until  *time.Time
			code   string
		}{
			{storage.StatusBanned, nil, "ACCOUNT_BANNED"},
			{storage.StatusLocked, &future, "ACCOUNT_LOCKED"},
			{storage.StatusSuspended, &future, "ACCOUNT_SUSPENDED"},
			{storage.StatusInactive, nil, "ACCOUNT_INACTIVE"},
		} {
			tok := e.tokens()
			setStatus(tc.status, tc.until)
			resp, body := e.refresh(tok.RefreshToken)
			if resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != tc.code {
				t.Errorf("%s: refresh = %d %v, want 400 invalid_grant %s", tc.status, resp.StatusCode, body, tc.code)
			}
			if e.introspect(tok.AccessToken)["active"] != false {
				t.Errorf("%s: access token still active", tc.status)
			}
			setStatus(storage.StatusActive, nil)
			if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 400 || body["error_code"] != "INVALID_REFRESH_TOKEN" {
				t.Errorf("%s: refresh after reactivation = %d %v, want the family revoked (INVALID_REFRESH_TOKEN)", tc.status, resp.StatusCode, body)
			}
		}
		for _, status := range []string{storage.StatusSuspended, storage.StatusLocked} {
			tok := e.tokens()
			setStatus(status, &past)
			if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 200 {
				t.Errorf("%s that has ended: refresh = %d %v", status, resp.StatusCode, body)
			}
			setStatus(storage.StatusActive, nil)
		}
	})
}

// bearerResponse is a userinfo answer.
type bearerResponse struct {
	status       int
	www, cache   string
	error, scope string
	body         map[string]any
}

func callUserinfo(t *testing.T, req *http.Request) bearerResponse {
	t.Helper()
	resp, _, body := send(t, req)
	r := bearerResponse{status: resp.StatusCode, www: resp.Header.Get("WWW-Authenticate"), cache: resp.Header.Get("Cache-Control"), body: body}
	r.error, _ = body["error"].(string)
	return r
}

// TestUserinfoBearerFailures: RFC 6750 §3 at the UserInfo endpoint. A
// token that is valid but not for a user with openid — a client_credentials
// token (opaque or JWT: no subject, no openid) or a user's token granted
// without openid — is 403 insufficient_scope with the error in
// WWW-Authenticate. A request without bearer credentials (no header,
// another scheme, an empty Bearer) is 401 with a bare Bearer challenge and
// no error code (§3.1); a malformed bearer value is 401 invalid_token.
// Every answer is no-store.
func TestUserinfoBearerFailures(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		get := func(auth string) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/userinfo", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			return req
		}
		for _, format := range []string{"opaque", "jwt"} {
			c, secret := e.in.CreateClient(t, e.in.Ctx(), machine(format, "RS256"))
			resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, c.ID, secret)
			if resp.StatusCode != 200 {
				t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
			}
			r := callUserinfo(t, get("Bearer "+body["access_token"].(string)))
			if r.status != http.StatusForbidden || r.error != "insufficient_scope" || !strings.HasPrefix(r.www, "Bearer ") ||
				!strings.Contains(r.www, `error="insufficient_scope"`) || r.cache != "no-store" {
				t.Errorf("%s client_credentials token: %d %q %v (Cache-Control %q)", format, r.status, r.www, r.body, r.cache)
			}
		}

		a := e.rp.request(oauth2.SetAuthURLParam("scope", "profile email"))
		noOpenID, err := e.rp.exchange(e.signIn(nil, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		if r := callUserinfo(t, get("Bearer "+noOpenID.AccessToken)); r.status != http.StatusForbidden || r.error != "insufficient_scope" ||
			!strings.Contains(r.www, `error="insufficient_scope"`) {
			t.Errorf("user token without openid: %d %q %v", r.status, r.www, r.body)
		}

		tok := e.tokens()
		for name, auth := range map[string]string{
			"no Authorization header":      "",
			"Basic credentials":            "Basic " + b64([]byte(e.client.ID+":"+e.secret)),
			"the token under a MAC scheme": "MAC " + tok.AccessToken,
			"Bearer without a token":       "Bearer",
			"Bearer with an empty token":   "Bearer ",
		} {
			r := callUserinfo(t, get(auth))
			if r.status != http.StatusUnauthorized || r.www != `Bearer realm="gatehouse"` || r.error != "" || r.cache != "no-store" {
				t.Errorf("%s: %d WWW-Authenticate %q body %v Cache-Control %q; want 401 with a bare Bearer challenge", name, r.status, r.www, r.body, r.cache)
			}
		}
		for name, auth := range map[string]string{
			"token with trailing garbage":  "Bearer " + tok.AccessToken + " extra",
			"token with a comma":           "Bearer " + tok.AccessToken + ",",
			"lower-case scheme, bad token": "bearer gh_at_nope.nope",
		} {
			r := callUserinfo(t, get(auth))
			if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.www, `Bearer realm="gatehouse", error="invalid_token"`) ||
				r.error != "invalid_token" || r.cache != "no-store" {
				t.Errorf("%s: %d %q %v", name, r.status, r.www, r.body)
			}
		}
		// The scheme is case-insensitive (RFC 7235 §2.1): the good token works.
		if r := callUserinfo(t, get("bEaReR "+tok.AccessToken)); r.status != 200 || r.body["sub"] != e.user.ID {
			t.Errorf("mixed-case scheme with a good token: %d %v", r.status, r.body)
		}
	})
}

// TestUserinfoTokenByTwoMethods: RFC 6750 §2: a client MUST NOT send the
// token by more than one method in one request, and §3.1: such a request is
// invalid_request, 400 (SHOULD), with the error in WWW-Authenticate — not
// answered with the user's claims for whichever token the server picked.
func TestUserinfoTokenByTwoMethods(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		for name, second := range map[string]string{"same token": tok.AccessToken, "another token": "gh_at_other.token"} {
			req, _ := http.NewRequest(http.MethodPost, e.in.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {second}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			if r := callUserinfo(t, req); r.status != http.StatusBadRequest || r.error != "invalid_request" || !strings.Contains(r.www, `error="invalid_request"`) || r.cache != "no-store" {
				t.Errorf("header and body (%s): %d %q %v, want 400 invalid_request", name, r.status, r.www, r.body)
			}
		}
	})
}

// TestLogoutClientFailures adds to TestLogoutFailures the cases decided by
// client_id without a hint: an unknown client, a post_logout_redirect_uri
// registered for another client, and near misses of a registered one (byte
// for byte) are INVALID_REQUEST error pages, never a redirect; a valid hint
// whose client was deleted likewise. A valid hint for another user than
// the signed-in one does not sign anyone out at once: the confirm page. The
// session survives all of it.
func TestLogoutClientFailures(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		other, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Other", RedirectURIs: []string{redirectURI},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1:9999/other-bye"}, Scopes: []string{"openid"}})
		gone, goneSecret := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Gone", RedirectURIs: []string{redirectURI},
			PostLogoutRedirectURIs: []string{logoutURI}, Scopes: []string{"openid", "profile", "email", "offline_access"}, SkipConsent: true})
		_, goneHint := e.idTokenOf(e.newRP(gone, goneSecret, e.in.URL), email)
		if err := e.in.Services().Provider.Clients.Delete(e.in.Ctx(), gone.ID); err != nil {
			t.Fatal(err)
		}
		e.in.CreateUser(t, e.in.Ctx(), otherEmail, password)
		_, bobHint := e.idTokenOf(e.rp, otherEmail)

		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		logout := e.in.URL + "/oauth2/sessions/logout"
		for name, q := range map[string]url.Values{
			"unknown client_id":                 {"client_id": {"no-such-client"}, "post_logout_redirect_uri": {logoutURI}},
			"URI registered for another client": {"client_id": {other.ID}, "post_logout_redirect_uri": {logoutURI}},
			"unregistered URI by client_id":     {"client_id": {e.client.ID}, "post_logout_redirect_uri": {"https://evil.example.com/bye"}},
			"registered URI with a path added":  {"client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI + "/x"}},
			"registered URI with a query added": {"client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI + "?next=https://evil.example.com"}},
			"registered URI in another case":    {"client_id": {e.client.ID}, "post_logout_redirect_uri": {strings.ToUpper(logoutURI[:4]) + logoutURI[4:]}},
			"hint of a deleted client":          {"id_token_hint": {goneHint}, "post_logout_redirect_uri": {logoutURI}},
		} {
			q.Set("state", "bye-state")
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				var res servertest.Result
				var err error
				if method == http.MethodGet {
					res, err = b.Get(logout + "?" + q.Encode())
				} else {
					res, err = b.Post(logout, q)
				}
				if err != nil {
					t.Fatal(err)
				}
				errorPage(t, method+" "+name, res, "/oauth2/sessions/logout", "INVALID_REQUEST", http.StatusBadRequest)
			}
		}
		if !e.signedIn(b) {
			t.Fatal("signed out by a refused logout request")
		}

		res, err := b.Get(logout + "?" + url.Values{"id_token_hint": {bobHint}, "post_logout_redirect_uri": {logoutURI}, "state": {"s"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if res.Page == nil || res.Page.Name != "logout" || res.Page.CSRF == "" {
			t.Errorf("hint for another user: %+v, want the confirm page", res)
		}
		if !e.signedIn(b) {
			t.Error("a hint for another user signed the session's user out without confirmation")
		}
	})
}

// TestConcurrentCodeExchangeRevokes: when one code is exchanged several
// times at once, whichever exchange wins, the others are replays: they get
// 400 invalid_grant, and once they have answered every token the winner
// got is revoked (SECURITY.md: a code redeemed twice revokes every token
// issued from it), whether the loser saw the code used up at its first read
// or lost the conditional update inside its transaction.
func TestConcurrentCodeExchangeRevokes(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		for round := range 5 {
			a := e.rp.request()
			res, _ := b.Get(a.url)
			code := e.code(res, a)
			bodies := make([]map[string]any, 6)
			statuses := parallel(len(bodies), func(i int) int {
				resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {redirectURI}, "code_verifier": {a.verifier}}, e.client.ID, e.secret)
				bodies[i] = body
				return resp.StatusCode
			})
			var won map[string]any
			for i, s := range statuses {
				switch {
				case s == 200 && won == nil:
					won = bodies[i]
				case s == 400 && bodies[i]["error"] == "invalid_grant":
				default:
					t.Fatalf("round %d: statuses %v, exchange %d answered %d %v", round, statuses, i, s, bodies[i])
				}
			}
			if won == nil {
				t.Logf("round %d: no exchange won", round)
				continue
			}
			at, _ := won["access_token"].(string)
			rt, _ := won["refresh_token"].(string)
			if got := e.introspect(at); got["active"] != false {
				t.Errorf("round %d: the winner's access token is still active after concurrent replays: %v", round, got)
			}
			if got := e.introspect(rt); got["active"] != false {
				t.Errorf("round %d: the winner's refresh token is still active after concurrent replays: %v", round, got)
			}
			if resp, body := e.refresh(rt); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
				t.Errorf("round %d: refresh with the winner's token: %d %v", round, resp.StatusCode, body)
			}
		}
		// Which path the losers took (for the log): a loser that lost the
		// conditional update inside its transaction records the revocation.
		events, _ := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: "token.revoked"})
		inTx := 0
		for _, ev := range events {
			if strings.Contains(string(ev.Data), "authorization code replayed") {
				inTx++
			}
		}
		t.Logf("%d revocations by a loser that lost inside its transaction (5 codes)", inTx)
	})
}

// hmacWithPublicKey is an ID token "signed" with HS256 keyed by the PEM of
// the issuer's RS256 public key kid: the classic alg confusion.
func hmacWithPublicKey(t *testing.T, issuer, kid, sub, aud string) string {
	t.Helper()
	set := fetchJWKS(t, issuer)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in JWKS", kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(map[string]any{"iss": issuer, "sub": sub, "aud": aud, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	signing := b64(h) + "." + b64(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// withKID replaces the kid of a JWT's header (the signature no longer
// matches, and the key is unknown).
func withKID(t *testing.T, raw, kid string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", raw)
	}
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid})
	return fmt.Sprintf("%s.%s.%s", b64(h), parts[1], parts[2])
}

// TestSuspensionEndsRefreshTokens: a suspension (or any status but active)
// ends the account's refresh tokens when it is set (SECURITY.md: "suspension
// end[s] the account's other sessions and refresh tokens"), so a refresh
// token not used while the suspension lasted does not come back when the
// account is active again, and its access token is revoked with it.
func TestSuspensionEndsRefreshTokens(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		future := time.Now().Add(time.Hour)
		for _, status := range []string{storage.StatusSuspended, storage.StatusBanned, storage.StatusLocked, storage.StatusInactive} {
			tok := e.tokens()
			if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, status, "test", "admin", &future); err != nil {
				t.Fatal(err)
			}
			if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, storage.StatusActive, "", "admin", nil); err != nil {
				t.Fatal(err)
			}
			if got := e.introspect(tok.AccessToken); got["active"] != false {
				t.Errorf("%s, then active: access token still active", status)
			}
			if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
				t.Errorf("%s, then active: refresh = %d %v %v, want 400 invalid_grant INVALID_REFRESH_TOKEN", status, resp.StatusCode, body["error"], body["error_code"])
			}
		}
	})
}
