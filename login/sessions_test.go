package login

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/web"
)

// TestStatusChangeEndsSessions: suspending, banning, locking or
// deactivating an account ends its browser sessions (SECURITY.md: "their
// sessions end"; "suspension ends the account's other sessions"), not only
// hides them while the status lasts. A session signed in before a
// suspension that has since ended (status_until in the past), or before an
// account was reactivated, stays ended: it would otherwise give a stolen
// cookie back to whoever the suspension was meant to stop. The account
// itself works again: a new sign-in gets a new, valid session.
func TestStatusChangeEndsSessions(t *testing.T) {
	store, ctx := storagetest.SQLite(t)
	now := time.Now().UTC()
	svc := &Service{Store: store, Hasher: NewHasher(fast, 1, time.Minute), Policy: DefaultPasswordPolicy,
		Now: func() time.Time { return now }, SessionTTL: 30 * 24 * time.Hour}
	sessions := &Sessions{Service: svc, Cookies: web.Cookies{}}
	const password = "correct horse battery staple"
	u, err := svc.CreateUser(ctx, NewUser{Email: "ada@example.com", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	signIn := func() *http.Cookie {
		t.Helper()
		got, err := svc.Authenticate(ctx, "ada@example.com", password)
		if err != nil {
			t.Fatalf("sign-in: %v", err)
		}
		rec := httptest.NewRecorder()
		if _, err := sessions.Start(ctx, rec, httptest.NewRequest(http.MethodPost, "/login", nil), got, passwordAMR, passwordACR); err != nil {
			t.Fatal(err)
		}
		return rec.Result().Cookies()[0]
	}
	current := func(ck *http.Cookie) *Session {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil)
		r.AddCookie(ck)
		s, err := sessions.Current(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name, status string
		until        time.Duration // 0: no end; the account is set active again instead
	}{
		{"suspended for an hour", storage.StatusSuspended, time.Hour},
		{"locked for an hour", storage.StatusLocked, time.Hour},
		{"suspended, then reactivated", storage.StatusSuspended, 0},
		{"banned, then reactivated", storage.StatusBanned, 0},
		{"deactivated, then reactivated", storage.StatusInactive, 0},
	} {
		ck := signIn()
		if current(ck) == nil {
			t.Fatalf("%s: no session right after sign-in", tc.name)
		}
		var until *time.Time
		if tc.until > 0 {
			end := now.Add(tc.until)
			until = &end
		}
		if err := store.SetUserStatus(ctx, u.ID, tc.status, "test", "admin", until); err != nil {
			t.Fatal(err)
		}
		if current(ck) != nil {
			t.Fatalf("%s: the session still signs in while the status lasts", tc.name)
		}
		if tc.until > 0 {
			now = now.Add(tc.until + time.Minute) // the status has ended
		} else if err := store.SetUserStatus(ctx, u.ID, storage.StatusActive, "", "admin", nil); err != nil {
			t.Fatal(err)
		}
		if s := current(ck); s != nil {
			t.Errorf("%s: the session from before came back once the account could sign in again (session %s)", tc.name, s.ID)
		}
		if current(signIn()) == nil {
			t.Errorf("%s: a new sign-in after the status ended has no session", tc.name)
		}
	}
}
