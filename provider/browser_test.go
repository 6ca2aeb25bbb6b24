package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// BrowserEnv names the variable that makes the browser tests mandatory
// (CI sets it): without Chromium they then fail instead of skipping.
const browserEnv = "GATEHOUSE_TEST_BROWSER"

// chromium returns the path of a Chromium to drive, or skips the test
// (fails it when GATEHOUSE_TEST_BROWSER is set).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("GATEHOUSE_TEST_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv(browserEnv) != "" {
		t.Fatalf("%s is set but no Chromium was found (apt-get install -y chromium, or GATEHOUSE_TEST_CHROMIUM)", browserEnv)
	}
	t.Skipf("no Chromium on PATH: browser tests skipped (apt-get install -y chromium; CI sets %s so they never skip there)", browserEnv)
	return ""
}

// newChromium starts a headless Chromium with its own profile and returns
// a context for chromedp; it is closed when t ends.
func newChromium(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// callback is the relying party's redirect URI, served on loopback: it
// hands each query it receives to the test.
type callback struct {
	url, bye string // redirect URI, post-logout redirect URI
	got      chan url.Values
}

func newCallback(t *testing.T) *callback {
	t.Helper()
	c := &callback{got: make(chan url.Values, 4)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" || r.URL.Path == "/bye" {
			q := r.URL.Query()
			q.Set("path", r.URL.Path)
			c.got <- q
		}
		_, _ = w.Write([]byte("<!doctype html><title>back at the app</title><p id=app>back at the app"))
	}))
	t.Cleanup(srv.Close)
	c.url, c.bye = srv.URL+"/callback", srv.URL+"/bye"
	return c
}

// wait returns the query of the browser's next visit and waits until the
// browser shows the application's page: a navigation started before that
// would abort the one still loading.
func (c *callback) wait(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	select {
	case q := <-c.got:
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#app`))); err != nil {
			t.Fatalf("the browser did not show the application's page: %v", err)
		}
		return q
	case <-time.After(30 * time.Second):
		t.Fatal("the browser never came back to the application")
		return nil
	}
}

// TestBrowserSignIn drives a real browser (headless Chromium) through the
// sign-in path, so what the HTTP-level tests cannot see is checked too:
// the pages' Content-Security-Policy lets their forms post and the
// redirects that follow run, the cookies (device, session) are accepted and
// sent back, and the CSRF tokens round-trip through the DOM. A wrong
// password shows INVALID_CREDENTIALS on the login page; the right one leads
// to the consent page, Allow to the application with a code (state and iss
// intact) that x/oauth2 exchanges and go-oidc verifies. A second
// authorization in the same browser is single sign-on: straight back with a
// code, no page. Deny, after prompt=consent, comes back as access_denied.
// Logout, confirmed on its page, returns to the post-logout URI and ends
// the session (prompt=none: login_required).
func TestBrowserSignIn(t *testing.T) {
	path := chromium(t)
	servertest.Backends(t, func(t *testing.T, backend string) {
		cb := newCallback(t)
		e := newEnv(t, backend, withClient(func(s *provider.ClientSpec) {
			s.RedirectURIs, s.PostLogoutRedirectURIs = []string{cb.url}, []string{cb.bye}
		}))
		ctx := newChromium(t, path)

		a := e.rp.request()
		err := chromedp.Do(ctx,
			chromedp.Navigate(a.url),
			chromedp.WaitVisible(chromedp.CSS(`#email`)),
			chromedp.SendKeys(chromedp.CSS(`#email`), email),
			chromedp.SendKeys(chromedp.CSS(`#password`), "not the password"),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-error-code]`)),
		)
		if err != nil {
			t.Fatalf("login page, wrong password: %v", err)
		}
		code, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-error-code]`), "data-error-code"))
		if err != nil || code.Value != "INVALID_CREDENTIALS" {
			t.Fatalf("wrong password: error code %q (%v), want INVALID_CREDENTIALS", code.Value, err)
		}
		// The page keeps the email typed, not the password.
		kept, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#email`), "value"))
		if err != nil || kept.Value != email {
			t.Fatalf("email after a wrong password: %q (%v), want %q", kept.Value, err, email)
		}
		err = chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`button[value=allow]`)),
			chromedp.Click(chromedp.CSS(`button[value=allow]`)),
		)
		if err != nil {
			t.Fatalf("sign in and consent: %v", err)
		}
		q := cb.wait(t, ctx)
		if q.Get("state") != a.state || q.Get("iss") != e.in.URL || q.Get("code") == "" {
			t.Fatalf("back at the application with %v", q)
		}
		tok, err := e.rp.exchange(q.Get("code"), a.verifier)
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		if idt, claims := e.rp.verifyIDToken(t, tok); idt.Subject != e.user.ID || claims["nonce"] != a.nonce {
			t.Fatalf("id_token sub %q nonce %v, want %q %q", idt.Subject, claims["nonce"], e.user.ID, a.nonce)
		}

		// Single sign-on: the session cookie signs the browser in at once.
		a = e.rp.request()
		if err := chromedp.Do(ctx, chromedp.Navigate(a.url)); err != nil {
			t.Fatalf("second authorization: %v", err)
		}
		if q := cb.wait(t, ctx); q.Get("state") != a.state || q.Get("code") == "" {
			t.Fatalf("single sign-on came back with %v", q)
		}

		// prompt=consent asks again; Deny is access_denied at the app.
		a = e.rp.request()
		a.url += "&prompt=consent"
		err = chromedp.Do(ctx,
			chromedp.Navigate(a.url),
			chromedp.WaitVisible(chromedp.CSS(`button[value=deny]`)),
			chromedp.Click(chromedp.CSS(`button[value=deny]`)),
		)
		if err != nil {
			t.Fatalf("consent page, deny: %v", err)
		}
		if q := cb.wait(t, ctx); q.Get("error") != "access_denied" || q.Get("state") != a.state || q.Get("code") != "" {
			t.Fatalf("deny came back with %v", q)
		}

		// Logout without an id_token_hint: a confirm page, then back to
		// the registered post-logout URI with state; the session is over.
		logout := e.in.URL + "/oauth2/sessions/logout?" + url.Values{"client_id": {e.client.ID},
			"post_logout_redirect_uri": {cb.bye}, "state": {"bye-state"}}.Encode()
		err = chromedp.Do(ctx,
			chromedp.Navigate(logout),
			chromedp.WaitVisible(chromedp.CSS(`button[value=yes]`)),
			chromedp.Click(chromedp.CSS(`button[value=yes]`)),
		)
		if err != nil {
			t.Fatalf("logout confirm page: %v", err)
		}
		if q := cb.wait(t, ctx); q.Get("path") != "/bye" || q.Get("state") != "bye-state" {
			t.Fatalf("logout came back with %v", q)
		}
		a = e.rp.request()
		if err := chromedp.Do(ctx, chromedp.Navigate(a.url+"&prompt=none")); err != nil {
			t.Fatalf("authorization after logout: %v", err)
		}
		if q := cb.wait(t, ctx); q.Get("error") != "login_required" || q.Get("state") != a.state {
			t.Fatalf("prompt=none after logout came back with %v", q)
		}
	})
}
