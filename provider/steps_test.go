package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
	"golang.org/x/oauth2"
)

// consentPage walks a new browser through the login page to the consent
// page of a fresh authorization and returns both.
func (e *env) consentPage(a authRequest) (*servertest.Browser, *servertest.Page) {
	e.t.Helper()
	b := servertest.NewBrowser(e.in.URL)
	res, err := b.Get(a.url)
	if err != nil || res.Page == nil || res.Page.Name != "login" {
		e.t.Fatalf("first page = %+v, %v", res, err)
	}
	p := res.Page
	res, err = b.Post(e.in.URL+"/login", url.Values{"flow": {p.Flow}, "csrf_token": {p.CSRF}, "email": {email}, "password": {password}})
	if err != nil || res.Page == nil || res.Page.Name != "consent" || res.Page.ErrorCode != "" {
		e.t.Fatalf("after login = %+v, %v", res, err)
	}
	return b, res.Page
}

// TestConsentFailures: the consent form without its CSRF token or with an
// unknown decision is shown again with INVALID_REQUEST; the login page of a
// flow already at consent sends the browser on to it; of several
// simultaneous "allow" submissions one gets the code and the others an
// INVALID_TOKEN page (the flow is written once, with the code); a flow used
// up or unknown is INVALID_TOKEN.
func TestConsentFailures(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b, page := e.consentPage(e.rp.request())
		consentURL := e.in.URL + "/consent"

		for name, form := range map[string]url.Values{
			"no CSRF token":    {"flow": {page.Flow}, "decision": {"allow"}},
			"unknown decision": {"flow": {page.Flow}, "csrf_token": {page.CSRF}, "decision": {"maybe"}},
		} {
			res, _ := b.Post(consentURL, form)
			if res.Page == nil || res.Page.Name != "consent" || res.Page.ErrorCode != "INVALID_REQUEST" {
				t.Errorf("%s: %+v", name, res)
			}
		}
		if res, _ := b.Get(e.in.URL + "/login?flow=" + page.Flow); res.Page == nil || res.Page.Name != "consent" {
			t.Errorf("login page of a flow at consent: %+v", res)
		}

		allow := url.Values{"flow": {page.Flow}, "csrf_token": {page.CSRF}, "decision": {"allow"}}
		if codes := racedSubmissions(t, postAtOnce(b, consentURL, allow, 4), gotCode); codes != 1 {
			t.Fatalf("%d codes from one flow, want 1", codes)
		}
		for name, flowID := range map[string]string{"used up": page.Flow, "unknown": "no-such-flow"} {
			res, _ := b.Post(consentURL, url.Values{"flow": {flowID}, "csrf_token": {page.CSRF}, "decision": {"allow"}})
			if res.Page == nil || res.Page.ErrorCode != "INVALID_TOKEN" {
				t.Errorf("%s flow: %+v", name, res)
			}
		}
	})
}

// TestConcurrentLoginSubmitBeforeConsent: the login form posted several
// times at once for a client that still needs consent: each submission ends
// on the consent page or on an INVALID_TOKEN page (the flow moved on under
// it), never back at the client with an error.
func TestConcurrentLoginSubmitBeforeConsent(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		res, err := b.Get(e.rp.request().url)
		if err != nil || res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("first page = %+v, %v", res, err)
		}
		form := url.Values{"flow": {res.Page.Flow}, "csrf_token": {res.Page.CSRF}, "email": {email}, "password": {password}}
		onConsent := func(r servertest.Result) bool {
			return r.Page != nil && r.Page.Name == "consent" && r.Page.ErrorCode == ""
		}
		if racedSubmissions(t, postAtOnce(b, e.in.URL+"/login", form, 4), onConsent) == 0 {
			t.Fatal("no submission reached the consent page")
		}
	})
}

// TestSignInAgainEndsOldSession: signing in again in a browser that has a
// session replaces it (a new cookie value, against session fixation):
// the old cookie no longer signs anyone in, the new one does.
func TestSignInAgainEndsOldSession(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		e.signIn(b, e.rp.request())
		old := b.Cookie("gh_session")
		e.signIn(b, e.rp.request(oauth2.SetAuthURLParam("prompt", "login")))
		if now := b.Cookie("gh_session"); now == "" || now == old {
			t.Fatalf("session cookie after signing in again: %q (before %q)", now, old)
		}

		stale := servertest.NewBrowser(e.in.URL)
		u, _ := url.Parse(e.in.URL)
		stale.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "gh_session", Value: old, Path: "/"}})
		a := e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := stale.Get(a.url)
		if got := e.authError(res, a); got != "login_required" {
			t.Errorf("old session cookie, prompt=none: %q, want login_required", got)
		}
		a = e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		e.code(res, a)
	})
}
