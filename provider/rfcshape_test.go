package provider_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
	"golang.org/x/oauth2"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// confirmForm is the logout confirmation form as the page renders it,
// confirmed.
func confirmForm(body string) url.Values {
	v := url.Values{"confirm": {"yes"}}
	unescape := strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#43;", "+")
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], unescape.Replace(m[2]))
	}
	return v
}

// TestLogoutConfirmAnotherUsersHint: an RP sends Ada's browser to logout
// with an id_token_hint of another user (Bob) and no client_id (the hint
// names the client, RP-Initiated Logout §2). gatehouse asks Ada to
// confirm; confirming ends her session and sends her to the registered
// post_logout_redirect_uri with the state (§3). Before, the confirm form
// carried neither hint nor client, was refused with INVALID_REQUEST, and
// Ada stayed signed in.
func TestLogoutConfirmAnotherUsersHint(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const bobEmail = "bob@example.com"
		e.in.CreateUser(t, e.in.Ctx(), bobEmail, password)
		a := e.rp.request()
		res, err := servertest.NewBrowser(e.in.URL).Authorize(a.url, servertest.Steps{Email: bobEmail, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := e.rp.exchange(e.code(res, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		bobHint, _ := tok.Extra("id_token").(string)

		ada := servertest.NewBrowser(e.in.URL)
		e.signIn(ada, e.rp.request())
		q := url.Values{"id_token_hint": {bobHint}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye-state"}}
		res, _ = ada.Get(e.in.URL + "/oauth2/sessions/logout?" + q.Encode())
		if res.Page == nil || res.Page.Name != "logout" || res.Page.CSRF == "" {
			t.Fatalf("logout with another user's hint: %+v, want the confirm page", res)
		}
		res, _ = ada.Post(e.in.URL+"/oauth2/sessions/logout", confirmForm(res.Page.Body))
		if res.Redirect == nil || res.Redirect.String() != logoutURI+"?state=bye-state" {
			t.Errorf("confirmed logout: %+v, want 303 to %s?state=bye-state", res, logoutURI)
		}
		again := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = ada.Get(again.url)
		if res.Redirect == nil || res.Redirect.Query().Get("error") != "login_required" {
			t.Errorf("still signed in after confirming the logout (prompt=none: %v)", res.Redirect)
		}
	})
}

// TestUserinfoOneTokenMethod: RFC 6750 §2 allows one way of sending the
// token per request; the query string and the form body together (even
// with the same token) are 400 invalid_request (§3.1), as header plus
// either already was. One method alone still works.
func TestUserinfoOneTokenMethod(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		at := e.tokens().AccessToken
		for name, query := range map[string]string{"the same token": at, "junk": "gh_at_forged.value"} {
			a := caSend(t, "POST", e.in.URL+"/userinfo?access_token="+url.QueryEscape(query), caFormType, "access_token="+url.QueryEscape(at), "")
			if a.status != 400 || a.str("error") != "invalid_request" {
				t.Errorf("%s in the query, the token in the body: %d %s, want 400 invalid_request", name, a.status, a.raw)
			}
		}
		if a := caSend(t, "POST", e.in.URL+"/userinfo", caFormType, "access_token="+url.QueryEscape(at)+"&access_token="+url.QueryEscape(at), ""); a.status != 400 {
			t.Errorf("the token twice in the body: %d %s, want 400", a.status, a.raw)
		}
		if a := caSend(t, "POST", e.in.URL+"/userinfo", caFormType, "access_token="+url.QueryEscape(at), ""); a.status != 200 || a.str("sub") == "" {
			t.Errorf("the token in the body alone: %d %s, want 200", a.status, a.raw)
		}
	})
}

// TestTokenResponseWithoutScope: a grant with no scope answers without a
// scope member, and its RFC 9068 JWT access token has no scope claim; ""
// is not a scope (RFC 6749 §3.3, §5.1; RFC 9068 §2.2.3). With a scope,
// both carry it.
func TestTokenResponseWithoutScope(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		m, secret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		a := caPost(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, caBasic(m.ID, secret))
		if a.status != 200 {
			t.Fatalf("client_credentials: %d %s", a.status, a.raw)
		}
		if _, ok := a.body["scope"]; ok {
			t.Errorf("token response without granted scopes has a scope member: %s", a.raw)
		}
		a = caPost(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, caBasic(m.ID, secret))
		if a.status != 200 || a.str("scope") != "api:read" {
			t.Errorf("token response with a scope: %d %s, want scope api:read", a.status, a.raw)
		}
		j, jsecret := e.in.CreateClient(t, e.in.Ctx(), machine("jwt", "ES256"))
		for scope, want := range map[string]any{"": nil, "api:read": "api:read"} {
			f := url.Values{"grant_type": {"client_credentials"}}
			if scope != "" {
				f.Set("scope", scope)
			}
			a = caPost(t, e.in.URL+"/oauth2/token", f, caBasic(j.ID, jsecret))
			if a.status != 200 {
				t.Fatalf("client_credentials, JWT access token: %d %s", a.status, a.raw)
			}
			_, claims := verifyJWT(t, e.in.URL, a.str("access_token"))
			if got, ok := claims["scope"]; (want == nil && ok) || (want != nil && got != want) {
				t.Errorf("JWT access token for scope %q: scope claim %v (present %v), want %v", scope, got, ok, want)
			}
		}
	})
}
