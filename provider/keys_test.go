package provider_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestKeyRotation: after a rotation, tokens signed before still verify
// (the retired key stays in JWKS), new ones carry the new kid, and an old
// ID token still works as id_token_hint.
func TestKeyRotation(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		jc, jsecret := e.in.CreateClient(t, e.in.Ctx(), machine("jwt", "RS256"))
		ccToken := func() string {
			resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, jc.ID, jsecret)
			if resp.StatusCode != 200 {
				t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
			}
			return body["access_token"].(string)
		}
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request()
		tok1, err := e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		id1, _ := tok1.Extra("id_token").(string)
		at1 := ccToken()
		kid1 := kidOf(t, id1)
		jwks := fetchJWKS(t, e.in.URL)
		if len(jwks.Keys) != 4 {
			t.Fatalf("JWKS has %d keys, want active + next for RS256 and ES256", len(jwks.Keys))
		}
		for _, k := range jwks.Keys {
			if !k.IsPublic() || k.KeyID == "" || k.Use != "sig" || k.Algorithm == "" {
				t.Fatalf("JWKS key %+v", k)
			}
		}
		// The key that will sign next is already published.
		nextKID := ""
		keys, _ := e.in.Store().ListSigningKeys(e.in.Ctx())
		for _, k := range keys {
			if k.Alg == "RS256" && k.State == storage.KeyNext {
				nextKID = k.KID
			}
		}
		if len(jwks.Key(nextKID)) != 1 {
			t.Fatalf("next key %s not in JWKS before it signs", nextKID)
		}

		activated, retired, err := e.in.Services().Provider.Keys.Rotate(e.in.Ctx(), provider.RS256, true)
		if err != nil || activated != nextKID || retired != kid1 {
			t.Fatalf("Rotate = %s, %s, %v; want %s, %s", activated, retired, err, nextKID, kid1)
		}

		a = e.rp.request()
		tok2, err := e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		id2, _ := tok2.Extra("id_token").(string)
		if kid2 := kidOf(t, id2); kid2 != nextKID {
			t.Fatalf("new ID token kid %s, want %s", kid2, nextKID)
		}
		// Both verify with a fresh relying party (JWKS fetched now).
		fresh := e.newRP(e.client, e.secret, e.in.URL)
		for i, raw := range []string{id1, id2} {
			if _, err := fresh.verifier.Verify(fresh.ctx, raw); err != nil {
				t.Errorf("ID token %d after rotation: %v", i+1, err)
			}
		}
		if kidOf(t, ccToken()) != nextKID {
			t.Error("JWT access token after rotation not signed with the new key")
		}
		verifyJWT(t, e.in.URL, at1) // old JWT access token: still verifiable
		if e.introspect(at1)["active"] != true {
			t.Error("JWT access token signed before the rotation is no longer active")
		}
		// The old ID token is still a good id_token_hint.
		lo, err := b.Get(e.in.URL + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {id1}, "post_logout_redirect_uri": {logoutURI}}.Encode())
		if err != nil || lo.Redirect == nil {
			t.Fatalf("logout with a pre-rotation hint: %+v %v", lo, err)
		}
		// Rotating again at once is refused without force: the new next
		// key was published moments ago.
		if _, _, err := e.in.Services().Provider.Keys.Rotate(e.in.Ctx(), provider.RS256, false); err == nil {
			t.Error("rotation promoted a key published moments ago")
		}
	})
}

// TestKeyRetentionAndMaintenance: retired keys leave JWKS once expired;
// maintenance rotates keys older than the period.
func TestKeyRetentionAndMaintenance(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		clk := &clock{}
		e := newEnv(t, backend, withOptions(servertest.Options{Now: clk.Now}))
		keys := e.in.Services().Provider.Keys
		ctx := e.in.Ctx()
		_, retired, err := keys.Rotate(ctx, provider.ES256, true)
		if err != nil {
			t.Fatal(err)
		}
		if set := fetchJWKS(t, e.in.URL); len(set.Key(retired)) != 1 {
			t.Fatal("retired key not published")
		}
		clk.set(3 * time.Hour) // beyond retention (ID token TTL 1h + 1h)
		if err := keys.Maintain(ctx, 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		rows, _ := e.in.Store().ListSigningKeys(ctx)
		for _, r := range rows {
			if r.KID == retired {
				t.Fatalf("expired retired key %s still stored", retired)
			}
		}
		activeBefore, _ := keys.ActiveKID(ctx, provider.RS256)
		clk.set(31 * 24 * time.Hour)
		if err := keys.Maintain(ctx, 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
		activeAfter, _ := keys.ActiveKID(ctx, provider.RS256)
		if activeAfter == activeBefore {
			t.Fatal("maintenance did not rotate a key older than the period")
		}
	})
}

// TestKeyMaintenanceOnReplicas: replicas maintaining keys at once (each
// with its own key cache) rotate a due key once, and none reports an
// error: the others find it no longer due.
func TestKeyMaintenanceOnReplicas(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		clk := &clock{}
		e := newEnv(t, backend, withOptions(servertest.Options{Now: clk.Now}))
		first := e.in.Services().Provider.Keys
		ctx := e.in.Ctx()
		replicas := []*provider.Keys{first}
		for range 3 {
			replicas = append(replicas, &provider.Keys{Store: first.Store, Ring: first.Ring, Now: clk.Now,
				Retention: first.Retention, MinPublished: first.MinPublished})
		}
		before, err := first.ActiveKID(ctx, provider.ES256)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range replicas { // every cache holds the key that is due
			if kid, err := k.ActiveKID(ctx, provider.ES256); err != nil || kid != before {
				t.Fatalf("replica's active key %q, %v; want %q", kid, err, before)
			}
		}
		clk.set(31 * 24 * time.Hour)
		errs := make([]error, len(replicas))
		var wg sync.WaitGroup
		for i, k := range replicas {
			wg.Go(func() { errs[i] = k.Maintain(ctx, 30*24*time.Hour) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: Maintain = %v", i, err)
			}
		}
		rows, err := e.in.Store().ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		retired := 0
		for _, r := range rows {
			if r.Alg == provider.ES256 && r.State == storage.KeyRetired {
				retired++
				if r.KID != before {
					t.Errorf("retired %s, want only %s", r.KID, before)
				}
			}
		}
		if retired != 1 {
			t.Fatalf("%d ES256 keys retired by 4 replicas, want 1", retired)
		}
	})
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return sig.Signatures[0].Header.KeyID
}

// TestDiscovery compares the discovery document with a golden file
// (regenerate with go test ./provider -run TestDiscovery -update) and checks
// the RFC 8414 and per-tenant locations.
func TestDiscovery(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		get := func(u string) (int, string) {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var v any
			_ = json.NewDecoder(resp.Body).Decode(&v)
			pretty, _ := json.MarshalIndent(v, "", "  ")
			return resp.StatusCode, strings.ReplaceAll(string(pretty), e.in.URL, "https://issuer.example")
		}
		status, doc := get(e.in.URL + "/.well-known/openid-configuration")
		if status != 200 {
			t.Fatalf("discovery: %d", status)
		}
		golden := filepath.Join("testdata", "discovery.golden.json")
		if *update && backend == "sqlite" {
			if err := os.WriteFile(golden, []byte(doc+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if doc+"\n" != string(want) {
			t.Fatalf("discovery document differs from %s (run with -update after checking):\n%s", golden, doc)
		}
		if _, oas := get(e.in.URL + "/.well-known/oauth-authorization-server"); oas != doc {
			t.Error("RFC 8414 metadata differs from the OIDC discovery document")
		}

		// Another tenant: its own issuer, at both locations.
		if err := e.in.Store().CreateTenant(e.in.Ctx(), storage.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		want8414 := strings.ReplaceAll(doc, "https://issuer.example", "https://issuer.example/t/acme")
		for _, u := range []string{"/t/acme/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/t/acme"} {
			if status, got := get(e.in.URL + u); status != 200 || got != want8414 {
				t.Errorf("%s: %d\n%s", u, status, got)
			}
		}
	})
}

// TestTenantIsolation: a client, token or session of one tenant is useless
// in another.
func TestTenantIsolation(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.newTenant("acme")
		acmeURL := e.in.URL + "/t/acme"
		a := e.rp.request()
		b := servertest.NewBrowser(e.in.URL)
		tok, err := e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		// The default tenant's client does not exist in acme.
		resp, body := post(t, acmeURL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.client.ID, e.secret)
		if resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("default client at acme: %d %v", resp.StatusCode, body)
		}
		// An acme client cannot see the default tenant's tokens.
		ac, asecret := e.in.CreateClient(t, acme, provider.ClientSpec{Name: "Acme App", RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "profile", "email", "offline_access"}})
		resp, body = post(t, acmeURL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, ac.ID, asecret)
		if resp.StatusCode != 200 || body["active"] != false {
			t.Errorf("default tenant's token introspected at acme: %d %v", resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodGet, acmeURL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 401 {
			t.Errorf("default tenant's token at acme userinfo: %v %v", r.StatusCode, err)
		}
		// The browser's default-tenant session does not sign it in at acme,
		// and the default tenant's account does not exist there.
		arp := e.newRP(ac, asecret, acmeURL)
		aa := arp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := b.Get(aa.url)
		if res.Redirect == nil || res.Redirect.Query().Get("error") != "login_required" || res.Redirect.Query().Get("iss") != acmeURL {
			t.Errorf("default-tenant session at acme with prompt=none: %+v", res.Redirect)
		}
		res, _ = b.Authorize(arp.request().url, servertest.Steps{Email: email, Password: password})
		if res.Page == nil || res.Page.ErrorCode != "INVALID_CREDENTIALS" {
			t.Errorf("default-tenant account signing in at acme: %+v", res)
		}
		// An acme account signs in at acme, with acme's issuer and keys.
		e.in.CreateUser(t, acme, email, password)
		aa = arp.request()
		res, _ = b.Authorize(aa.url, servertest.Steps{Email: email, Password: password})
		if res.Redirect == nil || res.Redirect.Query().Get("iss") != acmeURL {
			t.Fatalf("acme sign-in: %+v", res)
		}
		atok, err := arp.exchange(res.Redirect.Query().Get("code"), aa.verifier)
		if err != nil {
			t.Fatal(err)
		}
		idt, _ := arp.verifyIDToken(t, atok)
		if idt.Issuer != acmeURL {
			t.Errorf("acme ID token iss %s", idt.Issuer)
		}
		// acme's ID token is no hint for the default tenant.
		raw, _ := atok.Extra("id_token").(string)
		if lo, _ := b.Get(e.in.URL + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {raw}}.Encode()); lo.Page == nil || lo.Page.ErrorCode != "INVALID_TOKEN" {
			t.Errorf("acme id_token_hint at the default tenant: %+v", lo)
		}
	})
}

// TestLogoutFailures: a bad hint or an unregistered post-logout URI gets an
// error page, never a redirect; without a hint the user confirms first.
func TestLogoutFailures(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		b := servertest.NewBrowser(e.in.URL)
		a := e.rp.request()
		tok, err := e.rp.exchange(e.signIn(b, a), a.verifier)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		logout := e.in.URL + "/oauth2/sessions/logout?"
		for _, c := range []struct {
			name, code string
			q          url.Values
		}{
			{"forged hint", "INVALID_TOKEN", url.Values{"id_token_hint": {raw[:len(raw)-4] + "AAAA"}, "post_logout_redirect_uri": {logoutURI}}},
			{"unregistered uri", "INVALID_REQUEST", url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {"https://evil.example.com/bye"}}},
			{"uri without hint", "INVALID_REQUEST", url.Values{"post_logout_redirect_uri": {logoutURI}}},
			{"alg none hint", "INVALID_TOKEN", url.Values{"id_token_hint": {noneToken(e.in.URL, e.user.ID, e.client.ID)}, "post_logout_redirect_uri": {logoutURI}}},
			{"wrong client hint", "INVALID_REQUEST", url.Values{"id_token_hint": {raw}, "client_id": {"someone-else"}, "post_logout_redirect_uri": {logoutURI}}},
			{"unknown client", "INVALID_REQUEST", url.Values{"client_id": {"no-such-client"}, "post_logout_redirect_uri": {logoutURI}}},
		} {
			res, err := b.Get(logout + c.q.Encode())
			if err != nil || res.Redirect != nil || res.Page == nil || res.Page.Status != 400 || res.Page.ErrorCode != c.code {
				t.Errorf("%s: %+v %v; want a %s page", c.name, res, err, c.code)
			}
		}
		// Still signed in after all that.
		a = e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ := b.Get(a.url)
		e.code(res, a)
		// No hint: a confirm page; the confirmation needs its CSRF token.
		res, _ = b.Get(logout + url.Values{"client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI}, "state": {"s1"}}.Encode())
		if res.Page == nil || res.Page.Name != "logout" || res.Page.CSRF == "" {
			t.Fatalf("logout without hint: %+v", res)
		}
		bad, _ := b.Post(e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"}, "csrf_token": {"forged"}, "client_id": {e.client.ID}})
		if bad.Page == nil || bad.Page.ErrorCode != "INVALID_REQUEST" {
			t.Fatalf("logout confirm with a forged CSRF token: %+v", bad)
		}
		ok, _ := b.Post(e.in.URL+"/oauth2/sessions/logout", url.Values{"confirm": {"yes"}, "csrf_token": {res.Page.CSRF},
			"client_id": {e.client.ID}, "post_logout_redirect_uri": {logoutURI}, "state": {"s1"}})
		if ok.Redirect == nil || !strings.HasPrefix(ok.Redirect.String(), logoutURI) || ok.Redirect.Query().Get("state") != "s1" {
			t.Fatalf("confirmed logout: %+v", ok)
		}
		a = e.rp.request(oauth2.SetAuthURLParam("prompt", "none"))
		res, _ = b.Get(a.url)
		if e.authError(res, a) != "login_required" {
			t.Fatal("still signed in after the confirmed logout")
		}
	})
}

// noneToken is an unsigned ("alg":"none") ID token.
func noneToken(iss, sub, aud string) string {
	h := `{"alg":"none","typ":"JWT"}`
	c, _ := json.Marshal(map[string]any{"iss": iss, "sub": sub, "aud": aud, "exp": time.Now().Add(time.Hour).Unix()})
	enc := func(b []byte) string { return strings.TrimRight(b64(b), "=") }
	return enc([]byte(h)) + "." + enc(c) + "."
}

// TestBearerAndIntrospectionAuth: userinfo takes only access tokens;
// introspection needs client authentication.
func TestBearerAndIntrospectionAuth(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		idToken, _ := tok.Extra("id_token").(string)
		userinfo := func(token string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, e.in.URL+"/userinfo", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
		}
		for name, token := range map[string]string{"refresh token": tok.RefreshToken, "id token": idToken, "garbage": "gh_at_nope.nope"} {
			if status, www := userinfo(token); status != 401 || !strings.Contains(www, `error="invalid_token"`) {
				t.Errorf("userinfo with a %s: %d %q", name, status, www)
			}
		}
		if status, www := userinfo(""); status != 401 || !strings.HasPrefix(www, "Bearer") {
			t.Errorf("userinfo without a token: %d %q", status, www)
		}
		// POST with the token in the body works too (RFC 6750 §2.2).
		resp, body := post(t, e.in.URL+"/userinfo", url.Values{"access_token": {tok.AccessToken}}, "", "")
		if resp.StatusCode != 200 || body["sub"] != e.user.ID {
			t.Errorf("POST userinfo: %d %v", resp.StatusCode, body)
		}
		// Introspection without client authentication, or with a bearer
		// token instead, is refused.
		resp, body = post(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "", "")
		if resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("introspection without client auth: %d %v", resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodPost, e.in.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if r, _ := http.DefaultClient.Do(req); r.StatusCode != 401 {
			t.Errorf("introspection with a bearer token: %d", r.StatusCode)
		}
		resp, body = post(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, e.client.ID, "wrong")
		if resp.StatusCode != 401 {
			t.Errorf("introspection with a wrong secret: %d %v", resp.StatusCode, body)
		}
		if got := e.introspect("gh_at_unknown.token"); len(got) != 1 || got["active"] != false {
			t.Errorf("unknown token introspection = %v, want only active:false", got)
		}
	})
}

// TestPrivateKeyJWT: client authentication with a signed assertion (RFC
// 7523); a replayed jti is refused. Such a client has no secret: none at
// creation, and the old one stops working when a client moves to it.
func TestPrivateKeyJWT(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		pub := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
		spec := machine("opaque", "RS256")
		spec.AuthMethod, spec.JWKS = provider.AuthPrivateKeyJWT, jwks
		c, secret := e.in.CreateClient(t, e.in.Ctx(), spec)
		if secret != "" {
			t.Fatal("a private_key_jwt client got a secret: a second, weaker way in")
		}
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
		assertion := func(jti string, aud string) string {
			now := time.Now()
			raw, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{aud}, ID: jti,
				IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute))}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		form := func(a string) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {c.ID},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
		}
		tokenURL := e.in.URL + "/oauth2/token"
		first := assertion("jti-1", tokenURL)
		if resp, body := post(t, tokenURL, form(first), "", ""); resp.StatusCode != 200 {
			t.Fatalf("private_key_jwt: %d %v", resp.StatusCode, body)
		}
		if resp, body := post(t, tokenURL, form(first), "", ""); resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("replayed assertion: %d %v", resp.StatusCode, body)
		}
		if resp, body := post(t, tokenURL, form(assertion("jti-2", "https://elsewhere.example/token")), "", ""); resp.StatusCode != 401 {
			t.Errorf("assertion for another audience: %d %v", resp.StatusCode, body)
		}

		// A client moved to private_key_jwt loses its secret, everywhere
		// (introspection takes any client's HTTP Basic).
		m, msecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		probe := url.Values{"token": {"gh_at_unknown.token"}}
		if resp, _ := post(t, e.in.URL+"/oauth2/introspect", probe, m.ID, msecret); resp.StatusCode != 200 {
			t.Fatalf("introspection with the secret before the move: %d", resp.StatusCode)
		}
		if _, err := e.in.Services().Provider.Clients.Update(e.in.Ctx(), m.ID, func(s *provider.ClientSpec) {
			s.AuthMethod, s.JWKS = provider.AuthPrivateKeyJWT, jwks
		}); err != nil {
			t.Fatal(err)
		}
		if resp, body := post(t, e.in.URL+"/oauth2/introspect", probe, m.ID, msecret); resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("introspection with the secret after the move to private_key_jwt: %d %v", resp.StatusCode, body)
		}
		if _, err := e.in.Services().Provider.Clients.RotateSecret(e.in.Ctx(), m.ID); err == nil {
			t.Error("a private_key_jwt client was given a secret by rotate-secret")
		}
	})
}
