package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

// TestOutageMidTransaction takes PostgreSQL away (a TCP proxy cuts the
// connections) inside pipelined transactions: once after writes were
// queued and before the statement that sends them, once at COMMIT. Each
// transaction fails with storage.ErrUnavailable and leaves nothing behind;
// a purge during the outage fails the same way; and when PostgreSQL is back
// the same store serves again without a restart.
func TestOutageMidTransaction(t *testing.T) {
	proxy, dsn := storagetest.NewProxy(t, storagetest.PostgresDSN(t))
	s, err := postgres.Open(dsn, postgres.Config{}, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := storagetest.Ctx(t)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	user := storage.User{ID: sqlstore.NewID(), Email: "ada@example.com", EmailNormalized: "ada@example.com"}
	if err := s.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	session := func(id string) storage.LoginSession {
		now := time.Now().UTC()
		return storage.LoginSession{ID: id, TokenHash: []byte(id), UserID: user.ID, AuthTime: now,
			AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}

	// Down before the read that would carry the queued insert.
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateLoginSession(ctx, session("queued")); err != nil {
			return err
		}
		proxy.SetDown(true)
		_, err := s.GetUser(ctx, user.ID)
		return err
	})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("transaction cut before its read: %v, want ErrUnavailable", err)
	}
	if _, err := s.Purge(ctx, storage.PurgeLoginSessions, time.Now(), 100); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("purge with the database down: %v, want ErrUnavailable", err)
	}
	proxy.SetDown(false)
	waitBack(t, ctx, s)

	// Down after the read, before COMMIT sends the queued insert.
	err = s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.GetUser(ctx, user.ID); err != nil {
			return err
		}
		if err := s.CreateLoginSession(ctx, session("at-commit")); err != nil {
			return err
		}
		proxy.SetDown(true)
		return nil
	})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("transaction cut at COMMIT: %v, want ErrUnavailable", err)
	}
	proxy.SetDown(false)
	waitBack(t, ctx, s)

	for _, id := range []string{"queued", "at-commit"} {
		if _, err := s.GetLoginSession(ctx, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("session %q of a failed transaction: %v, want ErrNotFound", id, err)
		}
	}
	if err := s.InTx(ctx, func(ctx context.Context) error { return s.CreateLoginSession(ctx, session("after")) }); err != nil {
		t.Fatalf("transaction after the outage: %v", err)
	}
	if _, err := s.GetLoginSession(ctx, "after"); err != nil {
		t.Fatalf("session written after the outage: %v", err)
	}
}

// waitBack waits until the store answers again after the proxy is up.
func waitBack(t *testing.T, ctx context.Context, s *sqlstore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still failing 10 s after PostgreSQL came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
