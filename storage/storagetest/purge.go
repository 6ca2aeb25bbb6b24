package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

// RunPurge runs the conformance tests of the janitor's Purger: batched,
// cross-tenant deletes of expired rows that leave every live row alone.
func RunPurge(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"Purge", testPurge},
		{"PurgeArguments", testPurgeArguments},
		{"RacePurge", testRacePurge},
		{"RacePurgeRowChangedMeanwhile", testPurgeRowChangedMeanwhile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// The retentions the purge fixture is built around: the fixture's revoked
// sessions and delivered events sit well on either side of them (48h / 1h
// ago; 60 / 1 days ago), so any janitor whose retentions lie between passes.
const (
	FixtureRevokedRetention = 24 * time.Hour
	FixtureEventRetention   = 30 * 24 * time.Hour
)

// PurgeFixture is a database seeded with expired and live rows in every
// purge table, in two tenants (default and "purge-b").
type PurgeFixture struct {
	// Now is the time the rows expire relative to.
	Now time.Time
	// Purged is how many rows each table loses in a complete purge (every
	// target run to the end with the cutoffs of Cutoff).
	Purged map[string]int64
	// Live is how many rows each table keeps.
	Live map[string]int64

	store      storage.Store
	live, gone []probe
}

// probe is one seeded row and how to tell whether it is still there.
type probe struct {
	what   string
	exists func(ctx context.Context) (bool, error)
}

// PurgeTenant is the second tenant the fixture seeds.
const PurgeTenant = "purge-b"

// Cutoff is the `before` of target for a purge at now with the fixture
// retentions.
func Cutoff(target storage.PurgeTarget, now time.Time) time.Time {
	switch target {
	case storage.PurgeRevokedLoginSessions:
		return now.Add(-FixtureRevokedRetention)
	case storage.PurgeDeliveredEvents:
		return now.Add(-FixtureEventRetention)
	}
	return now
}

// SeedPurge fills a fresh, migrated store with expired and live rows of
// every purge target in the default tenant and in PurgeTenant (which it
// creates). The default tenant gets 3 expired rows of each kind, PurgeTenant
// 4, so a batch of 3 needs several statements and ends on a short one.
//
// Live rows include the edge cases: a row expiring exactly at now (the
// cutoff is strict), an inactive but unexpired refresh token (kept for reuse
// detection), a used but unexpired code, a session revoked recently, an
// event delivered recently and an old event never delivered.
//
// Expired rows are at least an hour older than now, live ones not older, so
// the fixture holds for a purge whose clock reads anywhere in [now-1h, now]
// (a CLI or server with the real clock: seed with a now a little ahead);
// the rows at now test the strict cutoff only for a purge at exactly now.
func SeedPurge(t testing.TB, s storage.Store, now time.Time) *PurgeFixture {
	t.Helper()
	now = now.UTC().Truncate(time.Microsecond)
	f := &PurgeFixture{Now: now, Purged: map[string]int64{}, Live: map[string]int64{}, store: s}
	for _, table := range storage.PurgeTables() {
		f.Purged[table], f.Live[table] = 0, 0
	}
	base := tenant.With(context.Background(), tenant.Default)
	if err := s.CreateTenant(base, storage.Tenant{ID: PurgeTenant, Name: "Purge B"}); err != nil {
		t.Fatalf("create tenant %s: %v", PurgeTenant, err)
	}
	for i, tid := range []string{tenant.Default, PurgeTenant} {
		f.seedTenant(t, tenant.With(base, tid), tid, 3+i)
	}
	return f
}

func (f *PurgeFixture) add(table string, live bool, p probe) {
	if live {
		f.Live[table]++
		f.live = append(f.live, p)
	} else {
		f.Purged[table]++
		f.gone = append(f.gone, p)
	}
}

func (f *PurgeFixture) seedTenant(t testing.TB, ctx context.Context, tid string, expired int) {
	t.Helper()
	s, now := f.store, f.Now
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed tenant %s: %v", tid, err)
		}
	}
	check(s.CreateClient(ctx, SampleClient("c1")))
	check(s.CreateUser(ctx, SampleUser("u1", "u1@example.com")))

	// Tokens: expired ones (active and used), live ones (at the cutoff,
	// used or inactive, far away).
	type row struct {
		name     string
		expires  time.Time
		inactive bool
	}
	var rows []row
	for i := range expired {
		rows = append(rows, row{fmt.Sprintf("expired-%d", i), now.Add(-time.Duration(i+1) * time.Hour), i%2 == 1})
	}
	rows = append(rows, row{"live-at-cutoff", now, false}, row{"live-inactive", now.Add(time.Hour), true},
		row{"live", now.Add(24 * time.Hour), false})
	kinds := []storage.TokenKind{storage.TokenCode, storage.TokenAccess, storage.TokenRefresh}
	for _, kind := range kinds {
		table := "oauth2_" + string(kind)
		for _, r := range rows {
			sig := fmt.Sprintf("%s-%s-%s", tid, kind, r.name)
			tok := sampleToken(sig, "req-"+r.name, "c1")
			tok.RequestedAt, tok.ExpiresAt = now.Add(-72*time.Hour), r.expires
			check(s.CreateToken(ctx, kind, tok))
			if r.inactive {
				check(s.DeactivateToken(ctx, kind, sig))
			}
			f.add(table, !r.expires.Before(now), probe{fmt.Sprintf("%s %s %s", tid, kind, r.name), func(c context.Context) (bool, error) {
				_, err := s.GetToken(tenant.With(c, tid), kind, sig)
				return exists(err)
			}})
		}
	}

	// Client assertion ids: no getter; a live one is still there when a
	// second use is refused.
	for i := range expired {
		check(s.UseJTI(ctx, fmt.Sprintf("jti-expired-%d", i), now.Add(-time.Duration(i+1)*time.Hour)))
		f.add("oauth2_jti", false, probe{})
	}
	// (Live ones expire later than the test runs: UseJTI judges expiry by
	// the store's own clock.)
	for _, exp := range []time.Time{now.Add(time.Hour), now.Add(24 * time.Hour)} {
		jti := "jti-live-" + exp.Format(time.RFC3339Nano)
		check(s.UseJTI(ctx, jti, exp))
		f.add("oauth2_jti", true, probe{tid + " " + jti, func(c context.Context) (bool, error) {
			err := s.UseJTI(tenant.With(c, tid), jti, exp)
			if errors.Is(err, storage.ErrConflict) {
				return true, nil
			}
			return false, err
		}})
	}

	// Pending authorizations.
	flowExpiries := []time.Time{now, now.Add(30 * time.Minute)}
	for i := range expired {
		flowExpiries = append(flowExpiries, now.Add(-time.Duration(i+1)*time.Hour))
	}
	for i, exp := range flowExpiries {
		id := fmt.Sprintf("flow-%d", i)
		check(s.CreateFlow(ctx, storage.Flow{ID: id, ClientID: "c1", State: "login", DeviceHash: []byte("d"),
			CreatedAt: exp.Add(-30 * time.Minute), ExpiresAt: exp}))
		f.add("auth_flows", !exp.Before(now), probe{tid + " " + id, func(c context.Context) (bool, error) {
			_, err := s.GetFlow(tenant.With(c, tid), id)
			return exists(err)
		}})
	}

	// Browser sessions. Live: open, revoked recently, expiring at the
	// cutoff. Purged: expired (one of them also revoked long ago), and
	// revoked long ago but not expired yet.
	old, recent := now.Add(-2*FixtureRevokedRetention), now.Add(-time.Hour)
	type session struct {
		expires time.Time
		revoked *time.Time
	}
	sessions := []session{{now.Add(time.Hour), nil}, {now.Add(time.Hour), &recent}, {now, nil}, {now.Add(time.Hour), &old}}
	for i := range expired {
		ses := session{expires: now.Add(-time.Duration(i+1) * time.Hour)}
		if i == 0 {
			ses.revoked = &old
		}
		sessions = append(sessions, ses)
	}
	for i, ses := range sessions {
		id := fmt.Sprintf("session-%d", i)
		check(s.CreateLoginSession(ctx, storage.LoginSession{ID: id, TokenHash: []byte(tid + id), UserID: "u1",
			AuthTime: now.Add(-48 * time.Hour), AMR: []string{"pwd"}, CreatedAt: now.Add(-48 * time.Hour),
			ExpiresAt: ses.expires, RevokedAt: ses.revoked}))
		live := !ses.expires.Before(now) && (ses.revoked == nil || !ses.revoked.Before(now.Add(-FixtureRevokedRetention)))
		f.add("login_sessions", live, probe{tid + " " + id, func(c context.Context) (bool, error) {
			_, err := s.GetLoginSession(tenant.With(c, tid), id)
			return exists(err)
		}})
	}

	// Events: delivered long ago (purged), delivered recently, never
	// delivered (however old: kept).
	longAgo, yesterday := now.Add(-2*FixtureEventRetention), now.Add(-24*time.Hour)
	events := []struct {
		id        string
		created   time.Time
		delivered *time.Time
	}{
		{"undelivered-old", now.Add(-365 * 24 * time.Hour), nil},
		{"delivered-recently", yesterday.Add(-time.Hour), &yesterday},
	}
	for i := range expired {
		events = append(events, struct {
			id        string
			created   time.Time
			delivered *time.Time
		}{fmt.Sprintf("delivered-%d", i), longAgo.Add(-time.Hour), &longAgo})
	}
	for _, e := range events {
		id := tid + "-" + e.id
		check(s.AppendEvent(ctx, storage.Event{ID: id, Type: "purge.test", Subject: id, CreatedAt: e.created, DeliveredAt: e.delivered}))
		if e.delivered != nil {
			got, err := s.ListEvents(ctx, storage.EventFilter{Subject: id})
			if err != nil || len(got) != 1 || got[0].DeliveredAt == nil || !got[0].DeliveredAt.Equal(*e.delivered) {
				t.Fatalf("event %s: delivered_at not stored: %+v, %v", id, got, err)
			}
		}
		live := e.delivered == nil || !e.delivered.Before(now.Add(-FixtureEventRetention))
		f.add("events", live, probe{tid + " event " + e.id, func(c context.Context) (bool, error) {
			got, err := s.ListEvents(tenant.With(c, tid), storage.EventFilter{Subject: id})
			return len(got) == 1, err
		}})
	}
}

func exists(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrNotFound):
		return false, nil
	}
	return false, err
}

// Total is the number of rows a complete purge deletes.
func (f *PurgeFixture) Total() int64 {
	var n int64
	for _, v := range f.Purged {
		n += v
	}
	return n
}

// CheckLive fails t unless every live row of the fixture is still there.
func (f *PurgeFixture) CheckLive(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	for _, p := range f.live {
		ok, err := p.exists(ctx)
		if err != nil || !ok {
			t.Errorf("live row %s: present=%v, err=%v; want it kept", p.what, ok, err)
		}
	}
}

// CheckPurged fails t unless the store holds exactly the live rows: every
// expired row is gone (in every tenant) and every live row is there.
func (f *PurgeFixture) CheckPurged(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	f.CheckLive(t)
	for _, p := range f.gone {
		if p.exists == nil {
			continue
		}
		ok, err := p.exists(ctx)
		if err != nil || ok {
			t.Errorf("expired row %s: present=%v, err=%v; want it purged", p.what, ok, err)
		}
	}
	counts, err := f.store.CountRows(ctx)
	if err != nil {
		t.Fatalf("CountRows: %v", err)
	}
	if !maps.Equal(counts, f.Live) {
		t.Errorf("rows per table after the purge = %v, want %v", counts, f.Live)
	}
}

func testPurge(t *testing.T, s storage.Store) {
	now := time.Now()
	f := SeedPurge(t, s, now)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // no tenant: Purge is not scoped
	defer cancel()

	before, err := s.CountRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, live := range f.Live {
		if want := live + f.Purged[table]; before[table] != want {
			t.Errorf("CountRows[%s] = %d before the purge, want %d", table, before[table], want)
		}
	}
	if len(before) != len(storage.PurgeTables()) {
		t.Errorf("CountRows has %d tables, want %d: %v", len(before), len(storage.PurgeTables()), before)
	}

	const batch = 3
	deleted := map[string]int64{}
	for _, target := range storage.PurgeTargets() {
		var calls int
		for {
			n, err := s.Purge(ctx, target, Cutoff(target, now), batch)
			if err != nil {
				t.Fatalf("Purge(%s): %v", target, err)
			}
			if n > batch {
				t.Fatalf("Purge(%s) deleted %d rows, more than the batch of %d", target, n, batch)
			}
			calls++
			deleted[target.Table()] += n
			if n < batch {
				break
			}
			if calls > 100 {
				t.Fatalf("Purge(%s) never ends", target)
			}
		}
	}
	if !maps.Equal(deleted, f.Purged) {
		t.Errorf("deleted per table = %v, want %v", deleted, f.Purged)
	}
	f.CheckPurged(t)

	// A second pass finds nothing.
	for _, target := range storage.PurgeTargets() {
		if n, err := s.Purge(ctx, target, Cutoff(target, now), batch); err != nil || n != 0 {
			t.Errorf("second Purge(%s) = %d, %v; want 0", target, n, err)
		}
	}
}

func testPurgeArguments(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	now := time.Now()
	if _, err := s.Purge(ctx, storage.PurgeTarget("users"), now, 10); err == nil {
		t.Error("Purge of a target outside the whitelist succeeded")
	}
	if _, err := s.Purge(ctx, storage.PurgeTarget("oauth2_access; DROP TABLE users"), now, 10); err == nil {
		t.Error("Purge of a made-up target succeeded")
	}
	for _, batch := range []int{0, -1, storage.MaxPurgeBatch + 1} {
		if _, err := s.Purge(ctx, storage.PurgeAccessTokens, now, batch); err == nil {
			t.Errorf("Purge with batch %d succeeded", batch)
		}
	}
	if n, err := s.Purge(ctx, storage.PurgeAccessTokens, now, storage.MaxPurgeBatch); err != nil || n != 0 {
		t.Errorf("Purge of an empty table = %d, %v", n, err)
	}
	err := s.InTx(ctx, func(ctx context.Context) error {
		_, err := s.Purge(ctx, storage.PurgeAccessTokens, now, 10)
		return err
	})
	if err == nil {
		t.Error("Purge inside a transaction succeeded; it must run in its own")
	}
	counts, err := s.CountRows(context.Background())
	if err != nil {
		t.Fatalf("CountRows without a tenant: %v", err)
	}
	if !slices.Equal(slices.Sorted(maps.Keys(counts)), slices.Sorted(slices.Values(storage.PurgeTables()))) {
		t.Errorf("CountRows tables = %v, want %v", slices.Sorted(maps.Keys(counts)), storage.PurgeTables())
	}
}

// testRacePurge runs two purgers at once (two replicas' janitors) while
// tokens are being issued: no errors, no live row lost, and every expired
// row deleted exactly once.
func testRacePurge(t *testing.T, s storage.Store) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	ctx := Ctx(t)
	other := tenant.With(ctx, PurgeTenant)
	must(t, s.CreateTenant(ctx, storage.Tenant{ID: PurgeTenant, Name: "Purge B"}))
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateClient(other, SampleClient("c1")))
	const expired = 40
	for i := range expired {
		c := ctx
		if i%2 == 1 {
			c = other
		}
		for _, kind := range []storage.TokenKind{storage.TokenAccess, storage.TokenRefresh} {
			tok := sampleToken(fmt.Sprintf("old-%s-%d", kind, i), "old", "c1")
			tok.ExpiresAt = now.Add(-time.Duration(i+1) * time.Second)
			must(t, s.CreateToken(c, kind, tok))
		}
	}
	targets := []storage.PurgeTarget{storage.PurgeAccessTokens, storage.PurgeRefreshTokens}
	purge := func(c context.Context) (int64, error) {
		var total int64
		for _, target := range targets {
			for {
				n, err := s.Purge(c, target, now, 3)
				total += n
				if err != nil {
					return total, fmt.Errorf("purge %s: %w", target, err)
				}
				if n < 3 {
					break
				}
			}
		}
		return total, nil
	}

	const purgers, issuers, perIssuer = 2, 4, 10
	var mu sync.Mutex
	var deleted int64
	var live []string
	errs := race(purgers+issuers, func(i int) error {
		if i < purgers {
			n, err := purge(context.Background())
			mu.Lock()
			deleted += n
			mu.Unlock()
			return err
		}
		for j := range perIssuer {
			sig := fmt.Sprintf("new-%d-%d", i, j)
			err := s.InTx(ctx, func(ctx context.Context) error {
				at := sampleToken("at-"+sig, sig, "c1")
				at.ExpiresAt = now.Add(time.Hour)
				if err := s.CreateToken(ctx, storage.TokenAccess, at); err != nil {
					return err
				}
				rt := sampleToken("rt-"+sig, sig, "c1")
				rt.ExpiresAt = now.Add(24 * time.Hour)
				return s.CreateToken(ctx, storage.TokenRefresh, rt)
			})
			if err != nil {
				return fmt.Errorf("issue %s: %w", sig, err)
			}
			mu.Lock()
			live = append(live, sig)
			mu.Unlock()
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Two purgers may each stop early on a batch the other emptied; a last
	// pass takes what is left. Every expired row is deleted exactly once.
	n, err := purge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if deleted+n != 2*expired {
		t.Errorf("deleted %d (+%d in the last pass) rows, want exactly %d", deleted, n, 2*expired)
	}
	for _, sig := range live {
		for _, kind := range []storage.TokenKind{storage.TokenAccess, storage.TokenRefresh} {
			prefix := map[storage.TokenKind]string{storage.TokenAccess: "at-", storage.TokenRefresh: "rt-"}[kind]
			if _, err := s.GetToken(ctx, kind, prefix+sig); err != nil {
				t.Errorf("live %s token %s: %v", kind, sig, err)
			}
		}
	}
	counts, err := s.CountRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(issuers * perIssuer); counts["oauth2_access"] != want || counts["oauth2_refresh"] != want {
		t.Errorf("after the race: %d access and %d refresh tokens, want %d of each", counts["oauth2_access"], counts["oauth2_refresh"], want)
	}
}

// testPurgeRowChangedMeanwhile: a purge that picked an expired row while
// another transaction was giving it a new expiry (a client assertion id used
// again once its record expired) must not delete the row once that
// transaction commits: the cutoff is checked again on the row it deletes.
func testPurgeRowChangedMeanwhile(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	now := time.Now()
	must(t, s.UseJTI(ctx, "jti", now.Add(-time.Minute)))
	tx, err := s.BeginTX(ctx)
	must(t, err)
	defer func() { _ = s.Rollback(tx) }()
	must(t, s.UseJTI(tx, "jti", now.Add(time.Hour))) // expired: recorded again, not committed yet
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := s.Purge(context.Background(), storage.PurgeJTIs, time.Now(), 10)
		done <- result{n, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the purge find the old row and wait for its lock
	must(t, s.Commit(tx))
	r := <-done
	if r.err != nil || r.n != 0 {
		t.Fatalf("Purge = %d, %v; want 0: the row it found expired was given a new expiry", r.n, r.err)
	}
	if err := s.UseJTI(ctx, "jti", now.Add(time.Hour)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("jti recorded again until %s was purged: a replay is accepted (err = %v)", now.Add(time.Hour), err)
	}
}

// PurgeIndexes is the index each purge batch must range-scan (00002: *_expires;
// 00003: the partial revoked_at and delivered_at indexes); both backends
// check their plans against it.
var PurgeIndexes = map[storage.PurgeTarget]string{
	storage.PurgeCodes:                "oauth2_code_expires",
	storage.PurgeAccessTokens:         "oauth2_access_expires",
	storage.PurgeRefreshTokens:        "oauth2_refresh_expires",
	storage.PurgeJTIs:                 "oauth2_jti_expires",
	storage.PurgeFlows:                "auth_flows_expires",
	storage.PurgeLoginSessions:        "login_sessions_expires",
	storage.PurgeRevokedLoginSessions: "login_sessions_revoked",
	storage.PurgeDeliveredEvents:      "events_delivered",
}
