package flow_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
)

// t0 is the fake clock's start: whole seconds in UTC, so times survive the
// database round trip unchanged.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

const (
	device = "device-cookie-value"
	// lifetime is how long a pending authorization lives
	// (docs/architecture.md: 30 minutes).
	lifetime = 30 * time.Minute
)

// env is a flow.Service over a migrated SQLite store, with a clock the
// test moves.
type env struct {
	svc   *flow.Service
	store *sqlstore.Store
	ctx   context.Context
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, ctx := storagetest.SQLite(t)
	e := &env{store: store, ctx: ctx, now: t0}
	e.svc = &flow.Service{Store: store, Now: func() time.Time { return e.now }}
	return e
}

// newFlow is a flow as /oauth2/auth builds it, before Start.
func newFlow() *flow.Flow {
	return &flow.Flow{
		ClientID: "app", ClientName: "The App",
		Request: url.Values{"client_id": {"app"}, "response_type": {"code"}, "redirect_uri": {"https://app.example.com/cb"},
			"scope": {"openid profile email"}, "state": {"xyz"}},
		RequestedAt: t0, Scopes: []string{"openid", "profile", "email"},
		ForceLogin: true, ForceConsent: true, LoginHint: "ada@example.com",
	}
}

// start stores a new flow bound to device.
func (e *env) start(t *testing.T) *flow.Flow {
	t.Helper()
	f := newFlow()
	if err := e.svc.Start(e.ctx, f, device); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return f
}

func (e *env) load(t *testing.T, id string) *flow.Flow {
	t.Helper()
	f, err := e.svc.Load(e.ctx, id, device)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	return f
}

// wantInvalid fails unless err is flow.ErrInvalid: catalog code
// INVALID_TOKEN, status 400.
func wantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	var ce *catalog.Error
	if !errors.Is(err, flow.ErrInvalid) || !errors.As(err, &ce) || ce.Code != catalog.InvalidToken.Code || ce.Status != 400 {
		t.Fatalf("%s: err = %v, want flow.ErrInvalid (INVALID_TOKEN)", what, err)
	}
}

func authenticate(f *flow.Flow) error {
	return f.Authenticated("user-1", "ada@example.com", "session-1", t0.Add(-time.Minute), []string{"pwd"}, "1")
}

// TestStartStoresBoundFlow proves Start gives a new flow a random id, the
// Login state, an expiry 30 minutes from now, and stores it bound to the
// device by the device's hash (never the cookie value itself); the flow is
// then Stored and has nothing unsaved.
func TestStartStoresBoundFlow(t *testing.T) {
	e := newEnv(t)
	if f := newFlow(); f.Stored() || f.Unsaved() {
		t.Fatalf("a new flow: Stored %v, Unsaved %v; want false, false", f.Stored(), f.Unsaved())
	}
	f := e.start(t)
	if f.State != flow.Login || len(f.ID) < 43 || !f.ExpiresAt.Equal(t0.Add(lifetime)) {
		t.Fatalf("started flow: id %q, state %s, expires %v; want a 256-bit id, login, %v", f.ID, f.State, f.ExpiresAt, t0.Add(lifetime))
	}
	if !f.Stored() || f.Unsaved() {
		t.Fatalf("started flow: Stored %v, Unsaved %v; want true, false", f.Stored(), f.Unsaved())
	}
	row, err := e.store.GetFlow(e.ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.ClientID != "app" || row.State != string(flow.Login) || !row.CreatedAt.Equal(t0) || !row.ExpiresAt.Equal(t0.Add(lifetime)) {
		t.Fatalf("stored flow = %+v", row)
	}
	if !bytes.Equal(row.DeviceHash, web.HashToken(device)) || bytes.Contains(row.DeviceHash, []byte(device)) {
		t.Fatalf("stored device hash %x, want SHA-256 of the device cookie", row.DeviceHash)
	}
	if bytes.Contains(row.Data, []byte(device)) {
		t.Fatalf("stored flow data holds the device cookie: %s", row.Data)
	}

	if other := e.start(t); other.ID == f.ID {
		t.Fatalf("two flows got the same id %q", f.ID)
	}
}

// TestStartKeepsStateMovedOn proves a flow that moved on before it was
// stored (a browser session authenticated it) is stored in that state, with
// what Authenticated recorded.
func TestStartKeepsStateMovedOn(t *testing.T) {
	e := newEnv(t)
	f := newFlow()
	f.State = flow.Login
	if err := authenticate(f); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(e.ctx, f, device); err != nil {
		t.Fatal(err)
	}
	if f.State != flow.Consent || !f.Stored() || f.Unsaved() {
		t.Fatalf("started flow: state %s, Stored %v, Unsaved %v; want consent, true, false", f.State, f.Stored(), f.Unsaved())
	}
	got := e.load(t, f.ID)
	if got.State != flow.Consent || got.UserID != "user-1" || got.AccountName != "ada@example.com" || got.SessionID != "session-1" ||
		!got.AuthTime.Equal(t0.Add(-time.Minute)) || !slices.Equal(got.AMR, []string{"pwd"}) || got.ACR != "1" {
		t.Fatalf("loaded flow = %+v", got)
	}
}

// TestStartStoreFailure proves a flow whose Start failed is not Stored (the
// provider then starts it again rather than saving it), and the storage
// error is returned as is.
func TestStartStoreFailure(t *testing.T) {
	e := newEnv(t)
	f := newFlow()
	err := e.svc.Start(context.Background(), f, device) // no tenant: the store refuses
	if !errors.Is(err, storage.ErrNoTenant) || errors.Is(err, flow.ErrInvalid) {
		t.Fatalf("Start without a tenant: %v, want storage.ErrNoTenant", err)
	}
	if f.Stored() || f.Unsaved() {
		t.Fatalf("after a failed Start: Stored %v, Unsaved %v; want false, false", f.Stored(), f.Unsaved())
	}
}

// TestLoadRoundTrip proves Load, with the id and the device that started
// the flow, returns everything the provider stored (the browser supplies
// only the id), loaded clean: Stored and nothing unsaved.
func TestLoadRoundTrip(t *testing.T) {
	e := newEnv(t)
	f := e.start(t)
	e.now = t0.Add(lifetime - time.Second)
	got := e.load(t, f.ID)
	want := newFlow()
	if got.ID != f.ID || got.ClientID != want.ClientID || got.State != flow.Login || !got.ExpiresAt.Equal(t0.Add(lifetime)) ||
		got.ClientName != want.ClientName || got.Request.Encode() != want.Request.Encode() || !got.RequestedAt.Equal(want.RequestedAt) ||
		!slices.Equal(got.Scopes, want.Scopes) || got.ForceLogin != want.ForceLogin || got.ForceConsent != want.ForceConsent ||
		got.LoginHint != want.LoginHint || got.UserID != "" || got.GrantedScopes != nil {
		t.Fatalf("loaded flow = %+v\nwant as started: %+v", got, f)
	}
	if !got.Stored() || got.Unsaved() {
		t.Fatalf("loaded flow: Stored %v, Unsaved %v; want true, false", got.Stored(), got.Unsaved())
	}
}

// TestLoadDeviceBinding proves a flow loads only in the browser that
// started it: another device, no device, or no id is flow.ErrInvalid
// (INVALID_TOKEN), and such an attempt does not spend the flow.
func TestLoadDeviceBinding(t *testing.T) {
	e := newEnv(t)
	f := e.start(t)
	for _, c := range []struct{ name, id, device string }{
		{"another device", f.ID, "another-device"},
		{"no device", f.ID, ""},
		{"no id", "", device},
	} {
		got, err := e.svc.Load(e.ctx, c.id, c.device)
		wantInvalid(t, err, c.name)
		if got != nil {
			t.Fatalf("%s: Load returned a flow with its error", c.name)
		}
	}
	if got := e.load(t, f.ID); got.ID != f.ID {
		t.Fatalf("loaded %q, want %q", got.ID, f.ID)
	}
}

// TestLoadUnknown proves an id naming no flow (never started, or another
// tenant's) is flow.ErrInvalid, which still carries storage.ErrNotFound.
func TestLoadUnknown(t *testing.T) {
	e := newEnv(t)
	f := e.start(t)
	_, err := e.svc.Load(e.ctx, "no-such-flow", device)
	wantInvalid(t, err, "unknown id")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown id: %v does not carry storage.ErrNotFound", err)
	}

	if err := e.store.CreateTenant(e.ctx, storage.Tenant{ID: "other", Name: "Other", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Load(tenant.With(context.Background(), "other"), f.ID, device)
	wantInvalid(t, err, "another tenant's flow")
}

// TestLoadStorageFailure proves a storage failure is not flow.ErrInvalid
// ("start again"): the error is returned as is, so the caller can fail
// with its own status.
func TestLoadStorageFailure(t *testing.T) {
	e := newEnv(t)
	f := e.start(t)
	_, err := e.svc.Load(context.Background(), f.ID, device) // no tenant: the store refuses
	if !errors.Is(err, storage.ErrNoTenant) || errors.Is(err, flow.ErrInvalid) {
		t.Fatalf("Load without a tenant: %v, want storage.ErrNoTenant and not flow.ErrInvalid", err)
	}
}

// TestLoadExpiry proves a flow loads until its expiry and is
// flow.ErrInvalid from that instant on.
func TestLoadExpiry(t *testing.T) {
	e := newEnv(t)
	f := e.start(t)
	e.now = f.ExpiresAt.Add(-time.Microsecond)
	e.load(t, f.ID)
	for _, at := range []time.Time{f.ExpiresAt, f.ExpiresAt.Add(time.Hour)} {
		e.now = at
		_, err := e.svc.Load(e.ctx, f.ID, device)
		wantInvalid(t, err, "expired flow at "+at.Sub(f.ExpiresAt).String()+" past expiry")
	}
}

// TestTransitions proves the state machine: Login → Consent
// (Authenticated) → Ready (Consented) → Done (Finish); Login or Consent →
// Denied (Deny) → Done (Finish). Every other move is flow.ErrTransition
// (not flow.ErrInvalid: callers decide what the user sees) and leaves the
// flow as it was.
func TestTransitions(t *testing.T) {
	moves := []struct {
		name string
		do   func(*flow.Flow) error
	}{
		{"Authenticated", authenticate},
		{"Consented", func(f *flow.Flow) error { return f.Consented([]string{"openid"}) }},
		{"Deny", (*flow.Flow).Deny},
		{"Finish", (*flow.Flow).Finish},
	}
	allowed := map[flow.State]map[string]flow.State{
		flow.Login:   {"Authenticated": flow.Consent, "Deny": flow.Denied},
		flow.Consent: {"Consented": flow.Ready, "Deny": flow.Denied},
		flow.Ready:   {"Finish": flow.Done},
		flow.Denied:  {"Finish": flow.Done},
		flow.Done:    {},
	}
	for from, next := range allowed {
		for _, m := range moves {
			f := newFlow()
			f.State = from
			before := *f
			err := m.do(f)
			to, ok := next[m.name]
			switch {
			case ok && (err != nil || f.State != to):
				t.Errorf("%s in %s: state %s, err %v; want %s", m.name, from, f.State, err, to)
			case !ok && (!errors.Is(err, flow.ErrTransition) || errors.Is(err, flow.ErrInvalid)):
				t.Errorf("%s in %s: err %v, want flow.ErrTransition", m.name, from, err)
			case !ok && (f.State != from || f.UserID != before.UserID || f.GrantedScopes != nil):
				t.Errorf("%s in %s refused but changed the flow: %+v", m.name, from, f)
			}
		}
	}

	f := newFlow()
	f.State = flow.Login
	if err := authenticate(f); err != nil {
		t.Fatal(err)
	}
	if f.UserID != "user-1" || f.AccountName != "ada@example.com" || f.SessionID != "session-1" ||
		!f.AuthTime.Equal(t0.Add(-time.Minute)) || !slices.Equal(f.AMR, []string{"pwd"}) || f.ACR != "1" {
		t.Fatalf("Authenticated recorded %+v", f)
	}
}

// TestConsentedOnlyRequestedScopes proves Consented grants only scopes that
// were requested: a subset (even none) moves the flow to Ready with exactly
// those scopes; any scope not requested is flow.ErrTransition and the flow
// stays in Consent with nothing granted.
func TestConsentedOnlyRequestedScopes(t *testing.T) {
	for _, granted := range [][]string{{"openid", "profile", "email"}, {"email", "openid"}, nil} {
		f := newFlow()
		f.State = flow.Consent
		if err := f.Consented(granted); err != nil || f.State != flow.Ready || !slices.Equal(f.GrantedScopes, granted) {
			t.Fatalf("Consented(%q): state %s, granted %q, err %v", granted, f.State, f.GrantedScopes, err)
		}
	}
	f := newFlow()
	f.State = flow.Consent
	if err := f.Consented([]string{"openid", "offline_access"}); !errors.Is(err, flow.ErrTransition) {
		t.Fatalf("Consented with a scope not requested: %v, want flow.ErrTransition", err)
	}
	if f.State != flow.Consent || f.GrantedScopes != nil {
		t.Fatalf("refused consent left state %s, granted %q", f.State, f.GrantedScopes)
	}
}

// TestSaveMovesStoredFlow proves a loaded flow moved on in memory is
// Unsaved until Save writes it (a Save that failed in storage, returned as
// is and not as flow.ErrInvalid, leaves it Unsaved); Load then returns the
// new state with what the move recorded.
func TestSaveMovesStoredFlow(t *testing.T) {
	e := newEnv(t)
	f := e.load(t, e.start(t).ID)
	if err := authenticate(f); err != nil {
		t.Fatal(err)
	}
	if !f.Unsaved() {
		t.Fatal("a flow moved on in memory is not Unsaved")
	}
	err := e.svc.Save(context.Background(), f) // no tenant: the store refuses
	if !errors.Is(err, storage.ErrNoTenant) || errors.Is(err, flow.ErrInvalid) {
		t.Fatalf("Save without a tenant: %v, want storage.ErrNoTenant and not flow.ErrInvalid", err)
	}
	if !f.Unsaved() {
		t.Fatal("a flow whose Save failed is not Unsaved")
	}
	if err := e.svc.Save(e.ctx, f); err != nil {
		t.Fatal(err)
	}
	if f.Unsaved() || !f.Stored() {
		t.Fatalf("saved flow: Stored %v, Unsaved %v; want true, false", f.Stored(), f.Unsaved())
	}
	got := e.load(t, f.ID)
	if got.State != flow.Consent || got.UserID != "user-1" || got.SessionID != "session-1" || got.LoginHint != "ada@example.com" {
		t.Fatalf("loaded after Save: %+v", got)
	}
}

// TestSaveOnceAfterSeveralMoves proves a flow may pass through several
// states in memory and be written once, and that a finished (Done) flow
// can never be loaded again while a Ready or Denied one still can.
func TestSaveOnceAfterSeveralMoves(t *testing.T) {
	e := newEnv(t)
	f := e.load(t, e.start(t).ID)
	if err := authenticate(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Consented([]string{"openid"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Save(e.ctx, f); err != nil {
		t.Fatalf("Save login → ready: %v", err)
	}
	ready := e.load(t, f.ID)
	if ready.State != flow.Ready || !slices.Equal(ready.GrantedScopes, []string{"openid"}) || ready.UserID != "user-1" {
		t.Fatalf("loaded after Save: %+v", ready)
	}
	if err := ready.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Save(e.ctx, ready); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Load(e.ctx, f.ID, device)
	wantInvalid(t, err, "finished flow")

	denied := e.load(t, e.start(t).ID)
	if err := denied.Deny(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Save(e.ctx, denied); err != nil {
		t.Fatal(err)
	}
	if got := e.load(t, denied.ID); got.State != flow.Denied {
		t.Fatalf("denied flow loaded in state %s", got.State)
	}
}

// TestSaveConcurrentOneWins proves that of two requests moving the same
// flow, the first Save wins and the other gets flow.ErrInvalid (carrying
// storage.ErrConflict), leaving the winner's flow stored and the loser's
// still Unsaved.
func TestSaveConcurrentOneWins(t *testing.T) {
	e := newEnv(t)
	id := e.start(t).ID
	a, b := e.load(t, id), e.load(t, id)
	if err := authenticate(a); err != nil {
		t.Fatal(err)
	}
	if err := b.Deny(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Save(e.ctx, a); err != nil {
		t.Fatalf("first Save: %v", err)
	}
	err := e.svc.Save(e.ctx, b)
	wantInvalid(t, err, "second Save")
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second Save: %v does not carry storage.ErrConflict", err)
	}
	if !b.Unsaved() {
		t.Fatal("the losing flow is not Unsaved after its Save failed")
	}
	if got := e.load(t, id); got.State != flow.Consent || got.UserID != "user-1" {
		t.Fatalf("stored flow after the race: %+v, want the winner's", got)
	}
}
