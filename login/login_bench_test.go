package login

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlite"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
)

const benchPassword = "correct horse battery staple"

// BenchmarkHash is one new password hash (registration, reset, re-hash on
// login) with the production parameters, GOMAXPROCS at once under the
// Hasher's default limit: the throughput of the machine.
func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultArgon2, 0, time.Minute)
	ctx := context.Background()
	if enc, err := h.Hash(ctx, benchPassword); err != nil {
		b.Fatal(err)
	} else if ok, _, _ := h.Verify(ctx, enc, benchPassword); !ok {
		b.Fatal("hash does not verify")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if enc, err := h.Hash(ctx, benchPassword); err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=3,p=1$") {
				b.Fatalf("Hash = %q, %v", enc, err)
			}
		}
	})
}

// BenchmarkHashSequential is one hash at a time: the CPU (and latency) of a
// single argon2id computation with the production parameters.
func BenchmarkHashSequential(b *testing.B) {
	h := NewHasher(DefaultArgon2, 1, time.Minute)
	ctx := context.Background()
	if enc, err := h.Hash(ctx, benchPassword); err != nil {
		b.Fatal(err)
	} else if ok, _, _ := h.Verify(ctx, enc, benchPassword); !ok {
		b.Fatal("hash does not verify")
	}
	b.ReportAllocs()
	for b.Loop() {
		if enc, err := h.Hash(ctx, benchPassword); err != nil || !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=3,p=1$") {
			b.Fatalf("Hash = %q, %v", enc, err)
		}
	}
}

// BenchmarkVerifySequential is one password check at a time: the latency a
// sign-in pays on an idle machine (BenchmarkVerify is the parallel one).
func BenchmarkVerifySequential(b *testing.B) {
	h := NewHasher(DefaultArgon2, 1, time.Minute)
	ctx := context.Background()
	enc, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	if ok, _, _ := h.Verify(ctx, enc, "wrong horse battery staple"); ok {
		b.Fatal("wrong password verified")
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, enc, benchPassword); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

// BenchmarkSessionsCurrent is the browser-session check of every
// authorization request: cookie → SHA-256 → session row, then the account
// row and its status (Service.Active), on a real database.
func BenchmarkSessionsCurrent(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(storagetest.SQLitePath(b), sqlite.Config{}, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchSessionsCurrent(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := postgres.Open(storagetest.PostgresDSN(b), postgres.Config{}, sqlstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchSessionsCurrent(b, s)
	})
}

func benchSessionsCurrent(b *testing.B, store *sqlstore.Store) {
	b.Cleanup(func() { _ = store.Close() })
	ctx := tenant.With(context.Background(), tenant.Default)
	if _, err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	// Cheap hashing for the seed account: the password is not what is measured.
	svc := &Service{Store: store, Hasher: NewHasher(Argon2Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 0, 0),
		Policy: DefaultPasswordPolicy, Now: time.Now, Log: slog.New(slog.DiscardHandler), SessionTTL: 24 * time.Hour}
	sessions := &Sessions{Service: svc, Cookies: web.Cookies{Secure: true}}
	u, err := svc.CreateUser(ctx, NewUser{Email: "ada@example.com", Password: benchPassword, EmailVerified: true, Name: "Ada Lovelace"})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ls, err := sessions.Start(ctx, rec, httptest.NewRequest("POST", "https://id.example.com/login", nil), u, []string{"pwd"}, "1")
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "https://id.example.com/oauth2/auth", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	if len(r.Cookies()) != 1 {
		b.Fatalf("Start set %d cookies", len(r.Cookies()))
	}
	if cur, err := sessions.Current(ctx, httptest.NewRequest("GET", "https://id.example.com/oauth2/auth", nil)); cur != nil || err != nil {
		b.Fatalf("Current without a cookie = %v, %v", cur, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cur, err := sessions.Current(ctx, r)
		if err != nil || cur == nil || cur.ID != ls.ID || cur.User.ID != u.ID {
			b.Fatalf("Current = %+v, %v", cur, err)
		}
	}
}
