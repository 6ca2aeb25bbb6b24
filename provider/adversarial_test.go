package provider_test

// Adversarial tests: an attacker's view of tenant isolation, browser
// sessions and flows, and the redirect_uri check. Every helper here is
// prefixed "adv" so it cannot collide with the package's other helpers.

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"golang.org/x/oauth2"
)

// advTenant is a second tenant ("acme") with its own account (same email
// and password as the default tenant's) and a client that needs consent.
type advTenant struct {
	ctx    context.Context
	url    string // its issuer: e.in.URL + "/t/acme"
	client storage.Client
	secret string
	rp     *rp
	user   storage.User
}

func (e *env) advAcme() advTenant {
	e.t.Helper()
	ctx := e.newTenant("acme")
	u := e.in.CreateUser(e.t, ctx, email, password)
	c, s := e.in.CreateClient(e.t, ctx, provider.ClientSpec{Name: "Acme App", RedirectURIs: []string{redirectURI},
		PostLogoutRedirectURIs: []string{logoutURI}, Scopes: []string{"openid", "profile", "email", "offline_access"}})
	iss := e.in.URL + "/t/acme"
	return advTenant{ctx: ctx, url: iss, client: c, secret: s, rp: e.newRP(c, s, iss), user: u}
}

// advCode checks a successful authorization response of the issuer iss and
// returns its code.
func advCode(t *testing.T, name string, res servertest.Result, a authRequest, iss string) string {
	t.Helper()
	if res.Redirect == nil {
		if res.Page != nil {
			t.Fatalf("%s: ended on page %q (%d %s), want a code", name, res.Page.Name, res.Page.Status, res.Page.ErrorCode)
		}
		t.Fatalf("%s: no redirect", name)
	}
	q := res.Redirect.Query()
	if !strings.HasPrefix(res.Redirect.String(), redirectURI) || q.Get("code") == "" || q.Get("state") != a.state || q.Get("iss") != iss {
		t.Fatalf("%s: redirected to %s, want %s with a code, state %q and iss %q", name, res.Redirect, redirectURI, a.state, iss)
	}
	return q.Get("code")
}

// advRedirectError checks an error sent back to the client by the issuer
// iss: error want, state, iss, no code.
func advRedirectError(t *testing.T, name string, res servertest.Result, a authRequest, iss, want string) {
	t.Helper()
	if res.Redirect == nil {
		if res.Page != nil {
			t.Errorf("%s: ended on page %q (%d %s), want an error redirect %s", name, res.Page.Name, res.Page.Status, res.Page.ErrorCode, want)
		} else {
			t.Errorf("%s: no redirect", name)
		}
		return
	}
	q := res.Redirect.Query()
	if !strings.HasPrefix(res.Redirect.String(), redirectURI) || q.Get("error") != want || q.Get("state") != a.state ||
		q.Get("iss") != iss || q.Get("code") != "" {
		t.Errorf("%s: redirected to %s, want error=%s with state %q and iss %q, no code", name, res.Redirect, want, a.state, iss)
	}
}

// advTokens signs in at acme through b (answering the consent page) and
// exchanges the code.
func (e *env) advTokens(at advTenant, b *servertest.Browser) *oauth2.Token {
	e.t.Helper()
	a := at.rp.request()
	res, err := b.Authorize(a.url, servertest.Steps{Email: email, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := at.rp.exchange(advCode(e.t, "acme sign-in", res, a, at.url), a.verifier)
	if err != nil {
		e.t.Fatalf("acme exchange: %v", err)
	}
	return tok
}

// advSetCookie gives b a cookie for the server, as an attacker who copied
// its value would.
func advSetCookie(b *servertest.Browser, base, name, value string) {
	u, _ := url.Parse(base)
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// advNoFollow is a client that shares b's cookies and stops at the first
// answer, to see redirects (their status) and Set-Cookie headers.
func advNoFollow(b *servertest.Browser) *http.Client {
	return &http.Client{Jar: b.Client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// advResp is an answer with its body read.
type advResp struct {
	*http.Response
	body string
}

var (
	advRePage  = regexp.MustCompile(`data-page="([^"]*)"`)
	advReError = regexp.MustCompile(`data-error-code="([^"]*)"`)
	advReCSRF  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	advReFlow  = regexp.MustCompile(`name="flow" value="([^"]*)"`)
)

func advFind(re *regexp.Regexp, body string) string {
	if m := re.FindStringSubmatch(body); m != nil {
		return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(m[1])
	}
	return ""
}

func (r advResp) page() string   { return advFind(advRePage, r.body) }
func (r advResp) code() string   { return advFind(advReError, r.body) }
func (r advResp) csrf() string   { return advFind(advReCSRF, r.body) }
func (r advResp) flowID() string { return advFind(advReFlow, r.body) }

// advSend sends one request (a form when form is not nil) and reads the
// answer; cookie is added as a raw Cookie header when not empty.
func advSend(t *testing.T, c *http.Client, method, u string, form url.Values, cookie string) advResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return advResp{Response: resp, body: string(raw)}
}

// advLocation is the absolute Location of a redirect.
func advLocation(t *testing.T, r advResp) *url.URL {
	t.Helper()
	loc, err := r.Location()
	if err != nil {
		t.Fatalf("%s %s: %d without a Location", r.Request.Method, r.Request.URL.Path, r.StatusCode)
	}
	return loc
}

// advSetCookieNamed returns the Set-Cookie of name in r (nil if none) and
// its raw header line.
func advSetCookieNamed(r *http.Response, name string) (*http.Cookie, string) {
	for _, line := range r.Header.Values("Set-Cookie") {
		cs := (&http.Response{Header: http.Header{"Set-Cookie": {line}}}).Cookies()
		if len(cs) == 1 && cs[0].Name == name {
			return cs[0], line
		}
	}
	return nil, ""
}

// advAuthURL is an authorization request of clientID with redirect (PKCE,
// state) at the issuer base.
func advAuthURL(base, clientID, redirect string) string {
	return base + "/oauth2/auth?" + url.Values{"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {redirect}, "state": {"state-adversarial-1"}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}}.Encode()
}

// ---------------------------------------------------------------------
// 1. Tenant isolation (beyond TestTenantIsolation)
// ---------------------------------------------------------------------

// TestAdversarialTenantCodeAndRefresh: a default-tenant authorization code
// and refresh token presented at acme's token endpoint by acme's own
// (authenticated) client, with the right verifier and redirect_uri, are 400
// invalid_grant (the refresh token with error_code INVALID_REFRESH_TOKEN),
// and the attempt has no effect at home: the code is still redeemable and
// the refresh token still refreshes. acme's revocation endpoint answers 200
// (RFC 7009) for them but revokes nothing. The same holds the other way
// round (acme's code and refresh token at the default tenant).
func TestAdversarialTenantCodeAndRefresh(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		codeForm := func(code, verifier string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
		}
		refreshForm := func(rt string) url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		}

		a := e.rp.request()
		code := e.signIn(nil, a)
		resp, body := post(t, acme.url+"/oauth2/token", codeForm(code, a.verifier), acme.client.ID, acme.secret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["access_token"] != nil {
			t.Errorf("default code at acme: %d %v, want 400 invalid_grant", resp.StatusCode, body)
		}
		tok, err := e.rp.exchange(code, a.verifier)
		if err != nil {
			t.Fatalf("the code tried at acme no longer works at home: %v", err)
		}

		resp, body = post(t, acme.url+"/oauth2/token", refreshForm(tok.RefreshToken), acme.client.ID, acme.secret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
			t.Errorf("default refresh token at acme: %d %v, want 400 invalid_grant INVALID_REFRESH_TOKEN", resp.StatusCode, body)
		}
		for name, tk := range map[string]string{"refresh token": tok.RefreshToken, "access token": tok.AccessToken} {
			if resp, _ := post(t, acme.url+"/oauth2/revoke", url.Values{"token": {tk}}, acme.client.ID, acme.secret); resp.StatusCode != http.StatusOK {
				t.Errorf("revoking the default %s at acme: %d, want 200", name, resp.StatusCode)
			}
		}
		if got := e.introspect(tok.AccessToken); got["active"] != true {
			t.Errorf("default access token after acme's revocation endpoint saw it: %v, want active", got)
		}
		if resp, body := e.refresh(tok.RefreshToken); resp.StatusCode != http.StatusOK {
			t.Errorf("default refresh token after acme saw it: %d %v, want 200", resp.StatusCode, body)
		}

		// The other way round.
		b := servertest.NewBrowser(e.in.URL)
		atok := e.advTokens(acme, b)
		resp, body = e.refresh(atok.RefreshToken)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
			t.Errorf("acme refresh token at the default tenant: %d %v, want 400 invalid_grant INVALID_REFRESH_TOKEN", resp.StatusCode, body)
		}
		aa := acme.rp.request()
		res, _ := b.Get(aa.url) // consent remembered: straight back with a code
		acode := advCode(t, "acme sign-in with a session", res, aa, acme.url)
		resp, body = post(t, e.in.URL+"/oauth2/token", codeForm(acode, aa.verifier), e.client.ID, e.secret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || body["access_token"] != nil {
			t.Errorf("acme code at the default tenant: %d %v, want 400 invalid_grant", resp.StatusCode, body)
		}
		if _, err := acme.rp.exchange(acode, aa.verifier); err != nil {
			t.Errorf("the acme code tried at the default tenant no longer works at acme: %v", err)
		}
		resp, body = post(t, acme.url+"/oauth2/token", refreshForm(atok.RefreshToken), acme.client.ID, acme.secret)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("acme refresh token after the default tenant saw it: %d %v, want 200", resp.StatusCode, body)
		}
	})
}

// TestAdversarialTenantBearerTokens: tokens of one tenant are inactive in
// the other, in the forms TestTenantIsolation does not try: a default-tenant
// RFC 9068 JWT access token (signed with the default tenant's keys) and
// refresh token introspected at acme by acme's client are exactly
// {"active":false}; the JWT at acme's userinfo (GET header, POST body) is 401
// with WWW-Authenticate error="invalid_token". acme's opaque access token is
// likewise inactive and 401 invalid_token at the default tenant. The two
// tenants' JWKS share no key id.
func TestAdversarialTenantBearerTokens(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		spec := firstParty()
		spec.AccessTokenFormat = "jwt"
		spec.Audience = []string{"https://api.example.com"}
		jc, jsecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		jr := e.newRP(jc, jsecret, e.in.URL)
		a := jr.request()
		tok, err := jr.exchange(e.signIn(nil, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok.AccessToken, "ey") || strings.Count(tok.AccessToken, ".") != 2 {
			t.Fatalf("access token %q is not a JWT", tok.AccessToken)
		}
		if got := e.introspect(tok.AccessToken); got["active"] != true {
			t.Fatalf("JWT access token at home: %v, want active (control)", got)
		}
		userinfo := func(base, token string, inBody bool) bearerResponse {
			var req *http.Request
			if inBody {
				req, _ = http.NewRequest(http.MethodPost, base+"/userinfo", strings.NewReader(url.Values{"access_token": {token}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest(http.MethodGet, base+"/userinfo", nil)
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return callUserinfo(t, req)
		}
		if r := userinfo(e.in.URL, tok.AccessToken, false); r.status != http.StatusOK || r.body["sub"] != e.user.ID {
			t.Fatalf("JWT access token at home userinfo: %d %v (control)", r.status, r.body)
		}

		for name, tk := range map[string]string{"JWT access token": tok.AccessToken, "refresh token": tok.RefreshToken} {
			resp, body := post(t, acme.url+"/oauth2/introspect", url.Values{"token": {tk}}, acme.client.ID, acme.secret)
			if resp.StatusCode != http.StatusOK || len(body) != 1 || body["active"] != false {
				t.Errorf("default %s introspected at acme: %d %v, want exactly {\"active\":false}", name, resp.StatusCode, body)
			}
		}
		for _, inBody := range []bool{false, true} {
			if r := userinfo(acme.url, tok.AccessToken, inBody); r.status != http.StatusUnauthorized || r.error != "invalid_token" ||
				!strings.Contains(r.www, `error="invalid_token"`) || r.body["sub"] != nil {
				t.Errorf("default JWT access token at acme userinfo (in body: %v): %d %q %v, want 401 invalid_token", inBody, r.status, r.www, r.body)
			}
		}

		atok := e.advTokens(acme, servertest.NewBrowser(e.in.URL))
		if got := e.introspect(atok.AccessToken); len(got) != 1 || got["active"] != false {
			t.Errorf("acme access token introspected at the default tenant: %v, want exactly {\"active\":false}", got)
		}
		if got := e.introspect(atok.RefreshToken); len(got) != 1 || got["active"] != false {
			t.Errorf("acme refresh token introspected at the default tenant: %v, want exactly {\"active\":false}", got)
		}
		if r := userinfo(e.in.URL, atok.AccessToken, false); r.status != http.StatusUnauthorized || r.error != "invalid_token" {
			t.Errorf("acme access token at the default userinfo: %d %q %v, want 401 invalid_token", r.status, r.www, r.body)
		}
		if r := userinfo(acme.url, atok.AccessToken, false); r.status != http.StatusOK || r.body["sub"] != acme.user.ID {
			t.Errorf("acme access token at acme userinfo: %d %v (control)", r.status, r.body)
		}

		home, other := fetchJWKS(t, e.in.URL), fetchJWKS(t, acme.url)
		if len(home.Keys) == 0 || len(other.Keys) == 0 {
			t.Fatalf("JWKS sizes %d and %d", len(home.Keys), len(other.Keys))
		}
		for _, k := range other.Keys {
			if len(home.Key(k.KeyID)) != 0 {
				t.Errorf("kid %s is published by both tenants", k.KeyID)
			}
		}
	})
}

// TestAdversarialTenantClientAuth: a client of one tenant does not exist in
// another. The default tenant's machine client, with its right secret, at
// acme's token (client_credentials, Basic or client_secret_post),
// introspection and revocation endpoints is 401 invalid_client (with
// WWW-Authenticate: Basic when Basic was used), and revokes nothing; the
// default client's authorization request at acme (and acme's at the default
// tenant) is an INVALID_REQUEST error page, 400, never a redirect. Each
// tenant's client works at home (the control).
func TestAdversarialTenantClientAuth(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		mc, msecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		amc, amsecret := e.in.CreateClient(t, acme.ctx, machine("opaque", "RS256"))
		cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
		if resp, body := post(t, e.in.URL+"/oauth2/token", cc, mc.ID, msecret); resp.StatusCode != http.StatusOK {
			t.Fatalf("default machine client at home: %d %v (control)", resp.StatusCode, body)
		}
		resp, body := post(t, acme.url+"/oauth2/token", cc, amc.ID, amsecret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("acme machine client at acme: %d %v (control)", resp.StatusCode, body)
		}
		acmeToken := body["access_token"].(string)

		for name, ep := range map[string]struct {
			path string
			form url.Values
		}{
			"token":      {"/oauth2/token", cc},
			"introspect": {"/oauth2/introspect", url.Values{"token": {acmeToken}}},
			"revoke":     {"/oauth2/revoke", url.Values{"token": {acmeToken}}},
		} {
			resp, body := post(t, acme.url+ep.path, ep.form, mc.ID, msecret)
			if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("default client at acme %s: %d %v WWW-Authenticate %q, want 401 invalid_client", name, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
			}
		}
		inBody := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {mc.ID}, "client_secret": {msecret}}
		if resp, body := post(t, acme.url+"/oauth2/token", inBody, "", ""); resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("default client at acme, credentials in the body: %d %v, want 401 invalid_client", resp.StatusCode, body)
		}
		// The default client's registered post-logout URI, named at acme.
		lb := servertest.NewBrowser(e.in.URL)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			q := url.Values{"client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI}, "state": {"s"}}
			var res servertest.Result
			if method == http.MethodGet {
				res, _ = lb.Get(acme.url + "/oauth2/sessions/logout?" + q.Encode())
			} else {
				res, _ = lb.Post(acme.url+"/oauth2/sessions/logout", q)
			}
			errorPage(t, method+" acme logout with the default client's post_logout_redirect_uri", res, "/t/acme/oauth2/sessions/logout",
				"INVALID_REQUEST", http.StatusBadRequest)
		}
		resp, body = post(t, acme.url+"/oauth2/introspect", url.Values{"token": {acmeToken}}, amc.ID, amsecret)
		if resp.StatusCode != http.StatusOK || body["active"] != true {
			t.Errorf("acme token after the default client tried to revoke it at acme: %d %v, want active", resp.StatusCode, body)
		}

		for name, tc := range map[string]struct{ base, path, clientID string }{
			"default client at acme": {acme.url, "/t/acme/oauth2/auth", e.client.ID},
			"acme client at default": {e.in.URL, "/oauth2/auth", acme.client.ID},
		} {
			b := servertest.NewBrowser(e.in.URL)
			res, err := b.Get(advAuthURL(tc.base, tc.clientID, redirectURI))
			if err != nil {
				t.Fatal(err)
			}
			errorPage(t, name, res, tc.path, "INVALID_REQUEST", http.StatusBadRequest)
		}
	})
}

// TestAdversarialTenantBrowserState: browser state of the default tenant is
// useless at acme. (1) The default session cookie's value copied under
// acme's cookie name (gh_session_acme) signs no one in: prompt=none is
// login_required with acme's iss, and without prompt the login page is
// shown. (2) Signing out at acme with it leaves the default session alive.
// (3) A default-tenant flow id (with its CSRF token) at acme's login and
// consent pages, GET and POST, is an INVALID_TOKEN error page (400) and sets
// no acme session; the flow still completes at home afterwards. (4) Consent
// given at home is not consent at acme: prompt=none with an acme session is
// consent_required. (5) A default-tenant ID token as id_token_hint at acme's
// logout is an INVALID_TOKEN error page and the acme session survives.
func TestAdversarialTenantBrowserState(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		b, hint := e.idTokenOf(e.rp, email) // a default session, consent to e.client remembered
		home := b.Cookie("gh_session")
		if home == "" {
			t.Fatal("no default session cookie")
		}

		// (1)
		thief := servertest.NewBrowser(e.in.URL)
		advSetCookie(thief, e.in.URL, "gh_session_acme", home)
		aa := acme.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := thief.Get(aa.url)
		advRedirectError(t, "default session value as acme's cookie, prompt=none", res, aa, acme.url, "login_required")
		if res, _ := thief.Get(acme.rp.request().url); res.Page == nil || res.Page.Name != "login" || res.Page.ErrorCode != "" {
			t.Errorf("default session value as acme's cookie: %+v, want acme's login page", res)
		}
		// (2)
		if res, _ := thief.Get(acme.url + "/oauth2/sessions/logout"); res.Page == nil || res.Page.Name != "logged_out" {
			t.Errorf("logout at acme with the copied cookie: %+v, want the logged_out page", res)
		}
		if !e.signedIn(b) {
			t.Error("signing out at acme with the default session's cookie value ended the default session")
		}

		// (3)
		a := e.rp.request()
		victim := servertest.NewBrowser(e.in.URL)
		res, _ = victim.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page: %+v", res)
		}
		lp := res.Page
		steal := url.Values{"flow": {lp.Flow}, "csrf_token": {lp.CSRF}, "email": {email}, "password": {password}, "decision": {"allow"}}
		for _, step := range []string{"/login", "/consent"} {
			res, _ = victim.Get(acme.url + step + "?flow=" + lp.Flow)
			errorPage(t, "GET default flow at acme "+step, res, "/t/acme"+step, "INVALID_TOKEN", http.StatusBadRequest)
			res, _ = victim.Post(acme.url+step, steal)
			errorPage(t, "POST default flow at acme "+step, res, "/t/acme"+step, "INVALID_TOKEN", http.StatusBadRequest)
		}
		if victim.Cookie("gh_session_acme") != "" {
			t.Error("a default-tenant flow posted at acme started an acme session")
		}
		res, _ = victim.Post(e.in.URL+"/login", url.Values{"flow": {lp.Flow}, "csrf_token": {lp.CSRF}, "email": {email}, "password": {password}})
		e.code(res, a)

		// (4)
		res, _ = b.Get(acme.rp.request().url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("acme authorization: %+v, want the login page", res)
		}
		res, _ = b.Post(acme.url+"/login", url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}})
		if res.Page == nil || res.Page.Name != "consent" || res.Page.ErrorCode != "" {
			t.Fatalf("acme sign-in: %+v, want acme's consent page", res)
		}
		aa = acme.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(aa.url)
		advRedirectError(t, "acme prompt=none after consenting only at home", res, aa, acme.url, "consent_required")

		// (5)
		res, _ = b.Get(acme.url + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURI}}.Encode())
		errorPage(t, "default id_token_hint at acme's logout", res, "/t/acme/oauth2/sessions/logout", "INVALID_TOKEN", http.StatusBadRequest)
		res, _ = b.Get(acme.url + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {hint}}.Encode())
		errorPage(t, "default id_token_hint at acme's logout, no redirect URI", res, "/t/acme/oauth2/sessions/logout", "INVALID_TOKEN", http.StatusBadRequest)
		aa = acme.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(aa.url)
		advRedirectError(t, "acme session after a foreign hint at logout", res, aa, acme.url, "consent_required")
	})
}

// TestAdversarialTenantLogoutCSRF: the CSRF token of the default tenant's
// sign-out confirmation page does not confirm a sign-out at acme. The
// browser is signed in at both; acme's logout POST with confirm=yes and the
// default tenant's token must be the INVALID_REQUEST error page (400, as a
// forged token is in TestLogoutFailures) and the acme session must survive.
// Nor does a token taken before the user signed in again.
func TestAdversarialTenantLogoutCSRF(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		e.advTokens(acme, b) // an acme session too, consent remembered

		res, _ := b.Get(e.in.URL + "/oauth2/sessions/logout")
		if res.Page == nil || res.Page.Name != "logout" || res.Page.CSRF == "" {
			t.Fatalf("default logout without a hint: %+v, want the confirm page", res)
		}
		res, _ = b.Post(acme.url+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"}, "csrf_token": {res.Page.CSRF}})
		errorPage(t, "acme logout confirmed with the default tenant's CSRF token", res, "/t/acme/oauth2/sessions/logout", "INVALID_REQUEST", http.StatusBadRequest)
		aa := acme.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(aa.url)
		if res.Redirect == nil || res.Redirect.Query().Get("code") == "" {
			t.Errorf("acme session after a logout confirmed with another tenant's CSRF token: %v, want still signed in (a code)", res.Redirect)
		}
		if !e.signedIn(b) {
			t.Error("the default session ended too")
		}

		// The token is bound to the session too: taken before signing in
		// again (prompt=login: a new session), it confirms nothing.
		res, _ = b.Get(e.in.URL + "/oauth2/sessions/logout")
		stale := res.Page.CSRF
		e.signIn(b, e.rp.request(oauth2.SetAuthURLParam("prompt", "login")))
		res, _ = b.Post(e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"}, "csrf_token": {stale}})
		errorPage(t, "logout confirmed with the previous session's CSRF token", res, "/oauth2/sessions/logout", "INVALID_REQUEST", http.StatusBadRequest)
		if !e.signedIn(b) {
			t.Error("a CSRF token of the previous session ended the new one")
		}
	})
}

// ---------------------------------------------------------------------
// 2. Browser sessions and flows
// ---------------------------------------------------------------------

// TestAdversarialFlowFromAnotherBrowser: a flow is bound to the browser
// that started it. Another browser (with its own device cookie) or one with
// no cookies at all that has the victim's flow id and CSRF token gets an
// INVALID_TOKEN error page (400) at GET and POST /login and /consent (allow
// and deny), and no session. The attacker's own flow planted in the
// victim's browser (login CSRF) is INVALID_TOKEN too. The victim's flow is
// undisturbed: it still ends with a code.
func TestAdversarialFlowFromAnotherBrowser(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.in.CreateUser(t, e.in.Ctx(), otherEmail, password)
		a := e.rp.request()
		victim := servertest.NewBrowser(e.in.URL)
		res, _ := victim.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page: %+v", res)
		}
		lp := res.Page
		attacker := servertest.NewBrowser(e.in.URL)
		res, _ = attacker.Get(e.rp.request().url) // its own flow, and so its own device cookie
		if res.Page == nil || res.Page.Name != "login" || attacker.Cookie("gh_device") == "" {
			t.Fatalf("attacker's first page: %+v", res)
		}
		ap := res.Page
		browsers := map[string]*servertest.Browser{"another browser": attacker, "a browser without cookies": servertest.NewBrowser(e.in.URL)}

		for name, br := range browsers {
			res, _ = br.Get(e.in.URL + "/login?flow=" + lp.Flow)
			errorPage(t, name+": GET /login", res, "/login", "INVALID_TOKEN", http.StatusBadRequest)
			res, _ = br.Post(e.in.URL+"/login", url.Values{"flow": {lp.Flow}, "csrf_token": {lp.CSRF}, "email": {otherEmail}, "password": {password}})
			errorPage(t, name+": POST /login", res, "/login", "INVALID_TOKEN", http.StatusBadRequest)
			if br.Cookie("gh_session") != "" {
				t.Errorf("%s: signed in through the victim's flow", name)
			}
		}

		res, _ = victim.Post(e.in.URL+"/login", url.Values{"flow": {lp.Flow}, "csrf_token": {lp.CSRF}, "email": {email}, "password": {password}})
		if res.Page == nil || res.Page.Name != "consent" || res.Page.ErrorCode != "" {
			t.Fatalf("victim's sign-in: %+v, want the consent page", res)
		}
		cp := res.Page
		for name, br := range browsers {
			res, _ = br.Get(e.in.URL + "/consent?flow=" + cp.Flow)
			errorPage(t, name+": GET /consent", res, "/consent", "INVALID_TOKEN", http.StatusBadRequest)
			for _, decision := range []string{"allow", "deny"} {
				res, _ = br.Post(e.in.URL+"/consent", url.Values{"flow": {cp.Flow}, "csrf_token": {cp.CSRF}, "decision": {decision}})
				errorPage(t, name+": POST /consent "+decision, res, "/consent", "INVALID_TOKEN", http.StatusBadRequest)
			}
		}

		res, _ = victim.Get(e.in.URL + "/login?flow=" + ap.Flow)
		errorPage(t, "attacker's flow in the victim's browser: GET /login", res, "/login", "INVALID_TOKEN", http.StatusBadRequest)
		res, _ = victim.Post(e.in.URL+"/login", url.Values{"flow": {ap.Flow}, "csrf_token": {ap.CSRF}, "email": {otherEmail}, "password": {password}})
		errorPage(t, "attacker's flow in the victim's browser: POST /login", res, "/login", "INVALID_TOKEN", http.StatusBadRequest)

		res, _ = victim.Post(e.in.URL+"/consent", url.Values{"flow": {cp.Flow}, "csrf_token": {cp.CSRF}, "decision": {"allow"}})
		tok, err := e.rp.exchange(e.code(res, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		if idt, _ := e.rp.verifyIDToken(t, tok); idt.Subject != e.user.ID {
			t.Errorf("victim's code is for %s, want %s", idt.Subject, e.user.ID)
		}
	})
}

// TestAdversarialCSRFTokenMisuse: a CSRF token is good for one form of one
// flow in one browser. At POST /login, another flow's token, another
// browser's token, a logout token, a forged one or none re-render the login
// page with INVALID_REQUEST (400) and start no session. At POST /consent,
// the same flow's login token, another flow's consent token, another
// browser's token or a logout token re-render the consent page with
// INVALID_REQUEST (400) and issue no code; a consent token at /login is
// refused the same way. Login and consent tokens do not confirm a logout
// (INVALID_REQUEST error page, the session survives). The right token then
// works.
func TestAdversarialCSRFTokenMisuse(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a1, a2 := e.rp.request(), e.rp.request()
		first := func(br *servertest.Browser, u string) *servertest.Page {
			t.Helper()
			res, _ := br.Get(u)
			if res.Page == nil || res.Page.Name != "login" || res.Page.CSRF == "" {
				t.Fatalf("first page: %+v", res)
			}
			return res.Page
		}
		p1, p2 := first(b, a1.url), first(b, a2.url)
		other := servertest.NewBrowser(e.in.URL)
		po := first(other, e.rp.request().url)
		forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("x", 32)))
		login := func(flowID, csrf string) servertest.Result {
			res, _ := b.Post(e.in.URL+"/login", url.Values{"flow": {flowID}, "csrf_token": {csrf}, "email": {email}, "password": {password}})
			return res
		}
		consent := func(flowID, csrf string) servertest.Result {
			res, _ := b.Post(e.in.URL+"/consent", url.Values{"flow": {flowID}, "csrf_token": {csrf}, "decision": {"allow"}})
			return res
		}
		refused := func(name, page string, res servertest.Result) {
			t.Helper()
			if res.Redirect != nil || res.Page == nil || res.Page.Name != page || res.Page.ErrorCode != "INVALID_REQUEST" || res.Page.Status != http.StatusBadRequest {
				t.Errorf("%s: %+v, want the %s page again with INVALID_REQUEST, 400", name, res, page)
			}
		}

		for name, csrf := range map[string]string{"another flow's token": p2.CSRF, "another browser's token": po.CSRF, "a forged token": forged, "no token": ""} {
			refused("login with "+name, "login", login(p1.Flow, csrf))
			if b.Cookie("gh_session") != "" {
				t.Fatalf("login with %s started a session", name)
			}
		}

		res := login(p1.Flow, p1.CSRF)
		if res.Page == nil || res.Page.Name != "consent" {
			t.Fatalf("sign-in of flow 1: %+v", res)
		}
		c1 := res.Page
		if res = login(p2.Flow, p2.CSRF); res.Page == nil || res.Page.Name != "consent" {
			t.Fatalf("sign-in of flow 2: %+v", res)
		}
		c2 := res.Page
		res, _ = b.Get(e.in.URL + "/oauth2/sessions/logout")
		if res.Page == nil || res.Page.Name != "logout" || res.Page.CSRF == "" {
			t.Fatalf("logout confirm page: %+v", res)
		}
		logoutToken := res.Page.CSRF

		for name, csrf := range map[string]string{"the flow's login token": p1.CSRF, "another flow's consent token": c2.CSRF,
			"another browser's token": po.CSRF, "a logout token": logoutToken} {
			refused("consent with "+name, "consent", consent(c1.Flow, csrf))
		}
		refused("login form with the flow's consent token", "login", login(c1.Flow, c1.CSRF))
		refused("login form with a logout token", "login", login(c1.Flow, logoutToken))

		for name, csrf := range map[string]string{"a login token": p1.CSRF, "a consent token": c1.CSRF} {
			res, _ = b.Post(e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"}, "csrf_token": {csrf}})
			errorPage(t, "logout confirmed with "+name, res, "/oauth2/sessions/logout", "INVALID_REQUEST", http.StatusBadRequest)
		}
		if !e.signedIn(b) {
			t.Fatal("signed out by a logout confirmed with a login or consent token")
		}

		e.code(consent(c1.Flow, c1.CSRF), a1)
	})
}

// TestAdversarialLoginReplay: a login or consent POST replayed after the
// flow ended (the code was issued) is the INVALID_TOKEN error page, 400: no
// redirect, no code, no new session cookie (Set-Cookie absent), even with
// another account's credentials; the browser keeps the session it had.
func TestAdversarialLoginReplay(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.in.CreateUser(t, e.in.Ctx(), otherEmail, password)
		fp, fsecret := e.in.CreateClient(t, e.in.Ctx(), firstParty())
		fr := e.newRP(fp, fsecret, e.in.URL)
		replayed := func(name string, r advResp, b *servertest.Browser, session string) {
			t.Helper()
			if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" || r.page() != "error" || r.code() != "INVALID_TOKEN" {
				t.Errorf("%s: %d Location %q page %q code %q, want the INVALID_TOKEN error page, 400", name, r.StatusCode, r.Header.Get("Location"), r.page(), r.code())
			}
			if c, _ := advSetCookieNamed(r.Response, "gh_session"); c != nil {
				t.Errorf("%s: sets the session cookie %+v", name, c)
			}
			if b.Cookie("gh_session") != session {
				t.Errorf("%s: the browser's session changed", name)
			}
		}

		// First-party: the login POST ends the flow with the code.
		b := servertest.NewBrowser(e.in.URL)
		nf := advNoFollow(b)
		a := fr.request()
		res, _ := b.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page: %+v", res)
		}
		form := url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}}
		r := advSend(t, nf, http.MethodPost, e.in.URL+"/login", form, "")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), redirectURI) || advLocation(t, r).Query().Get("code") == "" {
			t.Fatalf("login: %d %s, want 303 to the client with a code", r.StatusCode, r.Header.Get("Location"))
		}
		session := b.Cookie("gh_session")
		replayed("login replayed", advSend(t, nf, http.MethodPost, e.in.URL+"/login", form, ""), b, session)
		form.Set("email", otherEmail)
		replayed("login replayed with another account", advSend(t, nf, http.MethodPost, e.in.URL+"/login", form, ""), b, session)

		// With consent: both the login and the consent POST are replayed.
		b = servertest.NewBrowser(e.in.URL)
		nf = advNoFollow(b)
		a = e.rp.request()
		res, _ = b.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page: %+v", res)
		}
		loginForm := url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}}
		res, _ = b.Post(e.in.URL+"/login", loginForm)
		if res.Page == nil || res.Page.Name != "consent" {
			t.Fatalf("after login: %+v", res)
		}
		consentForm := url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "decision": {"allow"}}
		res, _ = b.Post(e.in.URL+"/consent", consentForm)
		e.code(res, a)
		session = b.Cookie("gh_session")
		replayed("consent replayed", advSend(t, nf, http.MethodPost, e.in.URL+"/consent", consentForm, ""), b, session)
		replayed("login replayed after consent", advSend(t, nf, http.MethodPost, e.in.URL+"/login", loginForm, ""), b, session)
	})
}

// TestAdversarialSessionCookieAfterLogout: after an RP-initiated logout
// (valid id_token_hint: 303 to the registered post_logout_redirect_uri
// with state) the session cookie is deleted in the response (empty value,
// Max-Age<=0, Path=/) and the old value is dead server-side: a browser that
// kept a copy gets login_required with prompt=none and the login page
// without it.
func TestAdversarialSessionCookieAfterLogout(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b, hint := e.idTokenOf(e.rp, email)
		old := b.Cookie("gh_session")
		if old == "" {
			t.Fatal("no session cookie")
		}
		r := advSend(t, advNoFollow(b), http.MethodGet, e.in.URL+"/oauth2/sessions/logout?"+url.Values{"id_token_hint": {hint},
			"post_logout_redirect_uri": {logoutURI}, "state": {"bye-state"}}.Encode(), nil, "")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != logoutURI+"?state=bye-state" {
			t.Fatalf("logout: %d %q, want 303 to %s?state=bye-state", r.StatusCode, r.Header.Get("Location"), logoutURI)
		}
		c, _ := advSetCookieNamed(r.Response, "gh_session")
		if c == nil || c.Value != "" || c.MaxAge >= 0 || c.Path != "/" {
			t.Errorf("logout's session Set-Cookie %+v, want the cookie deleted (empty, Max-Age<=0, Path=/)", c)
		}
		if b.Cookie("gh_session") != "" {
			t.Error("the browser still holds the session cookie after logout")
		}

		kept := servertest.NewBrowser(e.in.URL)
		advSetCookie(kept, e.in.URL, "gh_session", old)
		a := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := kept.Get(a.url)
		if got := e.authError(res, a); got != "login_required" {
			t.Errorf("old session cookie after logout, prompt=none: %q, want login_required", got)
		}
		if res, _ := kept.Get(e.rp.request().url); res.Page == nil || res.Page.Name != "login" {
			t.Errorf("old session cookie after logout: %+v, want the login page", res)
		}
	})
}

// advCheckCookie checks the attributes every gatehouse cookie has:
// HttpOnly, SameSite=Lax, Path=/, no Domain; Secure (and the __Host- prefix,
// which the caller puts in name) exactly when secure; a value of at least
// 128 random bits.
func advCheckCookie(t *testing.T, where string, r *http.Response, name string, secure bool) string {
	t.Helper()
	c, line := advSetCookieNamed(r, name)
	if c == nil {
		t.Errorf("%s: no Set-Cookie %s (got %q)", where, name, r.Header.Values("Set-Cookie"))
		return ""
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" ||
		strings.Contains(strings.ToLower(line), "domain=") || c.Secure != secure {
		t.Errorf("%s: Set-Cookie %q, want HttpOnly; SameSite=Lax; Path=/; no Domain; Secure=%v", where, line, secure)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || len(raw) < 16 {
		t.Errorf("%s: cookie value %q is not 128+ random bits", where, c.Value)
	}
	return c.Value
}

// TestAdversarialCookieAttributesHTTP: servertest's issuer is
// http://127.0.0.1:port, so cookies have no __Host- prefix and no Secure
// (web.Cookies: dropped over http); the rest must hold: the device cookie
// set by /oauth2/auth and the session cookie set by the login POST (default
// tenant gh_session, acme gh_session_acme) are HttpOnly, SameSite=Lax,
// Path=/, without Domain, with 128+ bit values.
func TestAdversarialCookieAttributesHTTP(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		fp, _ := e.in.CreateClient(t, e.in.Ctx(), firstParty())
		for _, tc := range []struct {
			name, base, clientID, session string
		}{
			{"default", e.in.URL, fp.ID, "gh_session"},
			{"acme", acme.url, acme.client.ID, "gh_session_acme"},
		} {
			nf := advNoFollow(servertest.NewBrowser(e.in.URL))
			page := advSend(t, nf, http.MethodGet, advAuthURL(tc.base, tc.clientID, redirectURI), nil, "")
			if page.StatusCode != http.StatusOK || page.page() != "login" {
				t.Fatalf("%s: authorization: %d page %q, want the login page", tc.name, page.StatusCode, page.page())
			}
			advCheckCookie(t, tc.name+" /oauth2/auth", page.Response, "gh_device", false)
			r := advSend(t, nf, http.MethodPost, tc.base+"/login", url.Values{"flow": {page.flowID()}, "csrf_token": {page.csrf()},
				"email": {email}, "password": {password}}, "")
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: login: %d %s", tc.name, r.StatusCode, r.code())
			}
			advCheckCookie(t, tc.name+" POST /login", r.Response, tc.session, false)
		}
	})
}

// TestAdversarialCookieAttributesHTTPS: with an https issuer every cookie is
// __Host- prefixed, Secure, HttpOnly, SameSite=Lax, Path=/, without Domain
// (default tenant and acme), no unprefixed copy is set, and pages carry
// HSTS. The server is reached over plain http here (the issuer only decides
// the cookie form), so cookies are passed by hand.
func TestAdversarialCookieAttributesHTTPS(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		cfg := servertest.Config(t, backend)
		cfg.Issuer = "https://idp.example"
		in := servertest.Start(t, cfg, servertest.Options{})
		acme := tenant.With(in.Ctx(), "acme")
		if err := in.Store().CreateTenant(in.Ctx(), storage.Tenant{ID: "acme", Name: "acme"}); err != nil {
			t.Fatal(err)
		}
		if err := in.Services().Provider.Keys.Ensure(acme); err != nil {
			t.Fatal(err)
		}
		nf := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tc := range []struct {
			name, prefix, session string
			ctx                   context.Context
		}{
			{"default", "", "__Host-gh_session", in.Ctx()},
			{"acme", "/t/acme", "__Host-gh_session_acme", acme},
		} {
			in.CreateUser(t, tc.ctx, email, password)
			c, _ := in.CreateClient(t, tc.ctx, firstParty())
			base := in.URL + tc.prefix
			page := advSend(t, nf, http.MethodGet, advAuthURL(base, c.ID, redirectURI), nil, "")
			if page.StatusCode != http.StatusOK || page.page() != "login" || page.csrf() == "" {
				t.Fatalf("%s: authorization: %d page %q %s, want the login page", tc.name, page.StatusCode, page.page(), page.code())
			}
			device := advCheckCookie(t, tc.name+" /oauth2/auth", page.Response, "__Host-gh_device", true)
			if plain, _ := advSetCookieNamed(page.Response, "gh_device"); plain != nil {
				t.Errorf("%s: an unprefixed device cookie is set too", tc.name)
			}
			cookie := "__Host-gh_device=" + device
			if hsts := page.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
				t.Errorf("%s: login page Strict-Transport-Security %q", tc.name, hsts)
			}
			r := advSend(t, nf, http.MethodPost, base+"/login", url.Values{"flow": {page.flowID()}, "csrf_token": {page.csrf()},
				"email": {email}, "password": {password}}, cookie)
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), redirectURI) {
				t.Fatalf("%s: login: %d %q %s", tc.name, r.StatusCode, r.Header.Get("Location"), r.code())
			}
			advCheckCookie(t, tc.name+" POST /login", r.Response, tc.session, true)
			if plain, _ := advSetCookieNamed(r.Response, strings.TrimPrefix(tc.session, "__Host-")); plain != nil {
				t.Errorf("%s: an unprefixed session cookie is set too", tc.name)
			}
		}
	})
}

// TestAdversarialPostRedirectsAre303: every redirect answering a POST is
// 303 See Other (never 302 or 307, which would repeat the POST or leave the
// method to the browser): the authorization request sent as a form (to the
// login page; an error back to the client), the login POST (to consent; to
// the client for a first-party client), the consent POST (allow and deny),
// the logout confirmation and a logout POST with a hint. (An authorization
// that needs a sign-in answers with the login page itself: 200, no
// redirect.)
func TestAdversarialPostRedirectsAre303(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		spec := firstParty()
		spec.PostLogoutRedirectURIs = []string{logoutURI}
		fp, fsecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		fr := e.newRP(fp, fsecret, e.in.URL)
		b := servertest.NewBrowser(e.in.URL)
		nf := advNoFollow(b)
		see := func(name string, r advResp, wantPrefix string) *url.URL {
			t.Helper()
			if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), wantPrefix) {
				t.Fatalf("%s: %d Location %q, want 303 to %s…", name, r.StatusCode, r.Header.Get("Location"), wantPrefix)
			}
			return advLocation(t, r)
		}
		form := func(a authRequest) url.Values {
			u, _ := url.Parse(a.url)
			return u.Query()
		}

		loginPage := func(name string, r advResp) advResp {
			t.Helper()
			if r.StatusCode != http.StatusOK || r.page() != "login" || r.Header.Get("Location") != "" {
				t.Fatalf("%s: %d page %q Location %q, want the login page", name, r.StatusCode, r.page(), r.Header.Get("Location"))
			}
			return r
		}
		a := e.rp.request()
		page := loginPage("POST /oauth2/auth", advSend(t, nf, http.MethodPost, e.in.URL+"/oauth2/auth", form(a), ""))
		loc := see("POST /login", advSend(t, nf, http.MethodPost, e.in.URL+"/login", url.Values{"flow": {page.flowID()},
			"csrf_token": {page.csrf()}, "email": {email}, "password": {password}}, ""), "/consent?flow=")
		page = advSend(t, nf, http.MethodGet, loc.String(), nil, "")
		loc = see("POST /consent allow", advSend(t, nf, http.MethodPost, e.in.URL+"/consent", url.Values{"flow": {page.flowID()},
			"csrf_token": {page.csrf()}, "decision": {"allow"}}, ""), redirectURI)
		if loc.Query().Get("code") == "" {
			t.Errorf("consent allow: %s, want a code", loc)
		}

		a = e.rp.request(oauth2.SetAuthURLParam("prompt", "consent"))
		loc = see("POST /oauth2/auth prompt=consent", advSend(t, nf, http.MethodPost, e.in.URL+"/oauth2/auth", form(a), ""), "/consent?flow=")
		page = advSend(t, nf, http.MethodGet, loc.String(), nil, "")
		loc = see("POST /consent deny", advSend(t, nf, http.MethodPost, e.in.URL+"/consent", url.Values{"flow": {page.flowID()},
			"csrf_token": {page.csrf()}, "decision": {"deny"}}, ""), redirectURI)
		if loc.Query().Get("error") != "access_denied" {
			t.Errorf("consent deny: %s, want error=access_denied", loc)
		}

		fresh := advNoFollow(servertest.NewBrowser(e.in.URL))
		a = fr.request(oauth2.SetAuthURLParam("prompt", "none"))
		loc = see("POST /oauth2/auth prompt=none without a session", advSend(t, fresh, http.MethodPost, e.in.URL+"/oauth2/auth", form(a), ""), redirectURI)
		if loc.Query().Get("error") != "login_required" {
			t.Errorf("prompt=none without a session: %s, want login_required", loc)
		}
		a = fr.request()
		page = loginPage("POST /oauth2/auth first-party", advSend(t, fresh, http.MethodPost, e.in.URL+"/oauth2/auth", form(a), ""))
		loc = see("POST /login first-party", advSend(t, fresh, http.MethodPost, e.in.URL+"/login", url.Values{"flow": {page.flowID()},
			"csrf_token": {page.csrf()}, "email": {email}, "password": {password}}, ""), redirectURI)
		code := loc.Query().Get("code")
		tok, err := fr.exchange(code, a.verifier)
		if err != nil {
			t.Fatal(err)
		}

		page = advSend(t, nf, http.MethodGet, e.in.URL+"/oauth2/sessions/logout?"+url.Values{"client_id": {e.client.ID}}.Encode(), nil, "")
		if page.page() != "logout" || page.csrf() == "" {
			t.Fatalf("logout confirm page: %d %q", page.StatusCode, page.page())
		}
		see("POST logout confirmation", advSend(t, nf, http.MethodPost, e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"},
			"csrf_token": {page.csrf()}, "client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI}}, ""), logoutURI)

		raw, _ := tok.Extra("id_token").(string)
		see("POST logout with a hint", advSend(t, fresh, http.MethodPost, e.in.URL+"/oauth2/sessions/logout", url.Values{"id_token_hint": {raw},
			"post_logout_redirect_uri": {logoutURI}}, ""), logoutURI)
	})
}

// TestAdversarialPageSecurityHeaders: every HTML page — login (fresh and
// re-rendered after a wrong password, 401), consent (fresh and re-rendered,
// 400), the error pages of /login and /oauth2/auth, the logout confirmation,
// the signed-out page, and acme's login page — is text/html with
// Content-Security-Policy frame-ancestors 'none', X-Frame-Options: DENY,
// Referrer-Policy: no-referrer, X-Content-Type-Options: nosniff and
// Cache-Control: no-store (the pages holding a CSRF token are checked to
// hold one). The 303 that carries the code back to the client is no-store
// with Referrer-Policy: no-referrer as well.
func TestAdversarialPageSecurityHeaders(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.advAcme()
		b := servertest.NewBrowser(e.in.URL)
		nf := advNoFollow(b)
		check := func(name string, r advResp, status int, page string, csrf bool) {
			t.Helper()
			h := r.Header
			if r.StatusCode != status || r.page() != page {
				t.Errorf("%s: %d page %q, want %d %q", name, r.StatusCode, r.page(), status, page)
			}
			if csrf && r.csrf() == "" {
				t.Errorf("%s: no CSRF token on the page", name)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: Content-Type %q CSP %q X-Frame-Options %q Referrer-Policy %q X-Content-Type-Options %q Cache-Control %q",
					name, h.Get("Content-Type"), h.Get("Content-Security-Policy"), h.Get("X-Frame-Options"), h.Get("Referrer-Policy"),
					h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
			}
		}

		a := e.rp.request()
		login := advSend(t, nf, http.MethodGet, a.url, nil, "")
		check("login page (the authorization's answer)", login, http.StatusOK, "login", true)
		check("login page (GET /login)", advSend(t, nf, http.MethodGet, e.in.URL+"/login?flow="+url.QueryEscape(login.flowID()), nil, ""),
			http.StatusOK, "login", true)
		check("login page after a wrong password", advSend(t, nf, http.MethodPost, e.in.URL+"/login", url.Values{"flow": {login.flowID()},
			"csrf_token": {login.csrf()}, "email": {email}, "password": {"wrong password, sorry"}}, ""), http.StatusUnauthorized, "login", true)
		r := advSend(t, nf, http.MethodPost, e.in.URL+"/login", url.Values{"flow": {login.flowID()}, "csrf_token": {login.csrf()},
			"email": {email}, "password": {password}}, "")
		consent := advSend(t, nf, http.MethodGet, advLocation(t, r).String(), nil, "")
		check("consent page", consent, http.StatusOK, "consent", true)
		check("consent page re-rendered", advSend(t, nf, http.MethodPost, e.in.URL+"/consent", url.Values{"flow": {consent.flowID()},
			"csrf_token": {consent.csrf()}}, ""), http.StatusBadRequest, "consent", true)
		r = advSend(t, nf, http.MethodPost, e.in.URL+"/consent", url.Values{"flow": {consent.flowID()}, "csrf_token": {consent.csrf()},
			"decision": {"allow"}}, "")
		if r.StatusCode != http.StatusSeeOther || advLocation(t, r).Query().Get("code") == "" || r.Header.Get("Cache-Control") != "no-store" ||
			r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("code redirect: %d %q Cache-Control %q Referrer-Policy %q", r.StatusCode, r.Header.Get("Location"),
				r.Header.Get("Cache-Control"), r.Header.Get("Referrer-Policy"))
		}
		check("error page of /login", advSend(t, nf, http.MethodGet, e.in.URL+"/login?flow=no-such-flow", nil, ""), http.StatusBadRequest, "error", false)
		check("error page of /oauth2/auth", advSend(t, nf, http.MethodGet, advAuthURL(e.in.URL, "no-such-client", redirectURI), nil, ""),
			http.StatusBadRequest, "error", false)
		confirm := advSend(t, nf, http.MethodGet, e.in.URL+"/oauth2/sessions/logout", nil, "")
		check("logout confirmation page", confirm, http.StatusOK, "logout", true)
		check("signed-out page", advSend(t, nf, http.MethodPost, e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"},
			"csrf_token": {confirm.csrf()}}, ""), http.StatusOK, "logged_out", false)

		check("acme login page", advSend(t, nf, http.MethodGet, acme.rp.request().url, nil, ""), http.StatusOK, "login", true)
	})
}

// ---------------------------------------------------------------------
// 3. redirect_uri tricks at /oauth2/auth
// ---------------------------------------------------------------------

// TestAdversarialRedirectURITricks: near misses of a registered redirect
// URI — extra path, query or fragment, trailing slash, case, user-info
// tricks that move the host (http://127.0.0.1:9999@evil.example/),
// percent-encoded and dot-segment paths, other spellings of the loopback
// host, scheme changes, and a port change on a non-loopback or a
// "localhost" URI, a second redirect_uri after an unregistered one — are
// an INVALID_REQUEST error page (400) at
// /oauth2/auth, never a redirect (not to the URI, not to the login page).
// A port change on a 127.0.0.1 or [::1] URI is accepted (RFC 8252 §7.3):
// the code goes to the requested port, is redeemable only with that
// redirect_uri, and not with the registered one.
func TestAdversarialRedirectURITricks(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const web, local, v6 = "https://app.example.com/cb", "http://localhost:9999/cb", "http://[::1]:9999/cb"
		wc, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Web", RedirectURIs: []string{web}, Scopes: []string{"openid"}})
		lc, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Localhost", RedirectURIs: []string{local}, Scopes: []string{"openid"}})
		vc, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "IPv6", RedirectURIs: []string{v6}, Scopes: []string{"openid"}})
		// redirect_uri given twice, the unregistered one first.
		_, rest, _ := strings.Cut(advAuthURL(e.in.URL, e.client.ID, redirectURI), "?")
		twice := e.in.URL + "/oauth2/auth?redirect_uri=" + url.QueryEscape("https://evil.example/cb") + "&" + rest
		res, err := servertest.NewBrowser(e.in.URL).Get(twice)
		if err != nil {
			t.Fatal(err)
		}
		errorPage(t, "redirect_uri twice, unregistered first", res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		// Registered first: still refused (RFC 6749 §3.1), never a code.
		res, err = servertest.NewBrowser(e.in.URL).Get(e.in.URL + "/oauth2/auth?" + rest + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"))
		if err != nil {
			t.Fatal(err)
		}
		errorPage(t, "redirect_uri twice, registered first", res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		res, err = servertest.NewBrowser(e.in.URL).Get(e.in.URL + "/oauth2/auth?" + rest + "&state=second")
		if err != nil {
			t.Fatal(err)
		}
		errorPage(t, "state twice", res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		for _, tc := range []struct{ client, redirect string }{
			{e.client.ID, "http://127.0.0.1:9999@evil.example/"},
			{e.client.ID, "http://127.0.0.1:9999@evil.example/callback"},
			{e.client.ID, "http://127.0.0.1:9999%40evil.example/callback"},
			{e.client.ID, "http://127.0.0.1:9999/callback#frag"},
			{e.client.ID, "http://127.0.0.1:9999/callback/"},
			{e.client.ID, "http://127.0.0.1:9999/callback/https://evil.example/"},
			{e.client.ID, "http://127.0.0.1:9999/callback?redirect=https://evil.example/"},
			{e.client.ID, "http://127.0.0.1:9999/CALLBACK"},
			{e.client.ID, "http://127.0.0.1:9999/callback%2F"},
			{e.client.ID, "http://127.0.0.1:9999/callback%2f..%2fevil"},
			{e.client.ID, "http://127.0.0.1:9999/x/../callback"},
			{e.client.ID, "http://127.0.0.1:9999/./callback"},
			{e.client.ID, "http://127.0.0.1:9999/%2563allback"},
			{e.client.ID, "http://127.0.0.1:9999/callback%00"},
			{e.client.ID, "http://127.0.0.2:9999/callback"},
			{e.client.ID, "http://127.1:9999/callback"},
			{e.client.ID, "http://2130706433:9999/callback"},
			{e.client.ID, "http://0x7f.0.0.1:9999/callback"},
			{e.client.ID, "http://[::ffff:127.0.0.1]:9999/callback"},
			{e.client.ID, "http://[::1]:9999/callback"},
			{e.client.ID, "http://localhost:9999/callback"},
			{e.client.ID, "http://127.0.0.1.evil.example:9999/callback"},
			{e.client.ID, "https://127.0.0.1:9999/callback"},
			{e.client.ID, "//127.0.0.1:9999/callback"},
			{e.client.ID, "127.0.0.1:9999/callback"},
			{e.client.ID, " http://127.0.0.1:9999/callback"},
			{e.client.ID, "http://127.0.0.1:9999\\@evil.example/callback"},
			{wc.ID, web + "/"},
			{wc.ID, web + "?x=1"},
			{wc.ID, web + "#f"},
			{wc.ID, "https://APP.example.com/cb"},
			{wc.ID, "HTTPS://app.example.com/cb"},
			{wc.ID, "https://app.example.com:443/cb"},
			{wc.ID, "https://app.example.com:8443/cb"},
			{wc.ID, "https://app.example.com./cb"},
			{wc.ID, "https://app.example.com.evil.example/cb"},
			{wc.ID, "https://app.example.com@evil.example/cb"},
			{wc.ID, "https://evil.example@app.example.com/cb"},
			{wc.ID, "https://app.example.com/%63b"},
			{wc.ID, "https://app.example.com/cb/../cb"},
			{wc.ID, "http://app.example.com/cb"},
			{lc.ID, "http://localhost:1234/cb"},
			{lc.ID, "http://localhost/cb"},
			{lc.ID, "http://127.0.0.1:9999/cb"},
			{vc.ID, "http://127.0.0.1:9999/cb"},
			{vc.ID, "http://[::1]:9999/cb/"},
		} {
			res, err := servertest.NewBrowser(e.in.URL).Get(advAuthURL(e.in.URL, tc.client, tc.redirect))
			if err != nil {
				t.Fatal(err)
			}
			errorPage(t, "redirect_uri "+tc.redirect, res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		}

		// Port changes on loopback IP literals are accepted.
		for _, tc := range []struct{ client, redirect string }{
			{vc.ID, "http://[::1]:4321/cb"},
			{vc.ID, "http://[::1]/cb"},
			{e.client.ID, "http://127.0.0.1/callback"},
		} {
			res, err := servertest.NewBrowser(e.in.URL).Get(advAuthURL(e.in.URL, tc.client, tc.redirect))
			if err != nil {
				t.Fatal(err)
			}
			if res.Page == nil || res.Page.Name != "login" {
				t.Errorf("loopback port change %s: %+v, want the login page", tc.redirect, res)
			}
		}
		const moved = "http://127.0.0.1:4321/callback"
		o := *e.rp.oauth
		o.RedirectURL = moved
		mr := *e.rp
		mr.oauth = &o
		a := mr.request()
		res, err = servertest.NewBrowser(e.in.URL).Authorize(a.url, servertest.Steps{Email: email, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		if res.Redirect == nil || res.Redirect.Host != "127.0.0.1:4321" || res.Redirect.Path != "/callback" ||
			res.Redirect.Query().Get("state") != a.state || res.Redirect.Query().Get("iss") != e.in.URL {
			t.Fatalf("sign-in with a moved loopback port: %+v", res)
		}
		code := res.Redirect.Query().Get("code")
		if _, err := e.rp.exchange(code, a.verifier); err == nil {
			t.Error("code for port 4321 redeemed with the registered redirect_uri (port 9999)")
		} else if c, _, _ := oauthError(t, err); c != "invalid_grant" {
			t.Errorf("code for port 4321 redeemed with port 9999: %s, want invalid_grant", c)
		}
	})
}

// TestAdversarialLoopbackRedirectOnlyPortVaries: SECURITY.md: redirect URIs
// are compared byte for byte, "loopback http://127.0.0.1/[::1] may vary the
// port only", "no normalisation". Variants of the registered
// http://127.0.0.1:9999/callback (and of https://127.0.0.1:8443/cb) that
// differ in something other than the port — user info, scheme case, a
// percent-encoded path character, an empty query or fragment, http in place
// of a registered https — must be an INVALID_REQUEST error page (400) at
// /oauth2/auth and never reach the login page or the client. The browser
// signs in if it is shown the login page, so a failure says where the user
// was sent afterwards (a code, or an error redirect to the variant).
func TestAdversarialLoopbackRedirectOnlyPortVaries(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const tls = "https://127.0.0.1:8443/cb"
		tc, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Loopback TLS", RedirectURIs: []string{tls}, Scopes: []string{"openid"}})
		for _, c := range []struct{ client, redirect string }{
			{e.client.ID, "http://evil.example@127.0.0.1:9999/callback"},
			{e.client.ID, "http://user:pass@127.0.0.1:4321/callback"},
			{e.client.ID, "HTTP://127.0.0.1:9999/callback"},
			{e.client.ID, "http://127.0.0.1:9999/%63allback"},
			{e.client.ID, "http://127.0.0.1:9999/callback?"},
			{e.client.ID, "http://127.0.0.1:9999/callback#"},
			{tc.ID, "http://127.0.0.1:8443/cb"},
		} {
			// Signed in if asked, so that an accepted variant shows where
			// the code would go.
			res, err := servertest.NewBrowser(e.in.URL).Authorize(advAuthURL(e.in.URL, c.client, c.redirect),
				servertest.Steps{Email: email, Password: password})
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect != nil {
				t.Errorf("redirect_uri %s (not registered byte for byte) accepted: after sign-in the browser was sent to %s, want the INVALID_REQUEST error page, 400",
					c.redirect, res.Redirect)
				continue
			}
			errorPage(t, "redirect_uri "+c.redirect, res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)
		}
	})
}
