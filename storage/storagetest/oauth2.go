package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

// RunOAuth2 runs the conformance tests of the records behind the provider:
// clients, users, sessions, flows, grants, keys and tokens.
func RunOAuth2(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, storage.Store)
	}{
		{"Clients", testClients},
		{"Users", testUsers},
		{"UserPhone", testUserPhone},
		{"UserCredential", testUserCredential},
		{"LoginSessions", testLoginSessions},
		{"Flows", testFlows},
		{"Grants", testGrants},
		{"UserGrant", testUserGrant},
		{"SigningKeys", testSigningKeys},
		{"Tokens", testTokens},
		{"DeferredWriteErrors", testDeferredWriteErrors},
		{"RefreshWithAccount", testRefreshWithAccount},
		{"CodeWithAccount", testCodeWithAccount},
		{"TenantIsolation", testTenantIsolation},
		{"DeleteClientCascades", testDeleteClientCascades},
		{"RaceDeactivateToken", testRaceDeactivate},
		{"SpendToken", testSpendToken},
		{"RaceRefreshRotation", testRaceRotation},
		{"RaceFlowTransition", testRaceFlow},
		{"RaceJTI", testRaceJTI},
		{"RaceSameEmail", testRaceSameEmail},
		{"RaceActiveKey", testRaceActiveKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// SampleClient is a valid confidential client.
func SampleClient(id string) storage.Client {
	return storage.Client{
		ID: id, Name: "App " + id, SecretHash: []byte{1, 2, 3},
		RedirectURIs: []string{"https://app.example.com/cb"}, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "offline_access"}, Audience: []string{"https://api.example.com"},
		TokenEndpointAuthMethod: "client_secret_basic", IDTokenAlg: "RS256", AccessTokenFormat: "opaque",
		CreatedAt: t0, UpdatedAt: t0,
	}
}

// SampleUser is an active account.
func SampleUser(id, email string) storage.User {
	return storage.User{ID: id, Email: email, EmailNormalized: email, Name: "User " + id, Status: storage.StatusActive,
		Resettable: true, CreatedAt: t0, UpdatedAt: t0}
}

func sampleToken(sig, requestID, clientID string) storage.Token {
	return storage.Token{Signature: sig, RequestID: requestID, ClientID: clientID, Subject: "u1", // SampleUser("u1", …)
		RequestedAt: t0, ExpiresAt: t0.Add(time.Hour), Scopes: []string{"openid"}, GrantedScopes: []string{"openid"},
		Audience: []string{}, GrantedAudience: []string{}, Form: "scope=openid", Session: []byte("sealed"), Active: true}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testClients(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	c := SampleClient("c1")
	c.JWKS = []byte(`{"keys":[]}`)
	must(t, s.CreateClient(ctx, c))
	if err := s.CreateClient(ctx, c); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate client err = %v", err)
	}
	got, err := s.GetClient(ctx, "c1")
	must(t, err)
	c.TenantID = tenant.Default
	if !jsonEqual(got.JWKS, c.JWKS) {
		t.Fatalf("JWKS = %s, want %s", got.JWKS, c.JWKS)
	}
	got.JWKS = c.JWKS
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("GetClient =\n%+v\nwant\n%+v", got, c)
	}
	pub := SampleClient("c2")
	pub.SecretHash, pub.Public, pub.TokenEndpointAuthMethod, pub.JWKS = nil, true, "none", nil
	must(t, s.CreateClient(ctx, pub))
	got2, err := s.GetClient(ctx, "c2")
	must(t, err)
	if got2.SecretHash != nil || got2.JWKS != nil || !got2.Public {
		t.Fatalf("public client = %+v", got2)
	}
	c.Name, c.RedirectURIs, c.UpdatedAt = "Renamed", []string{"https://a/cb", "https://b/cb"}, t0.Add(time.Hour)
	must(t, s.UpdateClient(ctx, c))
	got, _ = s.GetClient(ctx, "c1")
	if got.Name != "Renamed" || len(got.RedirectURIs) != 2 || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after update = %+v", got)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListClients = %d, %v", len(list), err)
	}
	must(t, s.DeleteClient(ctx, "c2"))
	if _, err := s.GetClient(ctx, "c2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted client err = %v", err)
	}
	if err := s.DeleteClient(ctx, "c2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second delete err = %v", err)
	}
	if err := s.UpdateClient(ctx, SampleClient("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("update missing err = %v", err)
	}
}

func testUsers(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	u := SampleUser("u1", "ada@example.com")
	u.Metadata = []byte(`{"plan":"pro"}`)
	must(t, s.CreateUser(ctx, u))
	dup := SampleUser("u2", "ada@example.com")
	if err := s.CreateUser(ctx, dup); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate email err = %v", err)
	}
	noEmail := SampleUser("u3", "")
	noEmail2 := SampleUser("u4", "")
	must(t, s.CreateUser(ctx, noEmail))
	must(t, s.CreateUser(ctx, noEmail2)) // NULL emails never collide
	got, err := s.GetUserByEmail(ctx, "ada@example.com")
	if err != nil || got.ID != "u1" || got.Name != "User u1" || string(got.Metadata) == "" {
		t.Fatalf("GetUserByEmail = %+v, %v", got, err)
	}
	if _, err := s.GetUserByEmail(ctx, "nobody@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown email err = %v", err)
	}
	if _, err := s.GetUser(ctx, "ghost"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetUser(missing) err = %v, want ErrNotFound", err)
	}
	until := t0.Add(24 * time.Hour)
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusSuspended, "abuse", "admin@example.com", &until))
	got, _ = s.GetUser(ctx, "u1")
	if got.Status != storage.StatusSuspended || got.StatusReason != "abuse" || got.StatusUntil == nil || !got.StatusUntil.Equal(until) {
		t.Fatalf("after SetUserStatus = %+v", got)
	}
	if err := s.SetUserStatus(ctx, "ghost", storage.StatusActive, "", "", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("status of missing user err = %v", err)
	}
	must(t, s.SetCredential(ctx, storage.Credential{UserID: "u1", Type: storage.CredentialPassword, Secret: "$argon2id$v1"}))
	must(t, s.SetCredential(ctx, storage.Credential{UserID: "u1", Type: storage.CredentialPassword, Secret: "$argon2id$v2"}))
	c, err := s.GetCredential(ctx, "u1", storage.CredentialPassword)
	if err != nil || c.Secret != "$argon2id$v2" {
		t.Fatalf("GetCredential = %+v, %v", c, err)
	}
	if _, err := s.GetCredential(ctx, "u3", storage.CredentialPassword); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing credential err = %v", err)
	}
}

// testUserPhone: a phone number belongs to one account of a tenant; another
// tenant may use it again.
func testUserPhone(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateTenant(ctx, storage.Tenant{ID: "other", Name: "Other"}))
	other := tenant.With(ctx, "other")
	u := SampleUser("u1", "a@example.com")
	u.Phone = "+15550100"
	must(t, s.CreateUser(ctx, u))
	dup := SampleUser("u2", "b@example.com")
	dup.Phone = u.Phone
	if err := s.CreateUser(ctx, dup); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate phone in one tenant err = %v, want ErrConflict", err)
	}
	if _, err := s.GetUser(ctx, "u2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("account with a duplicate phone was stored: %v", err)
	}
	must(t, s.CreateUser(other, dup)) // same phone, another tenant
	for _, c := range []struct {
		ctx context.Context
		id  string
	}{{ctx, "u1"}, {other, "u2"}} {
		got, err := s.GetUser(c.ctx, c.id)
		if err != nil || got.Phone != u.Phone {
			t.Fatalf("GetUser(%s) = %+v, %v; want phone %s", c.id, got, err, u.Phone)
		}
	}
}

func testLoginSessions(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	ls := storage.LoginSession{ID: "s1", TokenHash: []byte("hash-1"), UserID: "u1", AuthTime: t0, AMR: []string{"pwd"},
		ACR: "1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateLoginSession(ctx, ls))
	must(t, s.CreateLoginSession(ctx, storage.LoginSession{ID: "s2", TokenHash: []byte("hash-2"), UserID: "u1",
		AuthTime: t0, AMR: []string{"pwd"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	got, err := s.GetLoginSessionByToken(ctx, []byte("hash-1"))
	if err != nil || got.ID != "s1" || !reflect.DeepEqual(got.AMR, []string{"pwd"}) || got.RevokedAt != nil {
		t.Fatalf("GetLoginSessionByToken = %+v, %v", got, err)
	}
	withUser, u, err := s.GetLoginSessionWithUser(ctx, []byte("hash-1"))
	if err != nil || !reflect.DeepEqual(withUser, got) || u.ID != "u1" || u.Email != "a@example.com" || u.TenantID == "" {
		t.Fatalf("GetLoginSessionWithUser = %+v, %+v, %v; want %+v with u1", withUser, u, err, got)
	}
	if _, _, err := s.GetLoginSessionWithUser(ctx, []byte("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetLoginSessionWithUser(unknown) err = %v, want ErrNotFound", err)
	}
	if _, _, err := s.GetLoginSessionWithUser(tenant.With(ctx, "other"), []byte("hash-1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetLoginSessionWithUser in another tenant err = %v, want ErrNotFound", err)
	}
	must(t, s.RevokeLoginSession(ctx, "s1", t0.Add(time.Minute)))
	if withUser, _, err = s.GetLoginSessionWithUser(ctx, []byte("hash-1")); err != nil || withUser.RevokedAt == nil {
		t.Fatalf("revoked session with its user = %+v, %v; want it, revoked", withUser, err)
	}
	got, _ = s.GetLoginSession(ctx, "s1")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked session = %+v", got)
	}
	must(t, s.RevokeUserLoginSessions(ctx, "u1", t0.Add(2*time.Minute)))
	got, _ = s.GetLoginSession(ctx, "s2")
	if got.RevokedAt == nil {
		t.Fatal("RevokeUserLoginSessions left a session open")
	}
	if _, err := s.GetLoginSessionByToken(ctx, []byte("nope")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown session err = %v", err)
	}
	if _, err := s.GetLoginSession(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetLoginSession(missing) err = %v, want ErrNotFound", err)
	}
	// Revoking is idempotent: an unknown or already revoked session, or a
	// user without open sessions, is no error and changes nothing.
	must(t, s.RevokeLoginSession(ctx, "nope", t0.Add(3*time.Minute)))
	must(t, s.RevokeLoginSession(ctx, "s1", t0.Add(3*time.Minute)))
	must(t, s.RevokeUserLoginSessions(ctx, "u1", t0.Add(3*time.Minute)))
	must(t, s.RevokeUserLoginSessions(ctx, "ghost", t0.Add(3*time.Minute)))
	got, err = s.GetLoginSession(ctx, "s1")
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a second revocation moved revoked_at: %+v, %v", got, err)
	}

	// Any status but active ends the account's open sessions with it
	// (another account's stay open); active again ends nothing.
	must(t, s.CreateUser(ctx, SampleUser("u2", "b@example.com")))
	for id, user := range map[string]string{"s3": "u1", "s4": "u2"} {
		must(t, s.CreateLoginSession(ctx, storage.LoginSession{ID: id, TokenHash: []byte("hash-" + id), UserID: user,
			AuthTime: t0, AMR: []string{"pwd"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	}
	// until is later than the store's clock (the real one): a status whose
	// end has passed ends nothing.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusSuspended, "test", "admin", &until))
	if got, _ = s.GetLoginSession(ctx, "s3"); got.RevokedAt == nil {
		t.Fatal("SetUserStatus(suspended) left the account's session open")
	}
	if got, _ = s.GetLoginSession(ctx, "s4"); got.RevokedAt != nil {
		t.Fatal("SetUserStatus(suspended) ended another account's session")
	}
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusActive, "", "admin", nil))
	must(t, s.CreateLoginSession(ctx, storage.LoginSession{ID: "s5", TokenHash: []byte("hash-s5"), UserID: "u1",
		AuthTime: t0, AMR: []string{"pwd"}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusActive, "", "admin", nil))
	if got, _ = s.GetLoginSession(ctx, "s5"); got.RevokedAt != nil {
		t.Fatal("SetUserStatus(active) ended a session")
	}

	// It ends the account's refresh tokens (deactivated, kept for reuse
	// detection) and access tokens with them (SECURITY.md); another
	// account's stay.
	for _, kind := range []storage.TokenKind{storage.TokenRefresh, storage.TokenAccess} {
		mine, theirs := sampleToken("st-"+string(kind)+"-1", "st-req-1", "c1"), sampleToken("st-"+string(kind)+"-2", "st-req-2", "c1")
		theirs.Subject = "u2"
		must(t, s.CreateToken(ctx, kind, mine))
		must(t, s.CreateToken(ctx, kind, theirs))
	}
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusBanned, "test", "admin", nil))
	if rt, err := s.GetToken(ctx, storage.TokenRefresh, "st-refresh-1"); err != nil || rt.Active {
		t.Fatalf("SetUserStatus(banned): the account's refresh token = %+v, %v; want it kept, inactive", rt.Active, err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "st-access-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetUserStatus(banned): the account's access token: %v; want it deleted", err)
	}
	if rt, err := s.GetToken(ctx, storage.TokenRefresh, "st-refresh-2"); err != nil || !rt.Active {
		t.Fatalf("SetUserStatus(banned) ended another account's refresh token: %v, %v", rt.Active, err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "st-access-2"); err != nil {
		t.Fatalf("SetUserStatus(banned) ended another account's access token: %v", err)
	}
	must(t, s.SetUserStatus(ctx, "u1", storage.StatusActive, "", "admin", nil))
}

func testFlows(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	f := storage.Flow{ID: "f1", ClientID: "c1", State: "login", DeviceHash: []byte("dev"), Data: []byte(`{"a":1}`),
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
	must(t, s.CreateFlow(ctx, f))
	got, err := s.GetFlow(ctx, "f1")
	if err != nil || got.State != "login" || string(got.DeviceHash) != "dev" || !got.ExpiresAt.Equal(f.ExpiresAt) {
		t.Fatalf("GetFlow = %+v, %v", got, err)
	}
	// On its own CreateFlow may commit without waiting for the disk (see
	// sqlstore.CreateFlow): its failures still come back from it.
	if err := s.CreateFlow(ctx, f); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("CreateFlow(existing id) err = %v, want ErrConflict", err)
	}
	// Inside a transaction it is part of it: rolled back with it.
	rolledBack := errors.New("roll back")
	if err := s.InTx(ctx, func(ctx context.Context) error {
		g := f
		g.ID = "f-rolled-back"
		must(t, s.CreateFlow(ctx, g))
		return rolledBack
	}); !errors.Is(err, rolledBack) {
		t.Fatalf("InTx err = %v", err)
	}
	if _, err := s.GetFlow(ctx, "f-rolled-back"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a flow created in a rolled-back transaction: err = %v, want ErrNotFound", err)
	}
	f.State, f.Data = "consent", []byte(`{"a":2}`)
	must(t, s.UpdateFlow(ctx, f, "login"))
	if err := s.UpdateFlow(ctx, f, "login"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("stale transition err = %v", err)
	}
	got, _ = s.GetFlow(ctx, "f1")
	if got.State != "consent" {
		t.Fatalf("state = %s", got.State)
	}
	if _, err := s.GetFlow(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetFlow(missing) err = %v, want ErrNotFound", err)
	}
	// A flow that is gone (purged) cannot be in fromState either.
	if err := s.UpdateFlow(ctx, storage.Flow{ID: "nope", State: "consent"}, "login"); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("UpdateFlow(missing) err = %v, want ErrConflict", err)
	}
	if _, err := s.GetFlow(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("UpdateFlow(missing) created a flow: %v", err)
	}
}

func testGrants(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	if _, err := s.GetGrant(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("no grant err = %v", err)
	}
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}}))
	first, _ := s.GetGrant(ctx, "u1", "c1")
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c1", Scopes: []string{"openid", "profile"}}))
	g, err := s.GetGrant(ctx, "u1", "c1")
	if err != nil || g.ID != first.ID || !reflect.DeepEqual(g.Scopes, []string{"openid", "profile"}) {
		t.Fatalf("grant after upsert = %+v, %v (first id %s)", g, err, first.ID)
	}
	must(t, s.DeleteGrant(ctx, "u1", "c1"))
	if err := s.DeleteGrant(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second DeleteGrant err = %v", err)
	}
}

func testSigningKeys(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	k := func(kid, alg, state string, created time.Time) storage.SigningKey {
		return storage.SigningKey{KID: kid, Alg: alg, State: state, PrivateKey: []byte("sealed-" + kid),
			PublicJWK: []byte(`{"kid":"` + kid + `"}`), CreatedAt: created}
	}
	must(t, s.CreateSigningKey(ctx, k("rs-1", "RS256", storage.KeyActive, t0)))
	must(t, s.CreateSigningKey(ctx, k("rs-2", "RS256", storage.KeyNext, t0.Add(time.Second))))
	must(t, s.CreateSigningKey(ctx, k("es-1", "ES256", storage.KeyActive, t0)))
	if err := s.CreateSigningKey(ctx, k("rs-3", "RS256", storage.KeyActive, t0)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second active RS256 key err = %v", err)
	}
	if err := s.CreateSigningKey(ctx, k("rs-4", "RS256", storage.KeyNext, t0)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second next RS256 key err = %v", err)
	}
	// Rotate: retire the active, promote the next.
	exp := t0.Add(2 * time.Hour)
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		if err := s.TransitionSigningKey(ctx, "rs-1", storage.KeyActive, storage.KeyRetired, t0.Add(time.Hour), &exp); err != nil {
			return err
		}
		return s.TransitionSigningKey(ctx, "rs-2", storage.KeyNext, storage.KeyActive, t0.Add(time.Hour), nil)
	}))
	if err := s.TransitionSigningKey(ctx, "rs-1", storage.KeyActive, storage.KeyRetired, t0, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stale transition err = %v", err)
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	states := map[string]storage.SigningKey{}
	for _, key := range keys {
		states[key.KID] = key
	}
	if states["rs-1"].State != storage.KeyRetired || states["rs-1"].ExpiresAt == nil || !states["rs-1"].ExpiresAt.Equal(exp) {
		t.Errorf("rs-1 = %+v", states["rs-1"])
	}
	if states["rs-2"].State != storage.KeyActive || states["rs-2"].ActivatedAt == nil || string(states["rs-2"].PrivateKey) != "sealed-rs-2" {
		t.Errorf("rs-2 = %+v", states["rs-2"])
	}
	must(t, s.DeleteSigningKey(ctx, "rs-1"))
	if keys, _ := s.ListSigningKeys(ctx); len(keys) != 2 {
		t.Errorf("%d keys after delete", len(keys))
	}
	must(t, s.DeleteSigningKey(ctx, "rs-1"))  // idempotent: deleting twice is no error
	must(t, s.DeleteSigningKey(ctx, "ghost")) // nor is deleting a key that never existed
	if keys, _ := s.ListSigningKeys(ctx); len(keys) != 2 {
		t.Errorf("%d keys after deleting missing ones, want 2", len(keys))
	}
}

func testTokens(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	for _, kind := range []storage.TokenKind{storage.TokenCode, storage.TokenAccess, storage.TokenRefresh} {
		tok := sampleToken("sig-"+string(kind), "req-1", "c1")
		if kind == storage.TokenRefresh {
			tok.AccessSignature = "sig-access"
		}
		must(t, s.CreateToken(ctx, kind, tok))
		if err := s.CreateToken(ctx, kind, tok); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("%s: duplicate signature err = %v", kind, err)
		}
		got, err := s.GetToken(ctx, kind, tok.Signature)
		must(t, err)
		if !reflect.DeepEqual(got, tok) {
			t.Fatalf("%s: GetToken =\n%+v\nwant\n%+v", kind, got, tok)
		}
	}
	must(t, s.DeactivateToken(ctx, storage.TokenCode, "sig-code"))
	if err := s.DeactivateToken(ctx, storage.TokenCode, "sig-code"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second deactivate err = %v", err)
	}
	if got, _ := s.GetToken(ctx, storage.TokenCode, "sig-code"); got.Active {
		t.Fatal("code still active")
	}
	must(t, s.CreateToken(ctx, storage.TokenRefresh, sampleToken("sig-refresh-2", "req-1", "c1")))
	must(t, s.CreateToken(ctx, storage.TokenRefresh, sampleToken("sig-other", "req-2", "c1")))
	n, err := s.RevokeTokens(ctx, storage.TokenRefresh, "req-1")
	if err != nil || n != 2 {
		t.Fatalf("RevokeTokens(refresh) = %d, %v; want 2", n, err)
	}
	if got, err := s.GetToken(ctx, storage.TokenRefresh, "sig-refresh"); err != nil || got.Active {
		t.Fatalf("revoked refresh token kept for reuse detection? %+v %v", got, err)
	}
	if got, _ := s.GetToken(ctx, storage.TokenRefresh, "sig-other"); !got.Active {
		t.Fatal("another request's refresh token was revoked")
	}
	if n, err := s.RevokeTokens(ctx, storage.TokenAccess, "req-1"); err != nil || n != 1 {
		t.Fatalf("RevokeTokens(access) = %d, %v", n, err)
	}
	// DiscardTokens, in a transaction (deferred) and outside.
	must(t, s.CreateToken(ctx, storage.TokenAccess, sampleToken("sig-d1", "req-d", "c1")))
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		if err := s.DiscardTokens(ctx, storage.TokenAccess, "req-d"); err != nil {
			return err
		}
		return s.CreateToken(ctx, storage.TokenAccess, sampleToken("sig-d2", "req-d", "c1"))
	}))
	if _, err := s.GetToken(ctx, storage.TokenAccess, "sig-d1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("discarded token err = %v", err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "sig-d2"); err != nil {
		t.Fatalf("token created after the discard: %v", err)
	}
	must(t, s.DiscardTokens(ctx, storage.TokenAccess, "req-d"))
	if _, err := s.GetToken(ctx, storage.TokenAccess, "sig-d2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("discarded (outside a transaction) token err = %v", err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "sig-access"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("revoked access token err = %v", err)
	}
	must(t, s.DeleteToken(ctx, storage.TokenCode, "sig-code"))
	must(t, s.DeleteToken(ctx, storage.TokenCode, "sig-code")) // deleting twice is no error
	if _, err := s.GetToken(ctx, storage.TokenCode, "sig-code"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted code err = %v", err)
	}
	// JTI: one use until it expires.
	must(t, s.UseJTI(ctx, "jti-1", time.Now().Add(time.Hour)))
	if err := s.UseJTI(ctx, "jti-1", time.Now().Add(time.Hour)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("replayed jti err = %v", err)
	}
	must(t, s.UseJTI(ctx, "jti-old", time.Now().Add(-time.Hour)))
	must(t, s.UseJTI(ctx, "jti-old", time.Now().Add(time.Hour))) // expired: may be recorded again
}

func testTenantIsolation(t *testing.T, s storage.Store) {
	a := Ctx(t)
	must(t, s.CreateTenant(a, storage.Tenant{ID: "other", Name: "Other"}))
	b := tenant.With(a, "other")
	must(t, s.CreateClient(a, SampleClient("c1")))
	must(t, s.CreateUser(a, SampleUser("u1", "same@example.com")))
	must(t, s.CreateUser(b, SampleUser("u1", "same@example.com"))) // same id and email: another tenant
	must(t, s.CreateToken(a, storage.TokenAccess, sampleToken("sig-a", "r", "c1")))
	if _, err := s.GetClient(b, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("client of tenant A visible in B: %v", err)
	}
	if _, err := s.GetToken(b, storage.TokenAccess, "sig-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("token of tenant A visible in B: %v", err)
	}
	if err := s.DeactivateToken(b, storage.TokenAccess, "sig-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("tenant B deactivated A's token: %v", err)
	}
	if n, _ := s.RevokeTokens(b, storage.TokenAccess, "r"); n != 0 {
		t.Errorf("tenant B revoked %d of A's tokens", n)
	}
	if err := s.DeleteClient(b, "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("tenant B deleted A's client: %v", err)
	}
	if _, err := s.GetToken(a, storage.TokenAccess, "sig-a"); err != nil {
		t.Errorf("tenant A lost its token: %v", err)
	}
	if _, err := s.GetClient(context.Background(), "c1"); !errors.Is(err, storage.ErrNoTenant) {
		t.Errorf("unscoped GetClient err = %v, want ErrNoTenant", err)
	}
}

func testDeleteClientCascades(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}}))
	must(t, s.DeleteClient(ctx, "c1"))
	if _, err := s.GetGrant(ctx, "u1", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("grant outlived its client: %v", err)
	}
	// Token rows have no foreign key to their client (it would lock the
	// client's row on every issuance); they are dead without it and the
	// janitor removes them at expiry. Storing one for an unknown client is
	// therefore not refused by the store.
	must(t, s.CreateToken(ctx, storage.TokenRefresh, sampleToken("sig-r", "r", "c1")))
}

// race runs fn in n goroutines at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and the rest match loser.
func oneWinner(t *testing.T, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("loser err = %v, want %v", err, loser)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d goroutines won, want exactly 1", wins, len(errs))
	}
}

const racers = 16

func testRaceDeactivate(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateToken(ctx, storage.TokenCode, sampleToken("code", "r", "c1")))
	oneWinner(t, race(racers, func(int) error { return s.DeactivateToken(ctx, storage.TokenCode, "code") }), storage.ErrNotFound)
}

// testSpendToken: a token or code spent once is spent; a transaction that
// spends a spent one fails, from SpendToken or from a later call or its
// commit (PostgreSQL checks the row count in the database, with the
// transaction's later statements), and nothing it wrote after commits.
func testSpendToken(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateToken(ctx, storage.TokenCode, sampleToken("code", "r1", "c1")))
	must(t, s.SpendToken(ctx, storage.TokenCode, "code"))
	err := s.SpendToken(ctx, storage.TokenCode, "code")
	if !errors.Is(err, storage.ErrSpent) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second spend outside a transaction: err = %v, want ErrSpent and ErrNotFound", err)
	}
	if err := s.SpendToken(ctx, storage.TokenCode, "no-such-code"); !errors.Is(err, storage.ErrSpent) {
		t.Fatalf("spend of a missing code: err = %v, want ErrSpent", err)
	}

	// In a transaction: the spent code's exchange issues nothing.
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.SpendToken(ctx, storage.TokenCode, "code"); err != nil {
			return err
		}
		return s.CreateToken(ctx, storage.TokenAccess, sampleToken("at-after-miss", "r1", "c1"))
	})
	if !errors.Is(err, storage.ErrSpent) || !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("transaction spending a spent code: err = %v, want ErrSpent and ErrNotFound", err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "at-after-miss"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the access token written after the miss: GetToken err = %v, want ErrNotFound (rolled back)", err)
	}
	// A read in the transaction after the miss sends it: the error comes
	// from there at the latest, and the transaction cannot go on.
	must(t, s.CreateToken(ctx, storage.TokenRefresh, sampleToken("rt", "r2", "c1")))
	must(t, s.SpendToken(ctx, storage.TokenRefresh, "rt"))
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.SpendToken(ctx, storage.TokenRefresh, "rt"); err != nil {
			return err
		}
		_, err := s.GetToken(ctx, storage.TokenRefresh, "rt")
		return err
	})
	if !errors.Is(err, storage.ErrSpent) {
		t.Fatalf("transaction reading after a missed spend: err = %v, want ErrSpent", err)
	}

	// The one that does spend commits, with what it wrote.
	must(t, s.CreateToken(ctx, storage.TokenCode, sampleToken("code-2", "r3", "c1")))
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		if err := s.SpendToken(ctx, storage.TokenCode, "code-2"); err != nil {
			return err
		}
		return s.CreateToken(ctx, storage.TokenAccess, sampleToken("at-3", "r3", "c1"))
	}))
	if got, err := s.GetToken(ctx, storage.TokenCode, "code-2"); err != nil || got.Active {
		t.Fatalf("spent code: %+v, %v; want inactive", got, err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "at-3"); err != nil {
		t.Fatalf("access token of the spending transaction: %v", err)
	}
}

// testRaceRotation is a refresh rotation as the provider does it: in one
// transaction, spend the presented token and store its successor. Of N
// concurrent rotations of one token exactly one may commit. It runs with
// SpendToken (what the provider uses) and with DeactivateToken.
func testRaceRotation(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	for _, v := range []struct {
		name  string
		spend func(context.Context, storage.TokenKind, string) error
		loser error
	}{
		{"SpendToken", s.SpendToken, storage.ErrSpent},
		{"DeactivateToken", s.DeactivateToken, storage.ErrNotFound},
	} {
		t.Run(v.name, func(t *testing.T) {
			family, first := "family-"+v.name, "rt-"+v.name
			must(t, s.CreateToken(ctx, storage.TokenRefresh, sampleToken(first, family, "c1")))
			successor := func(i int) string { return fmt.Sprintf("%s-%d", first, i+1) }
			errs := race(racers, func(i int) error {
				return s.InTx(ctx, func(ctx context.Context) error {
					if _, err := s.RevokeTokens(ctx, storage.TokenAccess, family); err != nil {
						return err
					}
					if err := v.spend(ctx, storage.TokenRefresh, first); err != nil {
						return err
					}
					if err := s.CreateToken(ctx, storage.TokenAccess, sampleToken(fmt.Sprintf("at-%s-%d", v.name, i), family, "c1")); err != nil {
						return err
					}
					return s.CreateToken(ctx, storage.TokenRefresh, sampleToken(successor(i), family, "c1"))
				})
			})
			oneWinner(t, errs, v.loser)
			successors := 0
			for i := range racers {
				if tok, err := s.GetToken(ctx, storage.TokenRefresh, successor(i)); err == nil && tok.Active {
					successors++
				}
			}
			if successors != 1 {
				t.Fatalf("%d successor refresh tokens survive, want 1 (the losers' must roll back)", successors)
			}
		})
	}
}

func testRaceFlow(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateFlow(ctx, storage.Flow{ID: "f", ClientID: "c1", State: "consented", DeviceHash: []byte("d"),
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	oneWinner(t, race(racers, func(int) error {
		return s.UpdateFlow(ctx, storage.Flow{ID: "f", State: "done"}, "consented")
	}), storage.ErrConflict)
}

func testRaceJTI(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	exp := time.Now().Add(time.Hour)
	oneWinner(t, race(racers, func(int) error { return s.UseJTI(ctx, "jti", exp) }), storage.ErrConflict)
}

func testRaceSameEmail(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	oneWinner(t, race(racers, func(i int) error {
		return s.CreateUser(ctx, SampleUser(fmt.Sprintf("u%d", i), "same@example.com"))
	}), storage.ErrConflict)
}

func testRaceActiveKey(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	oneWinner(t, race(racers, func(i int) error {
		return s.CreateSigningKey(ctx, storage.SigningKey{KID: fmt.Sprintf("k%d", i), Alg: "RS256", State: storage.KeyActive,
			PrivateKey: []byte("x"), PublicJWK: []byte(`{}`), CreatedAt: t0})
	}), storage.ErrConflict)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func testUserGrant(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateClient(ctx, SampleClient("c2")))
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	u, g, err := s.GetUserGrant(ctx, "u1", "c1")
	if err != nil || u.ID != "u1" || u.Email != "a@example.com" || g.ID != "" || g.Scopes != nil {
		t.Fatalf("no grant: %+v %+v %v", u, g, err)
	}
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c1", Scopes: []string{"openid", "email"}}))
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c2", Scopes: []string{"profile"}}))
	u, g, err = s.GetUserGrant(ctx, "u1", "c1")
	if err != nil || u.Name != "User u1" || g.ID == "" || !reflect.DeepEqual(g.Scopes, []string{"openid", "email"}) || g.CreatedAt.IsZero() {
		t.Fatalf("with grant: %+v %+v %v", u, g, err)
	}
	if _, _, err := s.GetUserGrant(ctx, "ghost", "c1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing user err = %v", err)
	}
}

// testDeferredWriteErrors: a write a backend sends later (with the next
// statement or the commit) still fails its transaction with its own error.
func testDeferredWriteErrors(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateToken(ctx, storage.TokenAccess, sampleToken("dup", "r", "c1")))
	// Surfacing at commit.
	err := s.InTx(ctx, func(ctx context.Context) error {
		return s.CreateToken(ctx, storage.TokenAccess, sampleToken("dup", "r", "c1"))
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("duplicate insert in a transaction: err = %v, want ErrConflict", err)
	}
	// Surfacing from the next statement; nothing of the transaction stays.
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateToken(ctx, storage.TokenAccess, sampleToken("fresh", "r", "c1")); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, storage.TokenAccess, sampleToken("dup", "r", "c1")); err != nil {
			return err
		}
		_, err := s.GetToken(ctx, storage.TokenAccess, "fresh")
		return err
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("statement after a failed deferred insert: err = %v, want ErrConflict", err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "fresh"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a write of the failed transaction survived: %v", err)
	}
	// The callback ignores the error of the reads that follow (as in
	// `if x, err := s.Get…(ctx, …); err == nil {…}`) and returns nil: the
	// transaction fails all the same, with the conflict, and neither the
	// write before the failed one (sent at once or deferred) is stored.
	var reads []error
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateClient(ctx, SampleClient("c-early")); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, storage.TokenAccess, sampleToken("early", "r", "c1")); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, storage.TokenAccess, sampleToken("dup", "r", "c1")); err != nil {
			return err
		}
		for range 2 {
			_, err := s.GetToken(ctx, storage.TokenAccess, "early")
			reads = append(reads, err)
		}
		return nil
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("callback swallowed the failed deferred write: InTx err = %v, want ErrConflict", err)
	}
	for i, err := range reads {
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("read %d after the failed deferred write: err = %v, want ErrConflict", i+1, err)
		}
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "early"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a deferred write before the failed one was committed: %v", err)
	}
	if _, err := s.GetClient(ctx, "c-early"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a write before the failed deferred one was committed: %v", err)
	}
}

func testUserCredential(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	u, c, err := s.GetUserCredential(ctx, "a@example.com", storage.CredentialPassword)
	if err != nil || u.ID != "u1" || c.Secret != "" {
		t.Fatalf("without a password: %+v %+v %v", u, c, err)
	}
	must(t, s.SetCredential(ctx, storage.Credential{UserID: "u1", Type: storage.CredentialPassword, Secret: "$argon2id$x"}))
	must(t, s.SetCredential(ctx, storage.Credential{UserID: "u1", Type: "totp", Secret: "other"}))
	u, c, err = s.GetUserCredential(ctx, "a@example.com", storage.CredentialPassword)
	if err != nil || u.Email != "a@example.com" || c.Secret != "$argon2id$x" || c.UserID != "u1" || c.CreatedAt.IsZero() {
		t.Fatalf("with a password: %+v %+v %v", u, c, err)
	}
	if _, _, err := s.GetUserCredential(ctx, "nobody@example.com", storage.CredentialPassword); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown email err = %v", err)
	}
}

func testRefreshWithAccount(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	tok := sampleToken("rt", "family", "c1")
	tok.AccessSignature = "at"
	must(t, s.CreateToken(ctx, storage.TokenRefresh, tok))
	got, u, g, err := s.GetRefreshWithAccount(ctx, "rt")
	if err != nil || !reflect.DeepEqual(got, tok) || u.ID != "u1" || u.Email != "a@example.com" || g.ID != "" {
		t.Fatalf("without a grant: %+v %+v %+v %v", got, u, g, err)
	}
	must(t, s.UpsertGrant(ctx, storage.Grant{UserID: "u1", ClientID: "c1", Scopes: []string{"openid"}}))
	must(t, s.DeactivateToken(ctx, storage.TokenRefresh, "rt"))
	got, _, g, err = s.GetRefreshWithAccount(ctx, "rt")
	if err != nil || got.Active || g.ID == "" || !reflect.DeepEqual(g.Scopes, []string{"openid"}) || g.ClientID != "c1" {
		t.Fatalf("with a grant, inactive: %+v %+v %v", got, g, err)
	}
	if _, _, _, err := s.GetRefreshWithAccount(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown token err = %v", err)
	}
	orphan := sampleToken("orphan", "f2", "c1")
	orphan.Subject = "deleted-user"
	must(t, s.CreateToken(ctx, storage.TokenRefresh, orphan))
	if _, _, _, err := s.GetRefreshWithAccount(ctx, "orphan"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("token of a missing account err = %v, want ErrNotFound", err)
	}
}

func testCodeWithAccount(t *testing.T, s storage.Store) {
	ctx := Ctx(t)
	must(t, s.CreateClient(ctx, SampleClient("c1")))
	must(t, s.CreateUser(ctx, SampleUser("u1", "a@example.com")))
	tok := sampleToken("ac", "family", "c1")
	must(t, s.CreateToken(ctx, storage.TokenCode, tok))
	got, u, err := s.GetCodeWithAccount(ctx, "ac")
	if err != nil || !reflect.DeepEqual(got, tok) || u.ID != "u1" || u.Email != "a@example.com" || u.Status != storage.StatusActive {
		t.Fatalf("GetCodeWithAccount = %+v %+v %v", got, u, err)
	}
	must(t, s.DeactivateToken(ctx, storage.TokenCode, "ac"))
	if got, _, err = s.GetCodeWithAccount(ctx, "ac"); err != nil || got.Active {
		t.Fatalf("used code = %+v, %v; want it, inactive", got, err)
	}
	if _, _, err := s.GetCodeWithAccount(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("unknown code err = %v", err)
	}
	if _, _, err := s.GetCodeWithAccount(tenant.With(ctx, "other"), "ac"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("code read in another tenant err = %v, want ErrNotFound", err)
	}
	orphan := sampleToken("orphan", "f2", "c1")
	orphan.Subject = "deleted-user"
	must(t, s.CreateToken(ctx, storage.TokenCode, orphan))
	if _, _, err := s.GetCodeWithAccount(ctx, "orphan"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("code of a missing account err = %v, want ErrNotFound", err)
	}
}
