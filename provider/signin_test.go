package provider_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"golang.org/x/oauth2"
)

// signInFaults fails, on demand, the insert of an authorization code, or the
// outermost transaction after its work (as a commit that fails would).
type signInFaults struct {
	storage.Store
	failCode, failCommit atomic.Bool
}

type outerTx struct{}

func (f *signInFaults) CreateToken(ctx context.Context, kind storage.TokenKind, t storage.Token) error {
	if kind == storage.TokenCode && f.failCode.Load() {
		return fmt.Errorf("injected fault: %w", storage.ErrUnavailable)
	}
	return f.Store.CreateToken(ctx, kind, t)
}

func (f *signInFaults) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	outermost := ctx.Value(outerTx{}) == nil
	return f.Store.InTx(ctx, func(ctx context.Context) error {
		if err := fn(context.WithValue(ctx, outerTx{}, true)); err != nil {
			return err
		}
		if outermost && f.failCommit.Load() {
			return fmt.Errorf("injected commit fault: %w", storage.ErrUnavailable)
		}
		return nil
	})
}

// loginPage opens a sign-in page for a new authorization in b.
func (e *env) loginPage(b *servertest.Browser, opts ...oauth2.AuthCodeOption) (authRequest, *servertest.Page) {
	e.t.Helper()
	a := e.rp.request(opts...)
	res, err := b.Get(a.url)
	if err != nil || res.Page == nil || res.Page.Name != "login" {
		e.t.Fatalf("login page: %+v, %v", res, err)
	}
	return a, res.Page
}

// sessionsStarted counts the account's login.succeeded events: one per
// session stored.
func (e *env) sessionsStarted() int {
	e.t.Helper()
	evs, err := e.in.Store().ListEvents(e.in.Ctx(), storage.EventFilter{Type: events.LoginSucceeded, Subject: e.user.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(evs)
}

// TestSignInCommitsOnce: the login step stores the session, its event and
// the code in one transaction, and holds its answer until that commits. So a
// failure to store the code, or a commit that fails, leaves no session behind
// (no cookie, no event, not signed in) and sends no code; the user gets an
// error and signs in once the database is back.
func TestSignInCommitsOnce(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		var fs *signInFaults
		e := newEnv(t, backend, withClient(func(s *provider.ClientSpec) { s.SkipConsent = true }),
			withOptions(servertest.Options{WrapStore: func(s storage.Store) storage.Store {
				fs = &signInFaults{Store: s}
				return fs
			}}))
		form := func(p *servertest.Page) url.Values {
			return url.Values{"flow": {p.Flow}, "csrf_token": {p.CSRF}, "email": {email}, "password": {password}}
		}

		t.Run("code insert fails", func(t *testing.T) {
			b := servertest.NewBrowser(e.in.URL)
			_, p := e.loginPage(b)
			fs.failCode.Store(true)
			res, err := b.Post(e.in.URL+"/login", form(p))
			fs.failCode.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			errorPage(t, "code insert failing", res, "/login", "SERVICE_UNAVAILABLE", 503)
			if c := b.Cookie("gh_session"); c != "" || e.signedIn(b) || e.sessionsStarted() != 0 {
				t.Fatalf("the session outlived the failed sign-in: cookie %q, signed in %v, %d login.succeeded events", c, e.signedIn(b), e.sessionsStarted())
			}
		})

		t.Run("commit fails", func(t *testing.T) {
			b := servertest.NewBrowser(e.in.URL)
			_, p := e.loginPage(b)
			fs.failCommit.Store(true)
			res, err := b.Post(e.in.URL+"/login", form(p))
			fs.failCommit.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Redirect != nil || res.Page == nil || res.Page.Name != "login" || res.Page.ErrorCode != "SERVICE_UNAVAILABLE" || res.Page.Status != 503 {
				t.Fatalf("commit failing: %+v, want the login page again with SERVICE_UNAVAILABLE (503) and no code", res)
			}
			if c := b.Cookie("gh_session"); c != "" || e.signedIn(b) || e.sessionsStarted() != 0 {
				t.Fatalf("the session outlived the failed commit: cookie %q, signed in %v, %d login.succeeded events", c, e.signedIn(b), e.sessionsStarted())
			}
			// The same form works once the database does.
			res, err = b.Post(e.in.URL+"/login", form(p))
			if err != nil || !gotCode(res) {
				t.Fatalf("after the fault: %+v, %v", res, err)
			}
			if !e.signedIn(b) || e.sessionsStarted() != 1 {
				t.Fatalf("after the fault: signed in %v, %d login.succeeded events, want 1", e.signedIn(b), e.sessionsStarted())
			}
		})
	})
}

// TestConcurrentLoginSubmitOneSession: of one form posted several times at
// once, only the submission that got the code leaves a session: the others
// lost the flow inside their transaction (or before it), and their sessions
// rolled back with it.
func TestConcurrentLoginSubmitOneSession(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withClient(func(s *provider.ClientSpec) { s.SkipConsent = true }))
		b := servertest.NewBrowser(e.in.URL)
		_, p := e.loginPage(b)
		form := url.Values{"flow": {p.Flow}, "csrf_token": {p.CSRF}, "email": {email}, "password": {password}}
		if codes := racedSubmissions(t, postAtOnce(b, e.in.URL+"/login", form, 4), gotCode); codes != 1 {
			t.Fatalf("%d codes from one flow, want 1", codes)
		}
		if n := e.sessionsStarted(); n != 1 {
			t.Fatalf("%d sessions stored for one flow, want 1", n)
		}
	})
}
