package login

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestAuthenticateUnusableHash: an account whose stored hash cannot be used
// (here: a memory cost argon2 must never be asked for) signs in like a
// wrong password does: INVALID_CREDENTIALS, login.failed recorded, after a
// verification of the dummy hash. Only the log, at error level and without
// the hash, tells the operator.
func TestAuthenticateUnusableHash(t *testing.T) {
	store, ctx := storagetest.SQLite(t)
	var logs bytes.Buffer
	svc := &Service{Store: store, Hasher: NewHasher(fast, 1, 20*time.Millisecond), Policy: DefaultPasswordPolicy, Now: time.Now,
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), SessionTTL: time.Hour}
	const password = "correct horse battery staple"
	u, err := svc.CreateUser(ctx, NewUser{Email: "ada@example.com", Password: password, Name: "Ada Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.Authenticate(ctx, "ada@example.com", password); err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate with the good hash = %+v, %v", got, err)
	}

	// What a wrong password gets, to compare with.
	if _, err := svc.Authenticate(ctx, "ada@example.com", "wrong horse battery staple"); !errors.Is(err, catalog.InvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	wrong := failedLogins(t, ctx, store, u.ID)
	if len(wrong) != 1 {
		t.Fatalf("%d login.failed events after a wrong password", len(wrong))
	}
	if logs.Len() != 0 {
		t.Fatalf("a wrong password logged: %s", logs.String())
	}

	// 16-byte salt and key: only the memory cost is wrong.
	const unusable = "$argon2id$v=19$m=4294967295,t=1,p=1$c2VjcmV0LXNhbHQtc2FsdA$a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleQ"
	if err := store.SetCredential(ctx, storage.Credential{UserID: u.ID, Type: storage.CredentialPassword, Secret: unusable}); err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{password, "anything else"} {
		got, err := svc.Authenticate(ctx, "ada@example.com", pw)
		var ce *catalog.Error
		if !errors.As(err, &ce) || ce.Code != catalog.InvalidCredentials.Code || ce.Status != 401 || got.ID != "" {
			t.Fatalf("Authenticate(%q) with an unusable hash = %+v, %v; want INVALID_CREDENTIALS", pw, got, err)
		}
	}
	failed := failedLogins(t, ctx, store, u.ID)
	if len(failed) != 3 {
		t.Fatalf("%d login.failed events, want 3 (one wrong password, two unusable hash)", len(failed))
	}
	for _, e := range failed[:2] { // newest first
		if !bytes.Equal(e.Data, wrong[0].Data) {
			t.Errorf("login.failed data %s, want what a wrong password records: %s", e.Data, wrong[0].Data)
		}
	}

	// Logged at error level, once per attempt, with the account and without
	// the hash or any part of it.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), logs.String())
	}
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["level"] != "ERROR" || rec["user_id"] != u.ID || !strings.Contains(rec["msg"].(string), "unusable") {
			t.Errorf("log record %s", line)
		}
		for _, secret := range append(strings.Split(unusable, "$"), password) {
			if secret != "" && secret != "argon2id" && secret != "v=19" && strings.Contains(line, secret) {
				t.Errorf("log record %s holds %q", line, secret)
			}
		}
	}

	// The dummy hash is verified (the same argon2id work as a wrong
	// password): with every hashing slot busy, the answer is RATE_LIMITED
	// like any other sign-in's, not INVALID_CREDENTIALS without the work.
	svc.Hasher.slots <- struct{}{}
	_, err = svc.Authenticate(ctx, "ada@example.com", password)
	<-svc.Hasher.slots
	if !errors.Is(err, catalog.RateLimited) {
		t.Fatalf("Authenticate with an unusable hash and no free hashing slot = %v, want RATE_LIMITED", err)
	}
}

func failedLogins(t *testing.T, ctx context.Context, store *sqlstore.Store, userID string) []storage.Event {
	t.Helper()
	evs, err := store.ListEvents(ctx, storage.EventFilter{Type: events.LoginFailed, Subject: userID})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestConcurrentSignUpsOneEmail: several accounts created at once with one
// email address, spelled differently (case, surrounding spaces): exactly
// one is created, with one password; every other attempt is
// EMAIL_ALREADY_EXISTS (409), never a 500, on both backends.
func TestConcurrentSignUpsOneEmail(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			store := storagetest.Open(t, backend)
			ctx := storagetest.Ctx(t)
			svc := &Service{Store: store, Hasher: NewHasher(fast, 8, time.Minute), Policy: DefaultPasswordPolicy, Now: time.Now}
			spellings := []string{"grace@example.com", "Grace@Example.com", " grace@example.com", "GRACE@EXAMPLE.COM",
				"grace@example.com", "grace@EXAMPLE.com", "Grace@example.com ", "grace@example.COM"}
			errs := make([]error, len(spellings))
			ids := make([]string, len(spellings))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, e := range spellings {
				wg.Go(func() {
					<-start
					u, err := svc.CreateUser(ctx, NewUser{Email: e, Password: "correct horse battery staple"})
					ids[i], errs[i] = u.ID, err
				})
			}
			close(start)
			wg.Wait()
			var created string
			for i, err := range errs {
				var ce *catalog.Error
				switch {
				case err == nil:
					if created != "" {
						t.Fatalf("two accounts for one email: %s and %s", created, ids[i])
					}
					created = ids[i]
				case errors.As(err, &ce) && ce.Code == catalog.EmailAlreadyExists.Code && ce.Status == 409:
				default:
					t.Errorf("sign-up %q: %v, want EMAIL_ALREADY_EXISTS", spellings[i], err)
				}
			}
			if created == "" {
				t.Fatal("no account created")
			}
			if u, err := svc.Authenticate(ctx, "grace@example.com", "correct horse battery staple"); err != nil || u.ID != created {
				t.Fatalf("sign in after the race: %+v, %v; want account %s", u, err, created)
			}
			registered, err := store.ListEvents(ctx, storage.EventFilter{Type: events.UserRegistered})
			if err != nil || len(registered) != 1 {
				t.Fatalf("%d user.registered events (%v), want 1", len(registered), err)
			}
		})
	}
}

// TestEmailNormalizedAfterCaseFolding: one address in two spellings that
// differ only in case and Unicode form is one account. Lower-casing can
// leave a string that is not NFC (T + combining diaeresis has no
// precomposed capital; its lower case t + U+0308 composes to U+1E97 ẗ), so
// the comparison form is NFC after lower-casing too.
func TestEmailNormalizedAfterCaseFolding(t *testing.T) {
	store, ctx := storagetest.SQLite(t)
	svc := &Service{Store: store, Hasher: NewHasher(fast, 1, time.Minute), Policy: DefaultPasswordPolicy, Now: time.Now}
	for _, pair := range [][2]string{
		{"\u1e97om@example.com", "T\u0308om@example.com"},      // ẗ precomposed, then capital T + diaeresis
		{"\u1fb4na@example.com", "\u0386\u0345na@example.com"}, // ᾴ, then capital Ά + ypogegrammeni
	} {
		a, errA := NormalizeEmail(pair[0])
		b, errB := NormalizeEmail(pair[1])
		if errA != nil || errB != nil || a != b {
			t.Errorf("NormalizeEmail(%+q) = %+q, %v; NormalizeEmail(%+q) = %+q, %v; want one form", pair[0], a, errA, pair[1], b, errB)
		}
		if _, err := svc.CreateUser(ctx, NewUser{Email: pair[0], Password: "correct horse battery staple"}); err != nil {
			t.Fatal(err)
		}
		_, err := svc.CreateUser(ctx, NewUser{Email: pair[1], Password: "correct horse battery staple"})
		var ce *catalog.Error
		if !errors.As(err, &ce) || ce.Code != catalog.EmailAlreadyExists.Code {
			t.Errorf("second account for %+q as %+q: %v, want EMAIL_ALREADY_EXISTS", pair[0], pair[1], err)
		}
	}
}
