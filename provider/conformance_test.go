package provider_test

// Tests in the spirit of the OpenID Foundation conformance suite's Basic OP
// and Config OP plans: what a certified relying party checks on every ID
// token, JWT access token, discovery document, JWKS and authorization
// response. They add to flow_test.go, keys_test.go and failpaths_test.go
// only what those do not check already, and assert exact values.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/oauth2"
)

// cfProtocolClaims are the ID token claims that are not about the account:
// every ID token of the code flow carries exactly these (nonce only when the
// request had one) plus the user claims its scopes release.
var cfProtocolClaims = []string{"iss", "sub", "aud", "exp", "iat", "jti", "auth_time", "rat", "nonce", "acr", "amr", "azp", "sid", "at_hash"}

// cfSorted returns the keys of m, sorted.
func cfSorted(m map[string]any) []string {
	ks := slices.Collect(maps.Keys(m))
	sort.Strings(ks)
	return ks
}

// cfWant returns want sorted (for comparison with cfSorted).
func cfWant(want ...string) []string {
	out := slices.Clone(want)
	sort.Strings(out)
	return out
}

// cfInt reads a NumericDate (or other integer) claim.
func cfInt(t *testing.T, claims map[string]any, k string) int64 {
	t.Helper()
	f, ok := claims[k].(float64)
	if !ok {
		t.Errorf("claim %s = %#v, want a number", k, claims[k])
		return 0
	}
	return int64(f)
}

// cfAtHash is at_hash for RS256 and ES256 (OIDC Core §3.1.3.6): the
// base64url encoding of the left-most half of the SHA-256 hash of the ASCII
// access token.
func cfAtHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64(sum[:len(sum)/2])
}

// cfJWT verifies a JWT with the issuer's JWKS and returns its header, its
// claims, and the JWKS key that verified it.
func cfJWT(t *testing.T, issuer, raw string) (map[string]any, map[string]any, jose.JSONWebKey) {
	t.Helper()
	hdr, claims := verifyJWT(t, issuer, raw)
	set := fetchJWKS(t, issuer)
	keys := set.Key(fmt.Sprint(hdr["kid"]))
	if len(keys) != 1 {
		t.Fatalf("kid %v: %d JWKS keys", hdr["kid"], len(keys))
	}
	return hdr, claims, keys[0]
}

// cfCheckHeader checks a JOSE header: alg as registered for the client, the
// typ, and a kid naming a published key of that very algorithm.
func cfCheckHeader(t *testing.T, name string, hdr map[string]any, key jose.JSONWebKey, alg, typ string) {
	t.Helper()
	if hdr["alg"] != alg || hdr["typ"] != typ || hdr["kid"] == "" || key.Algorithm != alg || key.Use != "sig" {
		t.Errorf("%s: header %v, JWKS key alg %q use %q; want alg %s, typ %s, a kid of a published %s signing key",
			name, hdr, key.Algorithm, key.Use, alg, typ, alg)
	}
	if len(hdr) != 3 {
		t.Errorf("%s: header %v, want exactly alg, kid and typ", name, hdr)
	}
}

// cfWithin checks that the NumericDate claim k lies in [from, to] (whole
// seconds: JWT dates are truncated).
func cfWithin(t *testing.T, name string, claims map[string]any, k string, from, to time.Time) int64 {
	t.Helper()
	v := cfInt(t, claims, k)
	if v < from.Unix() || v > to.Unix() {
		t.Errorf("%s: %s = %d, want between %d and %d (%s .. %s)", name, k, v, from.Unix(), to.Unix(), from.UTC(), to.UTC())
	}
	return v
}

// cfAuthorize walks an authorization request in b (signing in as who when a
// login page comes) and returns the code, checking the success response of
// issuer: the registered redirect URI, state echoed byte for byte, iss
// (RFC 9207), and no error.
func cfAuthorize(t *testing.T, b *servertest.Browser, a authRequest, who, issuer string) string {
	t.Helper()
	res, err := b.Authorize(a.url, servertest.Steps{Email: who, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return cfCode(t, res, a, issuer)
}

// cfCode checks a successful authorization response of issuer and returns
// its code: the registered redirect URI, state echoed byte for byte, iss
// (RFC 9207), no error.
func cfCode(t *testing.T, res servertest.Result, a authRequest, issuer string) string {
	t.Helper()
	if res.Redirect == nil {
		t.Fatalf("authorization ended on page %q (%d %s), want a redirect to the client", res.Page.Name, res.Page.Status, res.Page.ErrorCode)
	}
	q := res.Redirect.Query()
	u := *res.Redirect
	u.RawQuery = ""
	if u.String() != redirectURI || q.Get("error") != "" || q.Get("state") != a.state || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %s; want %s with code, state %q and iss %q", res.Redirect, redirectURI, a.state, issuer)
	}
	return q.Get("code")
}

// cfTokens runs one authorization through r in b and exchanges the code.
func cfTokens(t *testing.T, b *servertest.Browser, r *rp, issuer string, opts ...oauth2.AuthCodeOption) (authRequest, *oauth2.Token) {
	t.Helper()
	a := r.request(opts...)
	tok, err := r.exchange(cfAuthorize(t, b, a, email, issuer), a.verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return a, tok
}

// cfIDToken verifies the response's ID token (signature by kid from JWKS)
// and returns its header and claims.
func cfIDToken(t *testing.T, issuer string, tok *oauth2.Token) (map[string]any, map[string]any, jose.JSONWebKey) {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token in the token response")
	}
	return cfJWT(t, issuer, raw)
}

// cfRefresh refreshes as client c (HTTP Basic) and returns the response.
func cfRefresh(t *testing.T, issuer string, c storage.Client, secret, rt string) map[string]any {
	t.Helper()
	resp, body := post(t, issuer+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.ID, secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %v", resp.StatusCode, body)
	}
	return body
}

// cfUserinfo calls the UserInfo endpoint with an access token: GET with the
// header, POST with the header, or POST with the token in the body.
func cfUserinfo(t *testing.T, issuer, how, token string) map[string]any {
	t.Helper()
	var req *http.Request
	switch how {
	case "GET":
		req, _ = http.NewRequest(http.MethodGet, issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
	case "POST header":
		req, _ = http.NewRequest(http.MethodPost, issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
	case "POST body":
		req, _ = http.NewRequest(http.MethodPost, issuer+"/userinfo", strings.NewReader(url.Values{"access_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, raw, body := send(t, req)
	if body == nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("userinfo (%s): %d %q %s", how, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	return body
}

// cfSession returns the browser session an ID token's sid names.
func cfSession(t *testing.T, e *env, claims map[string]any) storage.LoginSession {
	t.Helper()
	sid, _ := claims["sid"].(string)
	if sid == "" {
		t.Fatalf("ID token without sid: %v", claims)
	}
	s, err := e.in.Store().GetLoginSession(e.in.Ctx(), sid)
	if err != nil {
		t.Fatalf("session %s named by sid: %v", sid, err)
	}
	return s
}

// TestOIDCIDTokenCodeFlowAndRefresh is the conformance suite's oidcc-server,
// oidcc-refresh-token and oidcc-userinfo-{get,post-header,post-body}, for an
// RS256 and an ES256 client and an ID token lifetime of 17 minutes (not the
// default). The code flow's ID token: JOSE header alg = the client's
// registered alg, typ JWT, kid of a published key of that alg; iss = the
// issuer exactly; aud = [client_id] exactly, azp = client_id (OIDC Core §2);
// iat within the token request; exp - iat = 17 minutes exactly; sub = the
// account id; nonce = the request's; auth_time = the AuthTime of the browser
// session its sid names (the sign-in), which is the account's; acr "1", amr
// ["pwd"]; at_hash = left half of SHA-256 of the access token (§3.1.3.6);
// and exactly the protocol claims plus the claims the scopes release (name,
// updated_at, email, email_verified), nothing else. UserInfo (§5.3) answers
// exactly {sub, name, updated_at, email, email_verified} with the ID token's
// sub and values, by GET, POST with the header and POST with the body. The
// refreshed ID token (§12.2): iss, sub, aud, azp, auth_time, sid, acr, amr
// and the user claims unchanged; a new iat (within the refresh) and jti;
// exp - iat = 17 minutes again; at_hash of the new access token; the same
// header alg; the nonce absent or the original one (never another).
func TestOIDCIDTokenCodeFlowAndRefresh(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		const ttl = 17 * time.Minute
		e := newEnv(t, backend, withConfig(func(c *config.Config) { c.Tokens.IDTokenTTL = ttl }))
		for _, alg := range []string{provider.RS256, provider.ES256} {
			spec := provider.ClientSpec{Name: "App " + alg, RedirectURIs: []string{redirectURI}, IDTokenAlg: alg,
				Scopes: []string{"openid", "profile", "email", "offline_access"}}
			c, secret := e.in.CreateClient(t, e.in.Ctx(), spec)
			r := e.newRP(c, secret, e.in.URL)
			b := servertest.NewBrowser(e.in.URL)

			before := time.Now()
			a, tok := cfTokens(t, b, r, e.in.URL)
			after := time.Now()
			hdr, id, key := cfIDToken(t, e.in.URL, tok)
			name := alg + " code flow ID token"
			cfCheckHeader(t, name, hdr, key, alg, "JWT")
			if got, want := cfSorted(id), cfWant(append(slices.Clone(cfProtocolClaims), "name", "updated_at", "email", "email_verified")...); !slices.Equal(got, want) {
				t.Errorf("%s: claims %v, want exactly %v", name, got, want)
			}
			if id["iss"] != e.in.URL || id["sub"] != e.user.ID || id["azp"] != c.ID || id["nonce"] != a.nonce ||
				id["acr"] != "1" || fmt.Sprint(id["amr"]) != "[pwd]" || fmt.Sprint(id["aud"]) != "["+c.ID+"]" {
				t.Errorf("%s: iss %v sub %v aud %v azp %v nonce %v acr %v amr %v; want %s, %s, [%s], %s, %s, 1, [pwd]",
					name, id["iss"], id["sub"], id["aud"], id["azp"], id["nonce"], id["acr"], id["amr"], e.in.URL, e.user.ID, c.ID, c.ID, a.nonce)
			}
			if aud, ok := id["aud"].([]any); !ok || len(aud) != 1 {
				t.Errorf("%s: aud %#v, want one audience", name, id["aud"])
			}
			iat := cfWithin(t, name, id, "iat", before.Add(-time.Second), after)
			if exp := cfInt(t, id, "exp"); exp-iat != int64(ttl/time.Second) {
				t.Errorf("%s: exp - iat = %d s, want the configured ID token TTL %d s", name, exp-iat, int64(ttl/time.Second))
			}
			s := cfSession(t, e, id)
			authTime := cfWithin(t, name, id, "auth_time", before.Add(-time.Second), after)
			if authTime != s.AuthTime.Unix() || s.UserID != e.user.ID {
				t.Errorf("%s: auth_time %d, the session's sign-in %d (user %s)", name, authTime, s.AuthTime.Unix(), s.UserID)
			}
			if id["at_hash"] != cfAtHash(tok.AccessToken) {
				t.Errorf("%s: at_hash %v, want %s (left half of SHA-256 of the access token)", name, id["at_hash"], cfAtHash(tok.AccessToken))
			}
			wantUser := map[string]any{"sub": e.user.ID, "name": "Test " + email, "updated_at": float64(e.user.UpdatedAt.Unix()),
				"email": email, "email_verified": true}
			for k, v := range wantUser {
				if id[k] != v {
					t.Errorf("%s: %s = %#v, want %#v", name, k, id[k], v)
				}
			}
			for _, how := range []string{"GET", "POST header", "POST body"} {
				if ui := cfUserinfo(t, e.in.URL, how, tok.AccessToken); !maps.Equal(ui, wantUser) {
					t.Errorf("%s: userinfo (%s) = %v, want exactly %v", alg, how, ui, wantUser)
				}
			}

			// Refresh: OIDC Core §12.2.
			time.Sleep(1100 * time.Millisecond) // a new second: iat must move
			before = time.Now()
			body := cfRefresh(t, e.in.URL, c, secret, tok.RefreshToken)
			after = time.Now()
			rawID, _ := body["id_token"].(string)
			at, _ := body["access_token"].(string)
			if rawID == "" || at == "" {
				t.Fatalf("%s refresh: %v, want an ID token and an access token", alg, body)
			}
			rhdr, rid, rkey := cfJWT(t, e.in.URL, rawID)
			name = alg + " refreshed ID token"
			cfCheckHeader(t, name, rhdr, rkey, alg, "JWT")
			for _, k := range []string{"iss", "sub", "aud", "azp", "auth_time", "sid", "acr", "amr", "name", "updated_at", "email", "email_verified"} {
				if fmt.Sprint(rid[k]) != fmt.Sprint(id[k]) {
					t.Errorf("%s: %s = %v, the original ID token's %v (must be the same)", name, k, rid[k], id[k])
				}
			}
			riat := cfWithin(t, name, rid, "iat", before.Add(-time.Second), after)
			if riat <= iat {
				t.Errorf("%s: iat %d, not after the original's %d", name, riat, iat)
			}
			if exp := cfInt(t, rid, "exp"); exp-riat != int64(ttl/time.Second) {
				t.Errorf("%s: exp - iat = %d s, want the configured ID token TTL %d s", name, exp-riat, int64(ttl/time.Second))
			}
			if rid["jti"] == id["jti"] || rid["jti"] == "" {
				t.Errorf("%s: jti %v, the original's %v: want a new one", name, rid["jti"], id["jti"])
			}
			if rid["at_hash"] != cfAtHash(at) {
				t.Errorf("%s: at_hash %v, want %s (of the new access token)", name, rid["at_hash"], cfAtHash(at))
			}
			switch n, ok := rid["nonce"]; {
			case !ok:
				t.Logf("%s: no nonce (the original had %s)", name, a.nonce)
			case n != a.nonce:
				t.Errorf("%s: nonce %v, the original request's %s: a refreshed ID token must not carry another nonce", name, n, a.nonce)
			default:
				t.Logf("%s: nonce %v, the original one repeated", name, n)
			}
			if got, want := cfSorted(rid), cfSorted(id); !slices.Equal(got, want) {
				t.Errorf("%s: claims %v, the original's %v", name, got, want)
			}
		}
	})
}

// TestOIDCIDTokenAcrossSignIns follows one account through several sign-ins
// (conformance oidcc-prompt-none-logged-in, oidcc-prompt-login,
// oidcc-max-age-10000, oidcc-ensure-request-without-nonce-succeeds-for-code-flow
// and subject_types_supported "public"). A first sign-in an hour ago (server
// clock) sets auth_time to that session's AuthTime; single sign-on (no
// prompt), prompt=none and max_age=10000 give ID tokens with that same
// auth_time and sid; a request without nonce gets an ID token without nonce;
// prompt=login shows the login page and gives a new auth_time (the new
// session's, an hour later) and a new sid; another browser's sign-in gets
// yet another sid. sub is the account id throughout, and the same for
// another client (public subject type), whose ID token names it in aud/azp.
func TestOIDCIDTokenAcrossSignIns(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		clk := &clock{}
		clk.set(-time.Hour)
		e := newEnv(t, backend, withOptions(servertest.Options{Now: clk.Now}))
		b := servertest.NewBrowser(e.in.URL)
		before := clk.Now()
		_, tok := cfTokens(t, b, e.rp, e.in.URL)
		after := clk.Now()
		_, first, _ := cfIDToken(t, e.in.URL, tok)
		s1 := cfSession(t, e, first)
		authTime := cfWithin(t, "first sign-in", first, "auth_time", before.Add(-time.Second), after)
		if authTime != s1.AuthTime.Unix() {
			t.Errorf("first sign-in: auth_time %d, the session's %d", authTime, s1.AuthTime.Unix())
		}
		clk.set(0)

		param := oauth2.SetAuthURLParam
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"single sign-on": nil,
			"prompt=none":    {param("prompt", "none")},
			"max_age=10000":  {param("max_age", "10000")},
		} {
			a := e.rp.request(opts...)
			res, err := b.Get(a.url) // no page may come: the session answers
			if err != nil {
				t.Fatal(err)
			}
			tok, err := e.rp.exchange(cfCode(t, res, a, e.in.URL), a.verifier)
			if err != nil {
				t.Fatalf("%s: exchange: %v", name, err)
			}
			_, id, _ := cfIDToken(t, e.in.URL, tok)
			if cfInt(t, id, "auth_time") != authTime || id["sid"] != first["sid"] || id["sub"] != e.user.ID || id["nonce"] != a.nonce {
				t.Errorf("%s: auth_time %v sid %v sub %v nonce %v; want the sign-in's %d, %v, %s, %s",
					name, id["auth_time"], id["sid"], id["sub"], id["nonce"], authTime, first["sid"], e.user.ID, a.nonce)
			}
		}

		// No nonce in the request: none in the ID token, and the flow works.
		a := e.rp.request()
		u, _ := url.Parse(a.url)
		q := u.Query()
		q.Del("nonce")
		u.RawQuery = q.Encode()
		a.url = u.String()
		tok, err := e.rp.exchange(cfAuthorize(t, b, a, email, e.in.URL), a.verifier)
		if err != nil {
			t.Fatalf("exchange without nonce: %v", err)
		}
		if _, id, _ := cfIDToken(t, e.in.URL, tok); id["nonce"] != nil {
			t.Errorf("request without nonce: ID token nonce %v, want none", id["nonce"])
		}

		// prompt=login: the login page, then a new session and auth_time.
		a = e.rp.request(param("prompt", "login"))
		res, _ := b.Get(a.url)
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("prompt=login: %+v, want the login page", res)
		}
		before = clk.Now()
		tok, err = e.rp.exchange(cfAuthorize(t, b, a, email, e.in.URL), a.verifier)
		after = clk.Now()
		if err != nil {
			t.Fatalf("exchange after prompt=login: %v", err)
		}
		_, again, _ := cfIDToken(t, e.in.URL, tok)
		s2 := cfSession(t, e, again)
		newAuthTime := cfWithin(t, "prompt=login", again, "auth_time", before.Add(-time.Second), after)
		if newAuthTime != s2.AuthTime.Unix() || newAuthTime-authTime < 3599 || again["sid"] == first["sid"] || again["sub"] != e.user.ID {
			t.Errorf("prompt=login: auth_time %d (session %d), sid %v sub %v; want the new sign-in's time (the first was %d), a new sid (not %v), sub %s",
				newAuthTime, s2.AuthTime.Unix(), again["sid"], again["sub"], authTime, first["sid"], e.user.ID)
		}

		// Another browser: another session; another client: the same sub.
		other := servertest.NewBrowser(e.in.URL)
		_, tok = cfTokens(t, other, e.rp, e.in.URL)
		_, third, _ := cfIDToken(t, e.in.URL, tok)
		if third["sid"] == again["sid"] || third["sid"] == first["sid"] || third["sub"] != e.user.ID {
			t.Errorf("another browser: sid %v sub %v; want a sid of its own and sub %s", third["sid"], third["sub"], e.user.ID)
		}
		fp, fpSecret := e.in.CreateClient(t, e.in.Ctx(), firstParty())
		_, tok = cfTokens(t, other, e.newRP(fp, fpSecret, e.in.URL), e.in.URL)
		_, fpID, _ := cfIDToken(t, e.in.URL, tok)
		if fpID["sub"] != e.user.ID || fmt.Sprint(fpID["aud"]) != "["+fp.ID+"]" || fpID["azp"] != fp.ID || fpID["sid"] != third["sid"] {
			t.Errorf("another client: sub %v aud %v azp %v sid %v; want sub %s (public subject type), aud [%s], azp %s, sid %v",
				fpID["sub"], fpID["aud"], fpID["azp"], fpID["sid"], e.user.ID, fp.ID, fp.ID, third["sid"])
		}
	})
}

// TestOIDCClaimsByScope is the conformance suite's oidcc-scope-profile,
// -email, -phone, -all and oidcc-ensure-other-scope-order-succeeds, for an
// account with every standard field set, an unverified email, a verified
// phone, and private data (metadata, a status reason, a password hash). Each
// scope releases exactly its claims (OIDC Core §5.4) with the account's
// values, in the ID token (besides the protocol claims) and at UserInfo (with
// sub): openid alone none; profile name, given_name, family_name,
// updated_at; email email and email_verified (false here, not left out);
// phone phone_number and phone_number_verified. No other claim appears, and
// no value of the private data appears anywhere in either answer. A
// refreshed ID token releases the same.
func TestOIDCClaimsByScope(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		ctx := e.in.Ctx()
		const who = "grace@example.com"
		now := time.Now().UTC().Truncate(time.Second)
		u := storage.User{ID: uuid.Must(uuid.NewV7()).String(), Email: who, EmailNormalized: who, EmailVerified: false,
			Phone: "+15550100", PhoneVerified: true, Name: "Grace Hopper", GivenName: "Grace", FamilyName: "Hopper",
			Status: storage.StatusActive, StatusReason: "private-status-reason", StatusBy: "private-admin", Resettable: true,
			Metadata: json.RawMessage(`{"internal_note":"private-metadata-value"}`), CreatedAt: now.Add(-time.Hour), UpdatedAt: now}
		hash, err := e.in.Services().Accounts.Hasher.Hash(ctx, password)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.in.Store().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := e.in.Store().SetCredential(ctx, storage.Credential{UserID: u.ID, Type: storage.CredentialPassword, Secret: hash}); err != nil {
			t.Fatal(err)
		}
		private := []string{"private-status-reason", "private-admin", "private-metadata-value", "internal_note", hash, "$argon2", "password", "status"}

		spec := firstParty()
		spec.Scopes = []string{"openid", "profile", "email", "phone", "offline_access"}
		c, secret := e.in.CreateClient(t, ctx, spec)
		r := e.newRP(c, secret, e.in.URL)
		profile := map[string]any{"name": "Grace Hopper", "given_name": "Grace", "family_name": "Hopper", "updated_at": float64(now.Unix())}
		emailClaims := map[string]any{"email": who, "email_verified": false}
		phone := map[string]any{"phone_number": "+15550100", "phone_number_verified": true}
		union := func(ms ...map[string]any) map[string]any {
			out := map[string]any{}
			for _, m := range ms {
				maps.Copy(out, m)
			}
			return out
		}
		b := servertest.NewBrowser(e.in.URL)
		for _, tc := range []struct {
			scope string
			want  map[string]any
		}{
			{"openid", map[string]any{}},
			{"openid profile", profile},
			{"openid email", emailClaims},
			{"email openid", emailClaims},
			{"openid phone", phone},
			{"openid profile email phone offline_access", union(profile, emailClaims, phone)},
		} {
			a := r.request(oauth2.SetAuthURLParam("scope", tc.scope))
			res, err := b.Authorize(a.url, servertest.Steps{Email: who, Password: password})
			if err != nil || res.Redirect == nil || res.Redirect.Query().Get("code") == "" {
				t.Fatalf("scope %q: %+v %v", tc.scope, res, err)
			}
			tok, err := r.exchange(res.Redirect.Query().Get("code"), a.verifier)
			if err != nil {
				t.Fatalf("scope %q: exchange: %v", tc.scope, err)
			}
			check := func(what string, got map[string]any, protocol []string, want map[string]any) {
				t.Helper()
				user := maps.Clone(got)
				for _, k := range protocol {
					delete(user, k)
				}
				if !maps.Equal(user, want) {
					t.Errorf("scope %q, %s: user claims %v, want exactly %v", tc.scope, what, user, want)
				}
				raw, _ := json.Marshal(got)
				for _, p := range private {
					if strings.Contains(string(raw), p) {
						t.Errorf("scope %q, %s: %s shows private data %q", tc.scope, what, raw, p)
					}
				}
			}
			_, id, _ := cfIDToken(t, e.in.URL, tok)
			if id["sub"] != u.ID {
				t.Errorf("scope %q: sub %v, want %s", tc.scope, id["sub"], u.ID)
			}
			check("ID token", id, cfProtocolClaims, tc.want)
			check("userinfo", cfUserinfo(t, e.in.URL, "GET", tok.AccessToken), nil, union(tc.want, map[string]any{"sub": u.ID}))
			if tok.RefreshToken != "" {
				body := cfRefresh(t, e.in.URL, c, secret, tok.RefreshToken)
				_, rid, _ := cfJWT(t, e.in.URL, body["id_token"].(string))
				check("refreshed ID token", rid, cfProtocolClaims, tc.want)
			}
		}
	})
}

// TestOIDCJWTAccessTokens checks RFC 9068 JWT access tokens of a user grant
// (code flow and refresh) and of client_credentials, for an RS256 and an
// ES256 client, with an access token lifetime of 7 minutes (not the
// default): header typ at+jwt, alg the client's, kid of a published key of
// that alg; exactly the claims iss (the issuer), sub (the account; the
// client for client_credentials), aud (the client's resource), client_id,
// scope (the granted scopes, space-separated), iat (within the request), exp
// (iat + 7 minutes, +1 s where fosite rounds the expiry up; expires_in of
// the token response agrees),
// jti, and auth_time (the sign-in's, user grants only); every jti differs.
// A JWT client with no registered resource still gets an aud, in the code
// flow and with client_credentials (RFC 9068 §2.2: aud is REQUIRED; §3:
// without a resource parameter the server uses a default resource).
func TestOIDCJWTAccessTokens(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		const ttl = 7 * time.Minute
		e := newEnv(t, backend, withConfig(func(c *config.Config) { c.Tokens.AccessTokenTTL = ttl }))
		jtis := map[string]string{}
		check := func(name, raw string, expiresIn any, alg, sub, clientID, scope string, authTime any, before, after time.Time) {
			t.Helper()
			hdr, claims, key := cfJWT(t, e.in.URL, raw)
			cfCheckHeader(t, name, hdr, key, alg, "at+jwt")
			want := cfWant("iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti")
			if authTime != nil {
				want = cfWant(append(want, "auth_time")...)
			}
			if got := cfSorted(claims); !slices.Equal(got, want) {
				t.Errorf("%s: claims %v, want exactly %v", name, got, want)
			}
			if claims["iss"] != e.in.URL || claims["sub"] != sub || claims["client_id"] != clientID || claims["scope"] != scope ||
				fmt.Sprint(claims["aud"]) != "[https://api.example.com]" || fmt.Sprint(claims["auth_time"]) != fmt.Sprint(authTime) {
				t.Errorf("%s: iss %v sub %v aud %v client_id %v scope %q auth_time %v; want %s, %s, [https://api.example.com], %s, %q, %v",
					name, claims["iss"], claims["sub"], claims["aud"], claims["client_id"], claims["scope"], claims["auth_time"],
					e.in.URL, sub, clientID, scope, authTime)
			}
			iat := cfWithin(t, name, claims, "iat", before.Add(-time.Second), after)
			exp := cfInt(t, claims, "exp")
			// fosite rounds an access token's expiry to the nearest second
			// (handler/oauth2: Add(lifespan).Round(time.Second)) and iat is
			// truncated, hence the one second of slack.
			if d := exp - iat; d != int64(ttl/time.Second) && d != int64(ttl/time.Second)+1 {
				t.Errorf("%s: exp - iat = %d s, want the configured access token TTL %d s (+1 s of rounding)", name, d, int64(ttl/time.Second))
			}
			if ei, ok := expiresIn.(float64); !ok || int64(ei) < exp-after.Unix()-1 || int64(ei) > exp-before.Unix() {
				t.Errorf("%s: expires_in %v, exp %d: they disagree", name, expiresIn, exp)
			}
			jti, _ := claims["jti"].(string)
			if jti == "" || jtis[jti] != "" {
				t.Errorf("%s: jti %q (already used by %q): want a unique one", name, jti, jtis[jti])
			}
			jtis[jti] = name
		}
		for _, alg := range []string{provider.RS256, provider.ES256} {
			spec := firstParty()
			spec.Name, spec.IDTokenAlg, spec.AccessTokenFormat = "JWT "+alg, alg, "jwt"
			spec.Audience = []string{"https://api.example.com"}
			spec.GrantTypes = []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken, provider.GrantClientCredentials}
			spec.Scopes = append(spec.Scopes, "api:read")
			c, secret := e.in.CreateClient(t, e.in.Ctx(), spec)
			r := e.newRP(c, secret, e.in.URL)
			before := time.Now()
			_, tok := cfTokens(t, servertest.NewBrowser(e.in.URL), r, e.in.URL)
			after := time.Now()
			_, id, _ := cfIDToken(t, e.in.URL, tok)
			const granted = "openid profile email offline_access"
			check(alg+" code flow", tok.AccessToken, tok.Extra("expires_in"), alg, e.user.ID, c.ID, granted, id["auth_time"], before, after)
			if id["at_hash"] != cfAtHash(tok.AccessToken) {
				t.Errorf("%s: ID token at_hash %v, want %s (of the JWT access token)", alg, id["at_hash"], cfAtHash(tok.AccessToken))
			}
			before = time.Now()
			body := cfRefresh(t, e.in.URL, c, secret, tok.RefreshToken)
			after = time.Now()
			check(alg+" refresh", body["access_token"].(string), body["expires_in"], alg, e.user.ID, c.ID, granted, id["auth_time"], before, after)
			for i := range 2 {
				before = time.Now()
				resp, body := post(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, c.ID, secret)
				after = time.Now()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
				}
				check(fmt.Sprintf("%s client_credentials #%d", alg, i+1), body["access_token"].(string), body["expires_in"], alg, c.ID, c.ID, "api:read", nil, before, after)
			}
		}

		// No registered resource: RFC 9068 §2.2 makes aud REQUIRED, and
		// there is no sensible default, so such a client is refused.
		spec := firstParty()
		spec.Name, spec.AccessTokenFormat = "JWT without resource", "jwt"
		mspec := machine("jwt", provider.RS256)
		mspec.Audience = nil
		for name, sp := range map[string]provider.ClientSpec{"code flow": spec, "client_credentials": mspec} {
			_, _, err := e.in.Services().Provider.Clients.Create(e.in.Ctx(), sp)
			var ce *catalog.Error
			if !errors.As(err, &ce) || ce.Code != catalog.InvalidRequest.Code || !strings.Contains(ce.Message, "audience") {
				t.Errorf("JWT access tokens without an audience (%s): %v, want INVALID_REQUEST on audience", name, err)
			}
		}
	})
}

// cfDiscovery fetches the discovery document under base and checks the
// answer is cacheable JSON.
func cfDiscovery(t *testing.T, base string) provider.Discovery {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d provider.Discovery
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery at %s: %d %v", base, resp.StatusCode, err)
	}
	if cc, ct := resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"); cc != "public, max-age=300" || !strings.HasPrefix(ct, "application/json") {
		t.Errorf("discovery at %s: Cache-Control %q, Content-Type %q; want public, max-age=300 and JSON", base, cc, ct)
	}
	return d
}

// TestOIDCDiscoveryConsistency is the Config plan's discovery checks and
// more: what the document says is what the server does, for the default
// tenant and a second one (/t/acme). The document fetched under a base URL
// has issuer = that URL exactly (OIDC Discovery §4.3, RFC 8414 §3.3), the
// required members (Discovery §3), every endpoint under the issuer and
// answering (not 404): authorization 400 (error page, no client),
// token 400 invalid_request, userinfo 401, JWKS 200, introspection 401,
// revocation 400, end_session 200; response_types_supported [code] and
// response_mode=query (the one mode listed) accepted; each
// id_token_signing_alg_values_supported value has a published key; each
// grant_types_supported value reaches its handler and unlisted grants are
// unsupported_grant_type; each token_endpoint_auth_signing_alg_values_supported
// value authenticates a private_key_jwt client at the token endpoint;
// claims_supported covers every claim the ID token and UserInfo carry.
func TestOIDCDiscoveryConsistency(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.newTenant("acme")
		for _, base := range []string{e.in.URL, e.in.URL + "/t/acme"} {
			d := cfDiscovery(t, base)
			if d.Issuer != base {
				t.Errorf("discovery at %s: issuer %q, want the URL it was fetched under", base, d.Issuer)
			}
			if d.AuthorizationEndpoint == "" || d.TokenEndpoint == "" || d.JWKSURI == "" || d.UserinfoEndpoint == "" ||
				!slices.Equal(d.ResponseTypesSupported, []string{"code"}) || !slices.Equal(d.SubjectTypesSupported, []string{"public"}) ||
				!slices.Contains(d.IDTokenSigningAlgValuesSupported, "RS256") || !slices.Contains(d.ScopesSupported, "openid") ||
				!slices.Equal(d.CodeChallengeMethodsSupported, []string{"S256"}) || !d.AuthorizationResponseIssParameterSupported ||
				!slices.Equal(d.ResponseModesSupported, []string{"query"}) || d.EndSessionEndpoint == "" {
				t.Errorf("discovery at %s: required or expected members missing or wrong: %+v", base, d)
			}
			for _, ep := range []struct {
				name, method, url string
				status            int
				error             string
			}{
				{"authorization_endpoint", http.MethodGet, d.AuthorizationEndpoint, http.StatusBadRequest, ""},
				{"token_endpoint", http.MethodPost, d.TokenEndpoint, http.StatusBadRequest, "invalid_request"},
				{"userinfo_endpoint", http.MethodGet, d.UserinfoEndpoint, http.StatusUnauthorized, ""},
				{"jwks_uri", http.MethodGet, d.JWKSURI, http.StatusOK, ""},
				{"introspection_endpoint", http.MethodPost, d.IntrospectionEndpoint, http.StatusUnauthorized, "invalid_client"},
				{"revocation_endpoint", http.MethodPost, d.RevocationEndpoint, http.StatusBadRequest, "invalid_request"},
				{"end_session_endpoint", http.MethodGet, d.EndSessionEndpoint, http.StatusOK, ""},
			} {
				if !strings.HasPrefix(ep.url, base+"/") {
					t.Errorf("%s %s = %q, not under the issuer", base, ep.name, ep.url)
					continue
				}
				a := caSend(t, ep.method, ep.url, caFormType, "", "")
				if a.status != ep.status || a.str("error") != ep.error {
					t.Errorf("%s %s (%s %s): %d %q, want %d %q", base, ep.name, ep.method, ep.url, a.status, a.str("error"), ep.status, ep.error)
				}
			}
			jwks := fetchJWKS(t, strings.TrimSuffix(d.JWKSURI, "/.well-known/jwks.json"))
			for _, alg := range d.IDTokenSigningAlgValuesSupported {
				n := 0
				for _, k := range jwks.Keys {
					if k.Algorithm == alg {
						n++
					}
				}
				if n == 0 {
					t.Errorf("%s: id_token_signing_alg_values_supported lists %s, JWKS has no %s key", base, alg, alg)
				}
			}
		}

		// response_mode=query, the one listed, is accepted.
		b := servertest.NewBrowser(e.in.URL)
		_, tok := cfTokens(t, b, e.rp, e.in.URL, oauth2.SetAuthURLParam("response_mode", "query"))

		// claims_supported covers the ID token's and UserInfo's claims.
		d := cfDiscovery(t, e.in.URL)
		_, id, _ := cfIDToken(t, e.in.URL, tok)
		ui := cfUserinfo(t, e.in.URL, "GET", tok.AccessToken)
		for _, m := range []map[string]any{id, ui} {
			for _, k := range cfSorted(m) {
				if !slices.Contains(d.ClaimsSupported, k) {
					t.Errorf("claim %q is in an ID token or UserInfo answer but not in claims_supported %v", k, d.ClaimsSupported)
				}
			}
		}

		// grant_types_supported: listed grants get past the grant check,
		// others are unsupported_grant_type.
		m, msecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		for _, g := range d.GrantTypesSupported {
			form := url.Values{"grant_type": {g}}
			switch g {
			case provider.GrantAuthorizationCode:
				form.Set("code", "gh_ac_unknown.code")
				form.Set("redirect_uri", redirectURI)
			case provider.GrantRefreshToken:
				form.Set("refresh_token", "gh_rt_unknown.token")
			}
			id, sec := e.client.ID, e.secret
			if g == provider.GrantClientCredentials {
				id, sec = m.ID, msecret
			}
			resp, body := post(t, d.TokenEndpoint, form, id, sec)
			if body["error"] == "unsupported_grant_type" || (g == provider.GrantClientCredentials && resp.StatusCode != http.StatusOK) ||
				(g != provider.GrantClientCredentials && body["error"] != "invalid_grant") {
				t.Errorf("advertised grant %s: %d %v", g, resp.StatusCode, body)
			}
		}
		for _, g := range []string{"password", "implicit", "urn:ietf:params:oauth:grant-type:device_code",
			"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange"} {
			if resp, body := post(t, d.TokenEndpoint, url.Values{"grant_type": {g}}, e.client.ID, e.secret); resp.StatusCode != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
				t.Errorf("grant %s, not advertised: %d %v, want 400 unsupported_grant_type", g, resp.StatusCode, body)
			}
		}

		// token_endpoint_auth_signing_alg_values_supported: each algorithm
		// authenticates a private_key_jwt client.
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		ecKeys := map[string]*ecdsa.PrivateKey{}
		for alg, curve := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
			ecKeys[alg], _ = ecdsa.GenerateKey(curve, rand.Reader)
		}
		for _, alg := range d.TokenEndpointAuthSigningAlgValuesSupported {
			var priv, pub any = rsaKey, &rsaKey.PublicKey
			if k := ecKeys[alg]; k != nil {
				priv, pub = k, &k.PublicKey
			}
			set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "k-" + alg, Algorithm: alg, Use: "sig"}}})
			spec := machine("opaque", "RS256")
			spec.AuthMethod, spec.AuthSigningAlg, spec.JWKS = provider.AuthPrivateKeyJWT, alg, set
			c, _, err := e.in.Services().Provider.Clients.Create(e.in.Ctx(), spec)
			if err != nil {
				t.Errorf("register a private_key_jwt client signing with %s (advertised): %v", alg, err)
				continue
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: priv}, (&jose.SignerOptions{}).WithHeader("kid", "k-"+alg).WithType("JWT"))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			assertion, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: c.ID, Subject: c.ID, Audience: jwt.Audience{d.TokenEndpoint},
				ID: "jti-" + alg, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			resp, body := post(t, d.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {c.ID},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}, "", "")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("private_key_jwt with %s (advertised in token_endpoint_auth_signing_alg_values_supported): %d %v", alg, resp.StatusCode, body)
			}
		}
	})
}

// TestOIDCJWKS: the JWKS of the default tenant and of /t/acme is cacheable
// JSON (Cache-Control public, max-age=300) holding public keys only: each
// key object has no member but kty, use, kid, alg and the public parameters
// (n, e for RSA; crv, x, y for EC) — never d, p, q, dp, dq, qi, oth or k;
// use is sig; alg is RS256 (kty RSA, a modulus of at least 2048 bits,
// exponent 65537) or ES256 (kty EC, crv P-256); kid is the key's RFC 7638
// SHA-256 thumbprint and unique; each tenant publishes keys of its own.
func TestOIDCJWKS(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.newTenant("acme")
		kids := map[string]string{}
		for _, base := range []string{e.in.URL, e.in.URL + "/t/acme"} {
			resp, err := http.Get(base + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if cc, ct := resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"); resp.StatusCode != 200 || cc != "public, max-age=300" || !strings.HasPrefix(ct, "application/json") {
				t.Errorf("JWKS at %s: %d, Cache-Control %q, Content-Type %q; want 200, public, max-age=300, JSON", base, resp.StatusCode, cc, ct)
			}
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Keys) == 0 {
				t.Fatalf("JWKS at %s: %v %s", base, err, raw)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != len(doc.Keys) {
				t.Fatalf("JWKS at %s does not parse as a JWK set: %v", base, err)
			}
			for i, k := range doc.Keys {
				kid, _ := k["kid"].(string)
				var allowed []string
				switch k["alg"] {
				case "RS256":
					allowed = cfWant("kty", "use", "kid", "alg", "n", "e")
					pub, ok := set.Keys[i].Key.(*rsa.PublicKey)
					if k["kty"] != "RSA" || !ok || pub.N.BitLen() < 2048 || pub.E != 65537 {
						t.Errorf("%s key %s: kty %v, want an RSA key of ≥ 2048 bits with e 65537", base, kid, k["kty"])
					}
				case "ES256":
					allowed = cfWant("kty", "use", "kid", "alg", "crv", "x", "y")
					if k["kty"] != "EC" || k["crv"] != "P-256" {
						t.Errorf("%s key %s: kty %v crv %v, want EC P-256", base, kid, k["kty"], k["crv"])
					}
				default:
					t.Errorf("%s key %s: alg %v, want RS256 or ES256", base, kid, k["alg"])
				}
				if got := cfSorted(k); !slices.Equal(got, allowed) {
					t.Errorf("%s key %s: members %v, want exactly %v (public parameters only)", base, kid, got, allowed)
				}
				for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
					if _, ok := k[m]; ok {
						t.Errorf("%s key %s publishes the private member %q", base, kid, m)
					}
				}
				if k["use"] != "sig" || !set.Keys[i].IsPublic() {
					t.Errorf("%s key %s: use %v, public %v", base, kid, k["use"], set.Keys[i].IsPublic())
				}
				tp, err := set.Keys[i].Thumbprint(crypto.SHA256)
				if err != nil || kid != b64(tp) {
					t.Errorf("%s key: kid %q, want its RFC 7638 thumbprint %s (%v)", base, kid, b64(tp), err)
				}
				if other, dup := kids[kid]; dup || kid == "" {
					t.Errorf("%s key: kid %q also published at %s", base, kid, other)
				}
				kids[kid] = base
			}
		}
	})
}

// cfAuthzErrorCodes are the error codes an authorization endpoint may send
// back: RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6.
var cfAuthzErrorCodes = []string{"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
	"invalid_scope", "server_error", "temporarily_unavailable", "interaction_required", "login_required",
	"account_selection_required", "consent_required", "invalid_request_uri", "invalid_request_object",
	"request_not_supported", "request_uri_not_supported", "registration_not_supported"}

// cfErrorDescriptionOK: RFC 6749 §4.1.2.1: error_description is
// %x20-21 / %x23-5B / %x5D-7E.
func cfErrorDescriptionOK(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

// TestOIDCAuthorizationErrors: every error the authorization endpoint sends
// back to the client (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) goes to the
// registered redirect URI with exactly error, error_description, state (the
// request's, byte for byte, even with characters that need encoding) and iss
// (RFC 9207: the issuer of the tenant asked, /t/acme included) — no code —
// and error is the code RFC 6749 / OIDC Core define for the case, with an
// error_description in the allowed character set: invalid_scope for a scope
// the client may not ask for; unsupported_response_type for
// response_type=token; invalid_request for a state shorter than gatehouse's
// 8-character minimum and for an unsupported response_mode (form_post,
// fragment: not in response_modes_supported); registration_not_supported for
// the registration parameter; invalid_request or unsupported_response_type
// without response_type (conformance oidcc-response-type-missing); login_required (prompt=none, no session, and
// prompt=none after a session from another tenant), consent_required
// (prompt=none, no consent) and access_denied (consent refused). A success
// response echoes such a state byte for byte too.
func TestOIDCAuthorizationErrors(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acmeCtx := e.newTenant("acme")
		acmeURL := e.in.URL + "/t/acme"
		e.in.CreateUser(t, acmeCtx, email, password)
		ac, asecret := e.in.CreateClient(t, acmeCtx, provider.ClientSpec{Name: "Acme App", RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "profile", "email", "offline_access"}})
		arp := e.newRP(ac, asecret, acmeURL)
		const oddState = "st@te/ü?&=+ %20#x"

		withoutParam := func(a authRequest, k string) authRequest {
			u, _ := url.Parse(a.url)
			q := u.Query()
			q.Del(k)
			u.RawQuery = q.Encode()
			a.url = u.String()
			return a
		}
		withState := func(a authRequest, state string) authRequest {
			u, _ := url.Parse(a.url)
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
			a.url, a.state = u.String(), state
			return a
		}
		expectError := func(name string, res servertest.Result, a authRequest, issuer, want string) {
			t.Helper()
			if res.Redirect == nil {
				if res.Page != nil {
					t.Errorf("%s: page %q (%d %s), want an error redirect to the client", name, res.Page.Name, res.Page.Status, res.Page.ErrorCode)
				} else {
					t.Errorf("%s: no redirect", name)
				}
				return
			}
			u := *res.Redirect
			u.RawQuery = ""
			q := res.Redirect.Query()
			if u.String() != redirectURI {
				t.Errorf("%s: redirected to %s, want %s", name, res.Redirect, redirectURI)
			}
			if !slices.Contains(strings.Split(want, "|"), q.Get("error")) || !slices.Contains(cfAuthzErrorCodes, q.Get("error")) {
				t.Errorf("%s: error %q (%s), want %q", name, q.Get("error"), q.Get("error_description"), want)
			}
			if q.Get("state") != a.state || q.Get("iss") != issuer {
				t.Errorf("%s: state %q iss %q, want %q and %q", name, q.Get("state"), q.Get("iss"), a.state, issuer)
			}
			if !cfErrorDescriptionOK(q.Get("error_description")) {
				t.Errorf("%s: error_description %q has characters RFC 6749 §4.1.2.1 does not allow", name, q.Get("error_description"))
			}
			for k := range q {
				if !slices.Contains([]string{"error", "error_description", "state", "iss"}, k) {
					t.Errorf("%s: unexpected parameter %s=%q in the error response", name, k, q.Get(k))
				}
			}
		}
		get := func(b *servertest.Browser, a authRequest) servertest.Result {
			t.Helper()
			if b == nil {
				b = servertest.NewBrowser(e.in.URL)
			}
			res, err := b.Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		param := oauth2.SetAuthURLParam

		// Success with an odd state: echoed exactly.
		b := servertest.NewBrowser(e.in.URL)
		cfAuthorize(t, b, withState(e.rp.request(), oddState), email, e.in.URL)

		for _, tc := range []struct {
			name string
			r    *rp
			iss  string
			a    authRequest
			want string
		}{
			{"scope the client may not ask for", e.rp, e.in.URL, e.rp.request(param("scope", "openid admin")), "invalid_scope"},
			{"response_type=token", e.rp, e.in.URL, e.rp.request(param("response_type", "token")), "unsupported_response_type"},
			{"response_type missing", e.rp, e.in.URL, withoutParam(e.rp.request(), "response_type"), "invalid_request|unsupported_response_type"},
			{"state too short", e.rp, e.in.URL, withState(e.rp.request(), "abc"), "invalid_request"},
			{"response_mode=form_post", e.rp, e.in.URL, e.rp.request(param("response_mode", "form_post")), "invalid_request"},
			{"response_mode=fragment", e.rp, e.in.URL, e.rp.request(param("response_mode", "fragment")), "invalid_request"},
			{"registration parameter", e.rp, e.in.URL, e.rp.request(param("registration", `{"client_name":"x"}`)), "registration_not_supported"},
			{"prompt=none without a session", e.rp, e.in.URL, withState(e.rp.request(param("prompt", "none")), oddState), "login_required"},
			{"acme: prompt=none without a session", arp, acmeURL, withState(arp.request(param("prompt", "none")), oddState), "login_required"},
			{"acme: scope the client may not ask for", arp, acmeURL, arp.request(param("scope", "openid phone")), "invalid_scope"},
			{"acme: state too short", arp, acmeURL, withState(arp.request(), "abc"), "invalid_request"},
		} {
			expectError(tc.name, get(nil, tc.a), tc.a, tc.iss, tc.want)
		}

		// With a session in the default tenant: prompt=none at acme is
		// login_required there; a client without consent is consent_required.
		fresh, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Needs consent", RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid", "profile", "email", "offline_access"}})
		fr := e.newRP(fresh, "", e.in.URL)
		a := withState(arp.request(param("prompt", "none")), oddState)
		expectError("acme: prompt=none with another tenant's session", get(b, a), a, acmeURL, "login_required")
		a = withState(fr.request(param("prompt", "none")), oddState)
		expectError("prompt=none without consent", get(b, a), a, e.in.URL, "consent_required")

		// acme: a session there, then consent_required and access_denied.
		ab := servertest.NewBrowser(e.in.URL)
		a = withState(arp.request(), oddState)
		res, err := ab.Authorize(a.url, servertest.Steps{Email: email, Password: password, Consent: "deny"})
		if err != nil {
			t.Fatal(err)
		}
		expectError("acme: consent refused", res, a, acmeURL, "access_denied")
		a = withState(arp.request(param("prompt", "none")), oddState)
		expectError("acme: prompt=none without consent", get(ab, a), a, acmeURL, "consent_required")
	})
}

// TestOIDCShortNonce: OIDC Core §3.1.2.1 sets no minimum length for nonce,
// and the authorization request is the only place to refuse one. A nonce of
// 5 characters (below fosite's 8-character entropy rule, which gatehouse
// applies to state at the authorization endpoint) must either be refused
// there — back to the client with invalid_request, state and iss, before
// the user signs in — or be accepted all the way: the code it yields must
// exchange for an ID token whose nonce is that value. It must not lead the
// user through sign-in to a code the token endpoint then refuses.
func TestOIDCShortNonce(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const nonce = "n0nce"
		a := e.rp.request(oauth2.SetAuthURLParam("nonce", nonce))
		b := servertest.NewBrowser(e.in.URL)
		res, err := b.Get(a.url)
		if err != nil {
			t.Fatal(err)
		}
		if res.Redirect != nil && res.Redirect.Query().Get("error") != "" {
			if got := e.clientError("short nonce", res, a, redirectURI); got != "invalid_request" {
				t.Errorf("short nonce refused at authorization with %q, want invalid_request", got)
			}
			return
		}
		if res.Page == nil || res.Page.Name != "login" {
			t.Fatalf("short nonce: %+v, want an error redirect or the login page", res)
		}
		tok, err := e.rp.exchange(cfAuthorize(t, b, a, email, e.in.URL), a.verifier)
		if err != nil {
			c, code, status := oauthError(t, err)
			t.Fatalf("nonce %q accepted at authorization (the user signed in, a code was issued), then the code exchange failed: %d %s %s; "+
				"want the request refused before sign-in (invalid_request) or the nonce echoed in the ID token", nonce, status, c, code)
		}
		if _, id, _ := cfIDToken(t, e.in.URL, tok); id["nonce"] != nonce {
			t.Errorf("ID token nonce %v, want %q", id["nonce"], nonce)
		}
	})
}

// TestAuthorizationErrorDescriptionEchoedInput: an error_description that
// quotes what the request sent (a prompt value, a scope, a response_type)
// stays in the character set RFC 6749 §4.1.2.1 allows (%x20-21 / %x23-5B /
// %x5D-7E) whatever the request sent: no backslash, no control character,
// nothing outside ASCII.
func TestAuthorizationErrorDescriptionEchoedInput(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		param := oauth2.SetAuthURLParam
		for _, tc := range []struct {
			name string
			a    authRequest
			want string
		}{
			{"prompt with a non-ASCII letter", e.rp.request(param("prompt", "connexión")), "invalid_request"},
			{"prompt with a backslash", e.rp.request(param("prompt", `log\in`)), "invalid_request"},
			{"prompt with a control character", e.rp.request(param("prompt", "log\x01in")), "invalid_request"},
			{"scope with a non-ASCII letter", e.rp.request(param("scope", "openid prøfile")), "invalid_scope"},
			{"response_type with a backslash", e.rp.request(param("response_type", `co\de`)), "unsupported_response_type"},
		} {
			res, err := servertest.NewBrowser(e.in.URL).Get(tc.a.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.clientError(tc.name, res, tc.a, redirectURI); got != tc.want {
				t.Errorf("%s: error %q, want %s", tc.name, got, tc.want)
			}
			if res.Redirect != nil {
				if d := res.Redirect.Query().Get("error_description"); d == "" || !cfErrorDescriptionOK(d) {
					t.Errorf("%s: error_description %q is empty or has characters RFC 6749 §4.1.2.1 does not allow", tc.name, d)
				}
			}
		}
	})
}
