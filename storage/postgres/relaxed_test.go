package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// batches records the statements of every pipelined batch, in order.
type batches struct {
	mu  sync.Mutex
	all [][]string
}

type batchKey struct{}

func (b *batches) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (b *batches) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (b *batches) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, nil)
	return context.WithValue(ctx, batchKey{}, len(b.all)-1)
}
func (b *batches) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := ctx.Value(batchKey{}).(int)
	b.all[i] = append(b.all[i], strings.Join(strings.Fields(d.SQL), " "))
}
func (b *batches) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// with returns the batch holding a statement that starts with prefix.
func (b *batches) with(prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, batch := range b.all {
		if slices.ContainsFunc(batch, func(q string) bool { return strings.HasPrefix(q, prefix) }) {
			return batch
		}
	}
	return nil
}

// tracedStore opens a migrated store on a fresh database whose pipelined
// batches are recorded, with client c1.
func tracedStore(t *testing.T) (*sqlstore.Store, *batches, context.Context) {
	t.Helper()
	rec := &batches{}
	s, err := postgres.Open(storagetest.PostgresDSN(t), postgres.Config{Tracer: rec}, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := storagetest.Ctx(t)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateClient(ctx, storagetest.SampleClient("c1")); err != nil {
		t.Fatal(err)
	}
	return s, rec, ctx
}

// TestRelaxedFlowCommit: a flow created on its own is one round trip, BEGIN,
// synchronous_commit off for that transaction only, the insert, COMMIT; a
// flow created inside a caller's transaction leaves that transaction's
// durability alone (it may carry a code or a session).
func TestRelaxedFlowCommit(t *testing.T) {
	s, rec, ctx := tracedStore(t)
	now := time.Now()
	flow := func(id string) storage.Flow {
		return storage.Flow{ID: id, ClientID: "c1", State: "login", DeviceHash: []byte("d"), Data: []byte(`{}`),
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}

	if err := s.CreateFlow(ctx, flow("alone")); err != nil {
		t.Fatal(err)
	}
	got := rec.with("INSERT INTO auth_flows")
	if len(got) != 4 || !strings.HasPrefix(got[0], "BEGIN") || got[1] != "SET LOCAL synchronous_commit TO OFF" || got[3] != "COMMIT" {
		t.Fatalf("CreateFlow on its own sent %q, want one batch of BEGIN, SET LOCAL synchronous_commit TO OFF, the insert, COMMIT", got)
	}

	rec.mu.Lock()
	rec.all = nil
	rec.mu.Unlock()
	if err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateFlow(ctx, flow("in-tx")); err != nil {
			return err
		}
		return s.UpdateFlow(ctx, storage.Flow{ID: "in-tx", State: "done", Data: []byte(`{}`)}, "login")
	}); err != nil {
		t.Fatal(err)
	}
	for _, batch := range rec.all {
		for _, q := range batch {
			if strings.Contains(q, "synchronous_commit") {
				t.Fatalf("CreateFlow inside a transaction relaxed it: %q", rec.all)
			}
		}
	}
	if f, err := s.GetFlow(ctx, "in-tx"); err != nil || f.State != "done" {
		t.Fatalf("flow written in the transaction: %+v, %v", f, err)
	}
}

// TestRotationOneRoundTrip: a refresh rotation's transaction (drop the
// grant's access tokens, spend the refresh token, store the successors) is
// one batch, BEGIN to COMMIT, with the spend's row count checked by the
// database; spending a spent token fails the commit with ErrSpent and
// leaves nothing of what followed it.
func TestRotationOneRoundTrip(t *testing.T) {
	s, rec, ctx := tracedStore(t)
	now := time.Now().UTC().Truncate(time.Second)
	token := func(sig string) storage.Token {
		return storage.Token{Signature: sig, RequestID: "family", ClientID: "c1", Subject: "u1", RequestedAt: now,
			ExpiresAt: now.Add(time.Hour), Scopes: []string{"openid"}, GrantedScopes: []string{"openid"},
			Audience: []string{}, GrantedAudience: []string{}, Session: []byte("s"), Active: true}
	}
	if err := s.CreateToken(ctx, storage.TokenRefresh, token("rt-0")); err != nil {
		t.Fatal(err)
	}
	rotate := func(from, to string) error {
		return s.InTx(ctx, func(ctx context.Context) error {
			if err := s.DiscardTokens(ctx, storage.TokenAccess, "family"); err != nil {
				return err
			}
			if err := s.SpendToken(ctx, storage.TokenRefresh, from); err != nil {
				return err
			}
			if err := s.CreateToken(ctx, storage.TokenAccess, token("at-"+to)); err != nil {
				return err
			}
			return s.CreateToken(ctx, storage.TokenRefresh, token(to))
		})
	}

	rec.mu.Lock()
	rec.all = nil
	rec.mu.Unlock()
	if err := rotate("rt-0", "rt-1"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	got := rec.all
	rec.mu.Unlock()
	if len(got) != 1 || len(got[0]) != 6 || !strings.HasPrefix(got[0][0], "BEGIN") ||
		!strings.Contains(got[0][2], "gatehouse_expect_row") || got[0][5] != "COMMIT" {
		t.Fatalf("rotation sent %d batches %q, want one: BEGIN, DELETE, the checked UPDATE, two INSERTs, COMMIT", len(got), got)
	}

	err := rotate("rt-0", "rt-fork")
	if !errors.Is(err, storage.ErrSpent) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second rotation of rt-0: err = %v, want ErrSpent and ErrNotFound", err)
	}
	for _, sig := range []string{"rt-fork", "at-rt-fork"} {
		kind := storage.TokenRefresh
		if strings.HasPrefix(sig, "at-") {
			kind = storage.TokenAccess
		}
		if _, err := s.GetToken(ctx, kind, sig); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s after the failed rotation: err = %v, want ErrNotFound", sig, err)
		}
	}
	if tok, err := s.GetToken(ctx, storage.TokenRefresh, "rt-1"); err != nil || !tok.Active {
		t.Errorf("rt-1 after the failed rotation: %+v, %v; want active", tok, err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "at-rt-1"); err != nil {
		t.Errorf("at-rt-1: the failed rotation's DELETE must have rolled back: %v", err)
	}
}
