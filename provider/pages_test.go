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
)

// TestConsentAfterClientDeleted: the client is deleted while its consent
// page is open. Allowing then is a 400 error page (as denying is), not a
// 500: the grant's foreign key fails because the client is gone, which is
// no server failure. No code is issued.
func TestConsentAfterClientDeleted(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b, consent := e.consentPage(e.rp.request())
		if err := e.in.Services().Provider.Clients.Delete(e.in.Ctx(), e.client.ID); err != nil {
			t.Fatal(err)
		}
		for _, decision := range []string{"allow", "deny"} {
			res, err := b.Post(e.in.URL+"/consent", url.Values{"flow": {consent.Flow}, "csrf_token": {consent.CSRF}, "decision": {decision}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect != nil || res.Page == nil || res.Page.Status != 400 || res.Page.Name != "error" {
				t.Errorf("consent %s after the client was deleted: %+v, want a 400 error page", decision, res)
			}
		}
	})
}

// TestConsentAfterSessionEnded: while the consent page is open, another
// account signs in on the same browser, or the browser's session ends
// (logout, revocation). Allowing then issues no code: the browser must
// still be signed in as the flow's account, not only the account be
// active; the app gets access_denied.
func TestConsentAfterSessionEnded(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b, consent := e.consentPage(e.rp.request())
		allow := func(what string) {
			t.Helper()
			res, err := b.Post(e.in.URL+"/consent", url.Values{"flow": {consent.Flow}, "csrf_token": {consent.CSRF}, "decision": {"allow"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect == nil || res.Redirect.Query().Get("code") != "" || res.Redirect.Query().Get("error") != "access_denied" {
				t.Fatalf("consent allowed after %s: %+v, want a redirect with access_denied and no code", what, res)
			}
		}
		// Another account signs in on the same browser meanwhile.
		const otherEmail = "other@example.com"
		e.in.CreateUser(t, e.in.Ctx(), otherEmail, password)
		res, err := b.Get(e.rp.request().url + "&prompt=login")
		if err != nil || res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("want the login page again, got %+v (%v)", res, err)
		}
		if res, err = b.Post(e.in.URL+"/login", url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {otherEmail}, "password": {password}}); err != nil || res.Page == nil {
			t.Fatalf("sign-in of the other account: %+v (%v)", res, err)
		}
		allow("another account signed in")
		// Every session of the browser's account ended.
		other, err := e.in.Services().Accounts.Store.GetUserByEmail(e.in.Ctx(), otherEmail)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.in.Services().Accounts.Store.(storage.Store).RevokeUserLoginSessions(e.in.Ctx(), other.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		allow("the session ended")
	})
}

// TestDiscoveryRevocationAssertionAlgs: the revocation endpoint accepts
// private_key_jwt, so discovery lists the assertion algorithms for it too
// (RFC 8414 §2: MUST be present when private_key_jwt is listed), the same
// as the token endpoint's, without none.
func TestDiscoveryRevocationAssertionAlgs(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		req, _ := http.NewRequest(http.MethodGet, e.in.URL+path, nil)
		_, _, d := send(t, req)
		methods, _ := d["revocation_endpoint_auth_methods_supported"].([]any)
		algs, _ := d["revocation_endpoint_auth_signing_alg_values_supported"].([]any)
		if slices.Contains(methods, any("private_key_jwt")) && (len(algs) == 0 || slices.Contains(algs, any("none")) ||
			!slices.Equal(algs, d["token_endpoint_auth_signing_alg_values_supported"].([]any))) {
			t.Errorf("%s: revocation methods %v, signing algs %v; want the token endpoint's algorithms", path, methods, algs)
		}
	}
}

// TestStaticOnlyFiles: /static/ serves its files and nothing else: a
// missing file or a directory is the catalog's 404 NOT_FOUND with
// no-store (docs/errors.md), not Go's plain-text 404 or a listing.
func TestStaticOnlyFiles(t *testing.T) {
	e := newEnv(t, "sqlite")
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, e.in.URL+path, nil)
		resp, raw, _ := send(t, req)
		return resp, string(raw)
	}
	for _, path := range []string{"/static/nope.css", "/static/", "/static/..%2fpages.go"} {
		resp, body := get(path)
		if resp.StatusCode != 404 || !strings.Contains(body, `"NOT_FOUND"`) || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d Cache-Control %q %q, want 404 NOT_FOUND, no-store", path, resp.StatusCode, resp.Header.Get("Cache-Control"), body)
		}
	}
	if resp, body := get("/static/style.css"); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/css") ||
		resp.Header.Get("Cache-Control") != "public, max-age=3600" || body == "" {
		t.Errorf("GET /static/style.css: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
}
