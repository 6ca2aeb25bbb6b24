package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

// Opener returns a new, empty, fully migrated store for one test; it
// registers its own cleanup.
type Opener func(t *testing.T) storage.Store

// Run runs the whole conformance suite against the backend that open
// returns. Each subtest gets its own database.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"Migrations", testMigrations},
		{"Tenants", testTenants},
		{"Events", testEvents},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"TxCommitRollback", testTxCommitRollback},
		{"TxNesting", testTxNesting},
		{"TxInnerRollbackPoisonsOuter", testTxInnerRollback},
		{"RaceUniqueInsert", testRaceUniqueInsert},
		{"RaceConcurrentTransactions", testRaceConcurrentTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
	RunOAuth2(t, open)
	RunPurge(t, open)
}

// Ctx returns a context for the default tenant with a test deadline.
func Ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(tenant.With(context.Background(), tenant.Default), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testMigrations(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	all, err := s.Migrations(ctx)
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	if len(all) == 0 {
		t.Fatal("no migrations known")
	}
	for i, m := range all {
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("migration %d %s: applied=%v at %v, want applied", m.Version, m.Name, m.Applied, m.AppliedAt)
		}
		if i > 0 && all[i-1].Version >= m.Version {
			t.Errorf("migrations out of order: %d then %d", all[i-1].Version, m.Version)
		}
	}
	pending, err := s.Pending(ctx)
	if err != nil || len(pending) != 0 {
		t.Fatalf("Pending = %v, %v; want none", pending, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want a no-op", applied, err)
	}
}

func testTenants(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	def, err := s.GetTenant(ctx, tenant.Default)
	if err != nil || def.ID != tenant.Default || def.Disabled {
		t.Fatalf("default tenant = %+v, %v", def, err)
	}
	if _, err := s.GetTenant(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetTenant(missing) err = %v, want ErrNotFound", err)
	}
	acme := storage.Tenant{ID: "acme", Name: "Acme Inc."}
	if err := s.CreateTenant(ctx, acme); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if err := s.CreateTenant(ctx, acme); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateTenant(dup) err = %v, want ErrConflict", err)
	}
	got, err := s.GetTenant(ctx, "acme")
	if err != nil || got.Name != "Acme Inc." || got.CreatedAt.IsZero() {
		t.Fatalf("GetTenant = %+v, %v", got, err)
	}
	list, err := s.ListTenants(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "acme" || list[1].ID != "default" {
		t.Fatalf("ListTenants = %+v, %v", list, err)
	}
}

func testEvents(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	if err := s.AppendEvent(context.Background(), storage.Event{Type: "x"}); !errors.Is(err, storage.ErrNoTenant) {
		t.Fatalf("AppendEvent without tenant err = %v, want ErrNoTenant", err)
	}
	if _, err := s.ListEvents(context.Background(), storage.EventFilter{}); !errors.Is(err, storage.ErrNoTenant) {
		t.Fatalf("ListEvents without tenant err = %v, want ErrNoTenant", err)
	}
	if err := s.CreateTenant(ctx, storage.Tenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	other := tenant.With(ctx, "other")
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, typ := range []string{"user.registered", "login.succeeded", "login.failed"} {
		e := storage.Event{Type: typ, Subject: "u1", Data: json.RawMessage(`{"n":1}`), CreatedAt: base.Add(time.Duration(i) * time.Second)}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatalf("AppendEvent: %v", err)
		}
	}
	if err := s.AppendEvent(other, storage.Event{Type: "login.failed", Subject: "u9"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListEvents(ctx, storage.EventFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListEvents = %d events, %v; want 3 of the default tenant only", len(all), err)
	}
	if all[0].Type != "login.failed" || all[2].Type != "user.registered" {
		t.Errorf("events not newest first: %s … %s", all[0].Type, all[2].Type)
	}
	var data map[string]int
	if err := json.Unmarshal(all[0].Data, &data); err != nil || data["n"] != 1 {
		t.Errorf("event data = %s, %v", all[0].Data, err)
	}
	if all[0].ID == "" || all[0].TenantID != tenant.Default || all[0].DeliveredAt != nil {
		t.Errorf("event = %+v", all[0])
	}
	failed, err := s.ListEvents(ctx, storage.EventFilter{Type: "login.failed"})
	if err != nil || len(failed) != 1 || failed[0].Subject != "u1" {
		t.Fatalf("ListEvents(type) = %+v, %v", failed, err)
	}
	bySubject, err := s.ListEvents(ctx, storage.EventFilter{Subject: "u1", Limit: 2})
	if err != nil || len(bySubject) != 2 {
		t.Fatalf("ListEvents(subject, limit 2) = %d, %v", len(bySubject), err)
	}
	o, err := s.ListEvents(other, storage.EventFilter{})
	if err != nil || len(o) != 1 || o[0].Subject != "u9" {
		t.Fatalf("ListEvents(other tenant) = %+v, %v", o, err)
	}
}

func testTimeRoundTrip(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	at := time.Date(2026, 11, 22, 10, 11, 12, 123456789, time.FixedZone("X", 3600))
	if err := s.AppendEvent(ctx, storage.Event{Type: "t", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	ev, err := s.ListEvents(ctx, storage.EventFilter{Type: "t"})
	if err != nil || len(ev) != 1 {
		t.Fatalf("ListEvents = %v, %v", ev, err)
	}
	want := at.UTC().Truncate(time.Microsecond)
	if !ev[0].CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, want %v", ev[0].CreatedAt, want)
	}
}

func countEvents(t *testing.T, s storage.Store, ctx context.Context, typ string) int {
	t.Helper()
	ev, err := s.ListEvents(ctx, storage.EventFilter{Type: typ})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	return len(ev)
}

func testTxCommitRollback(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	tx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(tx, storage.Event{Type: "committed"}); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, s, tx, "committed"); n != 1 {
		t.Fatalf("inside the transaction: %d events, want 1", n)
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	tx, err = s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(tx, storage.Event{Type: "rolled-back"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatalf("second Rollback should be a no-op: %v", err)
	}
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.AppendEvent(ctx, storage.Event{Type: "rolled-back"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx err = %v, want boom", err)
	}
	if got := countEvents(t, s, ctx, "committed"); got != 1 {
		t.Errorf("committed events = %d, want 1", got)
	}
	if got := countEvents(t, s, ctx, "rolled-back"); got != 0 {
		t.Errorf("rolled-back events = %d, want 0", got)
	}
}

func testTxNesting(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	outer, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := s.BeginTX(outer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvent(inner, storage.Event{Type: "nested"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(inner); err != nil {
		t.Fatalf("inner Commit: %v", err)
	}
	if err := s.InTx(outer, func(ctx context.Context) error {
		return s.AppendEvent(ctx, storage.Event{Type: "nested"})
	}); err != nil {
		t.Fatal(err)
	}
	// The inner commit was a no-op: rolling back the outer discards both.
	if err := s.Rollback(outer); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, s, ctx, "nested"); n != 0 {
		t.Fatalf("after outer rollback: %d events, want 0", n)
	}
}

func testTxInnerRollback(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.AppendEvent(ctx, storage.Event{Type: "poisoned"}); err != nil {
			return err
		}
		inner, err := s.BeginTX(ctx)
		if err != nil {
			return err
		}
		return s.Rollback(inner) // the inner scope gives up, the outer ignores it
	})
	if !errors.Is(err, storage.ErrRolledBack) {
		t.Fatalf("outer commit after inner rollback err = %v, want ErrRolledBack", err)
	}
	if n := countEvents(t, s, ctx, "poisoned"); n != 0 {
		t.Fatalf("%d events survived, want 0", n)
	}
}

func testRaceUniqueInsert(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(ctx context.Context) error {
				if err := s.CreateTenant(ctx, storage.Tenant{ID: "contested", Name: fmt.Sprint(i)}); err != nil {
					return err
				}
				return s.AppendEvent(ctx, storage.Event{Type: "tenant.created", Subject: "contested"})
			})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("loser err = %v, want ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d goroutines created the same tenant, want exactly 1", wins)
	}
	if got := countEvents(t, s, ctx, "tenant.created"); got != 1 {
		t.Fatalf("%d events recorded, want 1 (the losers' must roll back)", got)
	}
}

func testRaceConcurrentTx(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.InTx(ctx, func(ctx context.Context) error {
				if err := s.CreateTenant(ctx, storage.Tenant{ID: fmt.Sprintf("t%d", i), Name: "t"}); err != nil {
					return err
				}
				return s.AppendEvent(ctx, storage.Event{Type: "concurrent", Subject: fmt.Sprint(i)})
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if got := countEvents(t, s, ctx, "concurrent"); got != n {
		t.Fatalf("%d events, want %d", got, n)
	}
}
