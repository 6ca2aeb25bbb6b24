package provider_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// caAnswer is one protocol endpoint response, read in full.
type caAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a caAnswer) str(k string) string { s, _ := a.body[k].(string); return s }

// caSend sends method to u with body (of content type ctype, if any) and the
// Authorization header auth exactly as given (nothing is encoded for the
// caller: the tests below get the encoding wrong on purpose).
func caSend(t *testing.T, method, u, ctype, body, auth string) caAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, raw, decoded := send(t, req)
	return caAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw), body: decoded}
}

const caFormType = "application/x-www-form-urlencoded"

// caPost posts form with the Authorization header auth as given.
func caPost(t *testing.T, u string, form url.Values, auth string) caAnswer {
	t.Helper()
	return caSend(t, http.MethodPost, u, caFormType, form.Encode(), auth)
}

// caBasicRaw is a Basic header of id and secret as they are: not
// form-url-encoded first.
func caBasicRaw(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// caBasic is a Basic header as RFC 6749 §2.3.1 wants it: id and secret
// form-url-encoded, then joined with ':' and base64-encoded.
func caBasic(id, secret string) string {
	return caBasicRaw(url.QueryEscape(id), url.QueryEscape(secret))
}

// caNoStore checks the caching headers RFC 6749 §5.1 asks of every token
// endpoint caAnswer (and ERRORS.md of every error): Cache-Control: no-store
// and Pragma: no-cache, and a JSON body.
func caNoStore(t *testing.T, name string, a caAnswer) {
	t.Helper()
	if a.header.Get("Cache-Control") != "no-store" || a.header.Get("Pragma") != "no-cache" {
		t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store, no-cache", name, a.header.Get("Cache-Control"), a.header.Get("Pragma"))
	}
	if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", name, a.header.Get("Content-Type"))
	}
}

// caRefused checks a failed client authentication: 401 invalid_client, no
// token, no-store, and a Basic challenge when the request used Basic
// (RFC 6749 §5.2).
func caRefused(t *testing.T, name string, a caAnswer, usedBasic bool) {
	t.Helper()
	if a.status != http.StatusUnauthorized || a.str("error") != "invalid_client" {
		t.Errorf("%s: %d %s, want 401 invalid_client", name, a.status, a.raw)
		return // the headers of a wrong answer are beside the point
	}
	if usedBasic && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("%s: WWW-Authenticate %q, want a Basic challenge", name, a.header.Get("WWW-Authenticate"))
	}
	caNoStore(t, name, a)
}

// caRefusedTwoMethods checks the refusal of a request that authenticates the
// client by two methods at once (RFC 6749 §2.3: "MUST NOT"): RFC 6749 §5.2
// names this case invalid_request (400), and a failed Basic authentication
// is invalid_client (401, with the challenge); either is a refusal, a token
// or a revocation is not.
func caRefusedTwoMethods(t *testing.T, name string, a caAnswer, usedBasic bool) {
	t.Helper()
	if a.status == http.StatusBadRequest && a.str("error") == "invalid_request" {
		caNoStore(t, name, a)
		return
	}
	caRefused(t, name, a, usedBasic)
}

// caClientWithSecret stores a confidential client whose secret (and id) the
// test chooses, hashed as Clients.Create would hash a generated one: the
// only way to register a secret with characters that need form-encoding.
func caClientWithSecret(t *testing.T, e *env, id, secret, method string) storage.Client {
	t.Helper()
	now := time.Now().UTC()
	c := storage.Client{ID: id, Name: "Chosen secret", GrantTypes: []string{provider.GrantClientCredentials},
		ResponseTypes: []string{}, RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{},
		Scopes: []string{"api:read"}, Audience: []string{"https://api.example.com"},
		TokenEndpointAuthMethod: method, IDTokenAlg: provider.RS256, AccessTokenFormat: "opaque",
		SecretHash: e.in.Services().Provider.Clients.Ring.MAC(keyring.PurposeClientSecret, []byte(secret)),
		CreatedAt:  now, UpdatedAt: now}
	if err := e.in.Store().CreateClient(e.in.Ctx(), c); err != nil {
		t.Fatalf("store client %q: %v", id, err)
	}
	return c
}

var caCCForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}

// TestClientSecretBasicEncoding: RFC 6749 §2.3.1: inside HTTP Basic the
// client id and secret are form-url-encoded. A secret with ':', '%', '+',
// ' ', '/', '=', '&' and non-ASCII characters, and a client id with ':',
// '+', ' ' and non-ASCII, authenticate when encoded as the RFC says (at the
// token, introspection and revocation endpoints; in the body for
// client_secret_post). Getting the encoding wrong is a failed
// authentication — 401 invalid_client with a Basic challenge and no-store —
// never a success: the raw secret (whose '+' decodes to a space, whose '%'
// starts no valid escape), the raw id (whose ':' ends the id early), a
// double-encoded secret, and the same text in another Unicode normal form.
func TestClientSecretBasicEncoding(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const secret = "p:a%s+s wörd/€=&"
		const id = "app:1+ Ω"
		const plusSecret = "plus+secret-0123456789abcdefghijklmnop" // no '%': raw, '+' decodes to ' '
		c := caClientWithSecret(t, e, id, secret, provider.AuthSecretBasic)
		plus := caClientWithSecret(t, e, "plus-client", plusSecret, provider.AuthSecretBasic)
		token := e.in.URL + "/oauth2/token"

		ok := caPost(t, token, caCCForm, caBasic(c.ID, secret))
		if ok.status != 200 || ok.str("access_token") == "" {
			t.Fatalf("form-encoded id and secret in Basic: %d %s", ok.status, ok.raw)
		}
		caNoStore(t, "token response", ok)
		// A space may be encoded %20 as well as '+': the decoded secret is
		// what counts.
		alt := strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")
		if a := caPost(t, token, caCCForm, caBasicRaw(url.QueryEscape(c.ID), alt)); a.status != 200 {
			t.Errorf("secret with the space encoded as %%20: %d %s", a.status, a.raw)
		}
		// Introspection and revocation read Basic the same way.
		in := caPost(t, e.in.URL+"/oauth2/introspect", url.Values{"token": {ok.str("access_token")}}, caBasic(c.ID, secret))
		if in.status != 200 || in.body["active"] != true || in.str("client_id") != id {
			t.Errorf("introspection with the encoded credentials: %d %s", in.status, in.raw)
		}
		if a := caPost(t, e.in.URL+"/oauth2/revoke", url.Values{"token": {ok.str("access_token")}}, caBasic(c.ID, secret)); a.status != 200 {
			t.Errorf("revocation with the encoded credentials: %d %s", a.status, a.raw)
		}
		if got := e.introspect(ok.str("access_token")); got["active"] != false {
			t.Errorf("token still active after its client revoked it: %v", got)
		}

		nfd := strings.Replace(secret, "ö", "o\u0308", 1)
		for _, tc := range []struct{ name, auth string }{
			{"raw secret with a bare %", caBasicRaw(url.QueryEscape(c.ID), secret)},
			{"raw secret with +", caBasicRaw(plus.ID, plusSecret)},
			{"raw id with ':'", caBasicRaw(c.ID, url.QueryEscape(secret))},
			{"double-encoded secret", caBasicRaw(url.QueryEscape(c.ID), url.QueryEscape(url.QueryEscape(secret)))},
			{"secret in NFD instead of NFC", caBasic(c.ID, nfd)},
			{"secret cut before its last characters", caBasic(c.ID, strings.TrimSuffix(secret, "€=&"))},
		} {
			for _, ep := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
				form := caCCForm
				if ep != "/oauth2/token" {
					form = url.Values{"token": {"gh_at_unknown.token"}}
				}
				caRefused(t, tc.name+" at "+ep, caPost(t, e.in.URL+ep, form, tc.auth), true)
			}
		}

		// client_secret_post: the same secret in the form body.
		pc := caClientWithSecret(t, e, "post:client é", secret, provider.AuthSecretPost)
		body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {pc.ID}, "client_secret": {secret}}
		if a := caPost(t, token, body, ""); a.status != 200 {
			t.Errorf("client_secret_post with the special secret: %d %s", a.status, a.raw)
		}
		body.Set("client_secret", url.QueryEscape(secret)) // encoded twice on the wire
		caRefused(t, "client_secret_post with a double-encoded secret", caPost(t, token, body, ""), false)
	})
}

// TestClientAuthMethodMismatch: a client authenticates only with the method
// it is registered for, and with exactly one method per request (RFC 6749
// §2.3). Each refusal is 401 invalid_client (with a Basic challenge when
// Basic was used), at the token and the revocation endpoint alike:
// a client_secret_basic client using client_secret_post, or both at once, or
// Basic plus a client_secret in the body, or a client assertion; a
// client_secret_post client using Basic or both; a public client sending a
// secret (Basic or body); a confidential client sending none (client_id
// only, or Basic with an empty password); a private_key_jwt client using the
// secret it was issued. The controls (each client with its own method) pass.
func TestClientAuthMethodMismatch(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		spec := firstParty()
		spec.AuthMethod = provider.AuthSecretPost
		pc, psecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		spec = firstParty()
		spec.Public, spec.AuthMethod = true, provider.AuthNone
		pub, _ := e.in.CreateClient(t, e.in.Ctx(), spec)
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		spec = firstParty()
		spec.AuthMethod, spec.JWKS = provider.AuthPrivateKeyJWT, jwks
		jc, jsecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		if jsecret == "" {
			t.Log("the private_key_jwt client has no secret: its secret cases are moot")
		}
		bc, bsecret := e.client, e.secret

		// Client authentication passes when the token endpoint gets as far
		// as the (unknown) refresh token: invalid_grant.
		refresh := func(extra url.Values) url.Values {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"gh_rt_unknown.token"}}
			for k, v := range extra {
				f[k] = v
			}
			return f
		}
		revoke := func(extra url.Values) url.Values {
			f := url.Values{"token": {"gh_rt_unknown.token"}}
			for k, v := range extra {
				f[k] = v
			}
			return f
		}
		idSecret := func(id, secret string) url.Values { return url.Values{"client_id": {id}, "client_secret": {secret}} }
		idOnly := func(id string) url.Values { return url.Values{"client_id": {id}} }
		otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		foreignAssertion := func(clientID string) url.Values {
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: otherKey}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
			raw, _ := jwt.Signed(signer).Claims(map[string]any{"iss": clientID, "sub": clientID, "aud": e.in.URL + "/oauth2/token",
				"jti": oauth2.GenerateVerifier()[:20], "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}).Serialize()
			return url.Values{"client_id": {clientID}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {raw}}
		}

		for _, tc := range []struct {
			name  string
			extra url.Values
			auth  string
		}{
			{"basic client with client_secret_post", idSecret(bc.ID, bsecret), ""},
			{"basic client with Basic and client_secret_post", idSecret(bc.ID, bsecret), caBasic(bc.ID, bsecret)},
			{"basic client with Basic and a client_secret in the body", url.Values{"client_secret": {bsecret}}, caBasic(bc.ID, bsecret)},
			{"basic client with Basic and a wrong client_secret in the body", url.Values{"client_secret": {"wrong"}}, caBasic(bc.ID, bsecret)},
			{"basic client with a client assertion", foreignAssertion(bc.ID), ""},
			{"basic client with client_id only", idOnly(bc.ID), ""},
			{"basic client with Basic and an empty password", nil, caBasic(bc.ID, "")},
			{"post client with Basic", nil, caBasic(pc.ID, psecret)},
			{"post client with Basic and client_secret_post", idSecret(pc.ID, psecret), caBasic(pc.ID, psecret)},
			{"post client with client_id only", idOnly(pc.ID), ""},
			{"post client with an empty client_secret", idSecret(pc.ID, ""), ""},
			{"public client with a Basic secret", nil, caBasic(pub.ID, "anything")},
			{"public client with a client_secret in the body", idSecret(pub.ID, "anything"), ""},
			{"private_key_jwt client with its secret in Basic", nil, caBasic(jc.ID, jsecret)},
			{"private_key_jwt client with its secret in the body", idSecret(jc.ID, jsecret), ""},
			{"private_key_jwt client with client_id only", idOnly(jc.ID), ""},
		} {
			basic := tc.auth != ""
			check := caRefused
			if basic && len(tc.extra) > 0 {
				check = caRefusedTwoMethods
			}
			check(t, tc.name+" (token)", caPost(t, e.in.URL+"/oauth2/token", refresh(tc.extra), tc.auth), basic)
			check(t, tc.name+" (revoke)", caPost(t, e.in.URL+"/oauth2/revoke", revoke(tc.extra), tc.auth), basic)
		}

		// Controls: each client with its own method gets past client
		// authentication.
		for _, tc := range []struct {
			name  string
			extra url.Values
			auth  string
		}{
			{"basic client with Basic", nil, caBasic(bc.ID, bsecret)},
			{"post client with client_secret_post", idSecret(pc.ID, psecret), ""},
			{"public client with client_id", idOnly(pub.ID), ""},
		} {
			if a := caPost(t, e.in.URL+"/oauth2/token", refresh(tc.extra), tc.auth); a.status != 400 || a.str("error") != "invalid_grant" {
				t.Errorf("control %s (token): %d %s, want 400 invalid_grant for the unknown refresh token", tc.name, a.status, a.raw)
			}
			if a := caPost(t, e.in.URL+"/oauth2/revoke", revoke(tc.extra), tc.auth); a.status != 200 {
				t.Errorf("control %s (revoke): %d %s, want 200", tc.name, a.status, a.raw)
			}
		}
	})
}

// caAssertionKey is a private_key_jwt client and the key it signs with.
type caAssertionKey struct {
	t      *testing.T
	client storage.Client
	key    *rsa.PrivateKey
	kid    string
}

// caAssertionClient registers a private_key_jwt client (client_credentials,
// api:read) in the tenant of ctx with a new RS256 key under kid k1.
func caAssertionClient(t *testing.T, e *env, ctx context.Context) caAssertionKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	spec := machine("opaque", "RS256")
	spec.AuthMethod, spec.JWKS = provider.AuthPrivateKeyJWT, jwks
	c, _ := e.in.CreateClient(t, ctx, spec)
	return caAssertionKey{t: t, client: c, key: key, kid: "k1"}
}

// claims are an assertion's claims for the client, valid for aud.
func (k caAssertionKey) claims(aud string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": k.client.ID, "sub": k.client.ID, "aud": aud, "jti": "jti-" + oauth2.GenerateVerifier()[:24],
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
}

// sign signs claims with key (RS256 unless alg says otherwise), with kid.
func (k caAssertionKey) sign(key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any, embed bool) string {
	k.t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: embed}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return raw
}

// good signs claims as the client should: RS256, its key, its kid.
func (k caAssertionKey) good(claims map[string]any) string {
	return k.sign(k.key, jose.RS256, k.kid, claims, false)
}

// form is a client_credentials request authenticated by assertion.
func (k caAssertionKey) form(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {k.client.ID},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
}

// caUnsignedJWT is header.claims. with an empty signature.
func caUnsignedJWT(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "."
}

// caHMACJWT is an HS256 JWT keyed with secret.
func caHMACJWT(header, claims map[string]any, secret []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signing := b64(h) + "." + b64(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// caWith returns a copy of claims with the given key/value pairs set; a
// nil value removes the key.
func caWith(claims map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// TestPrivateKeyJWTForgedAssertions: RFC 7523 §3 and §3.2: a client
// assertion that is not valid is 401 invalid_client (no token, no-store),
// whatever is wrong with it: alg none; HS256 keyed with the client's own
// public key (PEM, or the DER) — the alg confusion; RS256 signed by a key
// not in the client's JWKS (under its kid, under an unknown kid, or
// embedded in the header as a jwk); PS256 when RS256 is registered;
// expired; not yet valid (nbf or iat ten minutes ahead: fosite allows no
// skew); iss or sub naming another client, or iss not the client_id sent;
// aud the issuer instead of the token endpoint, or an array of wrong values
// only; jti missing or empty; exp missing. Then a valid assertion passes
// (the control), and an array aud holding the token endpoint among others
// passes too (RFC 7519 §4.1.3).
func TestPrivateKeyJWTForgedAssertions(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		k := caAssertionClient(t, e, e.in.Ctx())
		other := caAssertionClient(t, e, e.in.Ctx())
		tokenURL := e.in.URL + "/oauth2/token"
		base := func() map[string]any { return k.claims(tokenURL) }
		der, _ := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
		now := time.Now()

		for _, tc := range []struct {
			name      string
			assertion string
		}{
			{"alg none", caUnsignedJWT(map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, base())},
			{"alg none, no kid", caUnsignedJWT(map[string]any{"alg": "none", "typ": "JWT"}, base())},
			{"HS256 keyed with the public key PEM", caHMACJWT(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, base(), pemKey)},
			{"HS256 keyed with the public key DER", caHMACJWT(map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, base(), der)},
			{"signed by a stranger's key under the client's kid", k.sign(stranger, jose.RS256, "k1", base(), false)},
			{"signed by a stranger's key without kid", k.sign(stranger, jose.RS256, "", base(), false)},
			{"signed by a stranger's key under an unknown kid", k.sign(stranger, jose.RS256, "k2", base(), false)},
			{"signed by a stranger's key embedded as jwk", k.sign(stranger, jose.RS256, "", base(), true)},
			{"signed by another client's key", k.sign(other.key, jose.RS256, "k1", base(), false)},
			{"PS256 with the client's key", k.sign(k.key, jose.PS256, "k1", base(), false)},
			{"expired", k.good(caWith(base(), "iat", now.Add(-10*time.Minute).Unix(), "exp", now.Add(-5*time.Minute).Unix()))},
			{"nbf ten minutes ahead", k.good(caWith(base(), "nbf", now.Add(10*time.Minute).Unix(), "exp", now.Add(20*time.Minute).Unix()))},
			{"iat ten minutes ahead", k.good(caWith(base(), "iat", now.Add(10*time.Minute).Unix(), "exp", now.Add(20*time.Minute).Unix()))},
			{"iss another client", k.good(caWith(base(), "iss", other.client.ID))},
			{"sub another client", k.good(caWith(base(), "sub", other.client.ID))},
			{"iss and sub another client", k.good(caWith(base(), "iss", other.client.ID, "sub", other.client.ID))},
			{"iss missing", k.good(caWith(base(), "iss", nil))},
			{"sub missing", k.good(caWith(base(), "sub", nil))},
			{"aud the issuer", k.good(caWith(base(), "aud", e.in.URL))},
			{"aud the issuer with a slash", k.good(caWith(base(), "aud", e.in.URL+"/"))},
			{"aud the token endpoint with a slash", k.good(caWith(base(), "aud", tokenURL+"/"))},
			{"aud the introspection endpoint", k.good(caWith(base(), "aud", e.in.URL+"/oauth2/introspect"))},
			{"aud an array of wrong values", k.good(caWith(base(), "aud", []string{e.in.URL, "https://elsewhere.example/oauth2/token"}))},
			{"aud missing", k.good(caWith(base(), "aud", nil))},
			{"jti missing", k.good(caWith(base(), "jti", nil))},
			{"jti empty", k.good(caWith(base(), "jti", ""))},
			{"exp missing", k.good(caWith(base(), "exp", nil))},
		} {
			caRefused(t, tc.name, caPost(t, tokenURL, k.form(tc.assertion), ""), false)
		}

		// iss and sub are the client, but the form names another client:
		// the assertion is checked against the client named.
		f := k.form(k.good(base()))
		f.Set("client_id", other.client.ID)
		caRefused(t, "client_id of another client", caPost(t, tokenURL, f, ""), false)

		if a := caPost(t, tokenURL, k.form(k.good(base())), ""); a.status != 200 || a.str("access_token") == "" {
			t.Fatalf("control: a valid assertion: %d %s", a.status, a.raw)
		}
		if a := caPost(t, tokenURL, k.form(k.good(caWith(base(), "aud", []string{"https://elsewhere.example", tokenURL}))), ""); a.status != 200 {
			t.Errorf("aud array holding the token endpoint: %d %s", a.status, a.raw)
		}
	})
}

// TestPrivateKeyJWTTenantAudience: a client assertion names the token
// endpoint of the client's own tenant (tenantConfig.GetTokenURLs: only
// that URL). For a client of tenant acme, the default tenant's token
// endpoint, the bare origin, acme's issuer and an array of those are all
// 401 invalid_client at acme's token endpoint; acme's token endpoint passes.
// The same valid acme assertion sent to the default tenant's endpoint is
// caRefused too (no such client there, and the audience is not that
// endpoint).
func TestPrivateKeyJWTTenantAudience(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		acme := e.newTenant("acme")
		k := caAssertionClient(t, e, acme)
		acmeToken := e.in.URL + "/t/acme/oauth2/token"
		defaultToken := e.in.URL + "/oauth2/token"
		for name, aud := range map[string]any{
			"the default tenant's token endpoint": defaultToken,
			"the origin without a path":           e.in.URL,
			"acme's issuer":                       e.in.URL + "/t/acme",
			"another tenant's token endpoint":     e.in.URL + "/t/other/oauth2/token",
			"an array of wrong values":            []string{defaultToken, e.in.URL + "/t/acme"},
		} {
			caRefused(t, "aud "+name, caPost(t, acmeToken, k.form(k.good(caWith(k.claims(acmeToken), "aud", aud))), ""), false)
		}
		caRefused(t, "acme assertion at the default tenant", caPost(t, defaultToken, k.form(k.good(k.claims(acmeToken))), ""), false)
		if a := caPost(t, acmeToken, k.form(k.good(k.claims(acmeToken))), ""); a.status != 200 {
			t.Fatalf("control: acme assertion at acme: %d %s", a.status, a.raw)
		}
	})
}

// TestPrivateKeyJWTReplay: a client assertion is single use (RFC 7523 §3
// item 7, SECURITY.md): after it was used at the token endpoint it is
// caRefused there and at the revocation endpoint (401 invalid_client); of
// several simultaneous uses of one fresh assertion exactly one succeeds and
// the others are 401 invalid_client, none a 500; a jti reused in a new
// assertion (new iat, new signature) is caRefused as well. An assertion whose
// exp lies far ahead (a year; the year 9999; 10^13 s, beyond what a
// microsecond timestamp holds) is refused from its first use, 401
// invalid_client: assertions must expire within an hour (store.go,
// maxAssertionLifetime); an assertion 50 minutes ahead is still taken.
func TestPrivateKeyJWTReplay(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		k := caAssertionClient(t, e, e.in.Ctx())
		tokenURL := e.in.URL + "/oauth2/token"

		first := k.good(k.claims(tokenURL))
		if a := caPost(t, tokenURL, k.form(first), ""); a.status != 200 {
			t.Fatalf("first use: %d %s", a.status, a.raw)
		}
		caRefused(t, "replay at the token endpoint", caPost(t, tokenURL, k.form(first), ""), false)
		rf := k.form(first)
		rf.Del("grant_type")
		rf.Del("scope")
		rf.Set("token", "gh_at_unknown.token")
		caRefused(t, "replay at the revocation endpoint", caPost(t, e.in.URL+"/oauth2/revoke", rf, ""), false)

		// A fresh assertion revokes: the client is authenticated once, so
		// its jti is not taken for a replay by a second check.
		issued := caPost(t, tokenURL, k.form(k.good(k.claims(tokenURL))), "")
		rv := k.form(k.good(k.claims(tokenURL)))
		rv.Del("grant_type")
		rv.Del("scope")
		rv.Set("token", issued.str("access_token"))
		if a := caPost(t, e.in.URL+"/oauth2/revoke", rv, ""); a.status != 200 {
			t.Fatalf("revocation with a fresh assertion: %d %s, want 200", a.status, a.raw)
		}
		if got := e.introspect(issued.str("access_token")); got["active"] != false {
			t.Fatalf("token revoked with a fresh assertion still active: %v", got)
		}

		claims := k.claims(tokenURL)
		if a := caPost(t, tokenURL, k.form(k.good(claims)), ""); a.status != 200 {
			t.Fatalf("fresh assertion: %d %s", a.status, a.raw)
		}
		again := caWith(claims, "exp", time.Now().Add(3*time.Minute).Unix()) // another exp: another signature
		caRefused(t, "same jti in a newly signed assertion", caPost(t, tokenURL, k.form(k.good(again)), ""), false)

		racing := k.good(k.claims(tokenURL))
		answers := make([]caAnswer, 8)
		statuses := parallel(len(answers), func(i int) int {
			answers[i] = caPost(t, tokenURL, k.form(racing), "")
			return answers[i].status
		})
		if count(statuses, 200) != 1 {
			t.Errorf("simultaneous uses of one assertion: statuses %v, want exactly one 200", statuses)
		}
		for _, a := range answers {
			if a.status != 200 && (a.status != 401 || a.str("error") != "invalid_client") {
				t.Errorf("simultaneous use answered %d %s, want 200 or 401 invalid_client", a.status, a.raw)
			}
		}

		for name, exp := range map[string]int64{
			"a year ahead":        time.Now().AddDate(1, 0, 0).Unix(),
			"in the year 9999":    time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix(),
			"10^13 seconds ahead": 10_000_000_000_000,
		} {
			assertion := k.good(caWith(k.claims(tokenURL), "exp", exp))
			a := caPost(t, tokenURL, k.form(assertion), "")
			if a.status != 401 || a.str("error") != "invalid_client" {
				t.Errorf("exp %s: first use %d %s, want 401 invalid_client (more than an hour ahead)", name, a.status, a.raw)
			}
			for i := range 2 {
				caRefused(t, "exp "+name+": replay "+string(rune('1'+i)), caPost(t, tokenURL, k.form(assertion), ""), false)
			}
		}
		within := k.good(caWith(k.claims(tokenURL), "exp", time.Now().Add(50*time.Minute).Unix()))
		if a := caPost(t, tokenURL, k.form(within), ""); a.status != 200 {
			t.Errorf("assertion expiring in 50 minutes: %d %s, want 200", a.status, a.raw)
		}

		// Revocation needs the token parameter (RFC 7009 §2.1).
		rv = k.form(k.good(k.claims(tokenURL)))
		rv.Del("grant_type")
		rv.Del("scope")
		if a := caPost(t, e.in.URL+"/oauth2/revoke", rv, ""); a.status != 400 || a.str("error") != "invalid_request" {
			t.Errorf("revocation without a token: %d %s, want 400 invalid_request", a.status, a.raw)
		}
	})
}

// caCodeFor runs an authorization for r with redirect (one of its client's
// registered URIs) in a new browser and returns the code and the PKCE
// verifier.
func (e *env) caCodeFor(r *rp, redirect string) (code, verifier string) {
	e.t.Helper()
	o := *r.oauth
	o.RedirectURL = redirect
	rr := *r
	rr.oauth = &o
	a := rr.request()
	res, err := servertest.NewBrowser(e.in.URL).Authorize(a.url, servertest.Steps{Email: email, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Redirect == nil || res.Redirect.Query().Get("code") == "" || !strings.HasPrefix(res.Redirect.String(), redirect+"?") {
		e.t.Fatalf("authorization with %s ended with %+v", redirect, res)
	}
	return res.Redirect.Query().Get("code"), a.verifier
}

// TestTokenEndpointRequestShape: the token endpoint takes a POST of an
// application/x-www-form-urlencoded body with each parameter once (RFC 6749
// §3.2). GET is 405 METHOD_NOT_ALLOWED with Allow: POST (the server's
// fallback, docs/errors.md) and issues nothing; a JSON body or parameters
// only in the query string are 400 invalid_request; a parameter sent twice
// (grant_type, or code — whichever copy is the valid one) is 400
// invalid_request (§5.2: "includes a parameter more than once"); two grant
// types in one value are 400 invalid_request; an unknown or unsupported
// grant_type is 400 unsupported_grant_type (§5.2). Every caAnswer, success or
// error, is JSON with Cache-Control: no-store and Pragma: no-cache (§5.1).
func TestTokenEndpointRequestShape(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		m, msecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		auth := caBasic(m.ID, msecret)
		tokenURL := e.in.URL + "/oauth2/token"

		ok := caPost(t, tokenURL, caCCForm, auth)
		if ok.status != 200 {
			t.Fatalf("control: client_credentials: %d %s", ok.status, ok.raw)
		}
		caNoStore(t, "token success", ok)

		get := caSend(t, http.MethodGet, tokenURL+"?"+caCCForm.Encode(), "", "", auth)
		if get.status != http.StatusMethodNotAllowed || !strings.Contains(get.header.Get("Allow"), http.MethodPost) || get.body["access_token"] != nil {
			t.Errorf("GET: %d Allow %q %s, want 405 with Allow: POST", get.status, get.header.Get("Allow"), get.raw)
		}
		if ce, _ := get.body["error"].(map[string]any); ce["code"] != "METHOD_NOT_ALLOWED" {
			t.Errorf("GET: body %s, want the METHOD_NOT_ALLOWED catalog error", get.raw)
		}
		caNoStore(t, "GET", get)

		invalid := func(name string, a caAnswer, want string) {
			t.Helper()
			if a.status != http.StatusBadRequest || a.str("error") != want || a.body["access_token"] != nil {
				t.Errorf("%s: %d %s, want 400 %s", name, a.status, a.raw, want)
			}
			caNoStore(t, name, a)
		}
		jsonBody, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "scope": "api:read"})
		invalid("JSON body", caSend(t, http.MethodPost, tokenURL, "application/json", string(jsonBody), auth), "invalid_request")
		invalid("JSON body labelled as a form", caSend(t, http.MethodPost, tokenURL, caFormType, string(jsonBody), auth), "invalid_request")
		invalid("parameters in the query string", caSend(t, http.MethodPost, tokenURL+"?"+caCCForm.Encode(), caFormType, "", auth), "invalid_request")
		invalid("grant_type twice", caSend(t, http.MethodPost, tokenURL, caFormType, "grant_type=client_credentials&grant_type=client_credentials&scope=api%3Aread", auth), "invalid_request")
		invalid("grant_type twice, different", caSend(t, http.MethodPost, tokenURL, caFormType, "grant_type=client_credentials&grant_type=refresh_token&scope=api%3Aread", auth), "invalid_request")
		invalid("scope twice", caSend(t, http.MethodPost, tokenURL, caFormType, "grant_type=client_credentials&scope=api%3Aread&scope=api%3Awrite", auth), "invalid_request")
		invalid("two grant types in one value", caPost(t, tokenURL, url.Values{"grant_type": {"client_credentials refresh_token"}, "scope": {"api:read"}}, auth), "invalid_request")
		invalid("grant_type missing", caPost(t, tokenURL, url.Values{"scope": {"api:read"}}, auth), "invalid_request")
		for _, g := range []string{"password", "implicit", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer", "no_such_grant"} {
			invalid("grant_type "+g, caPost(t, tokenURL, url.Values{"grant_type": {g}, "scope": {"api:read"}}, auth), "unsupported_grant_type")
		}

		// A code sent twice: whichever copy is the valid one, nothing is
		// issued (each case on its own code).
		for _, validFirst := range []bool{true, false} {
			code, verifier := e.caCodeFor(e.rp, redirectURI)
			codes := []string{code, "gh_ac_bogus.code"}
			if !validFirst {
				codes[0], codes[1] = codes[1], codes[0]
			}
			f := url.Values{"grant_type": {"authorization_code"}, "code": codes, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
			invalid(fmt.Sprintf("code twice (valid first: %v)", validFirst), caPost(t, tokenURL, f, caBasic(e.client.ID, e.secret)), "invalid_request")
		}
	})
}

// TestCodeExchangeBinding: a code is redeemed only by the client it was
// issued to and only with the redirect_uri of its authorization request
// (RFC 6749 §4.1.3), each violation 400 invalid_grant, no-store, nothing
// issued: a code of client A presented by client B (B registered with the
// same redirect URI, authenticating correctly); a code of a client with two
// registered URIs, exchanged with the other one; a code obtained with a
// loopback port other than the registered one, exchanged with the
// registered URI; a code exchanged without redirect_uri. The controls
// exchange the same kind of code correctly.
func TestCodeExchangeBinding(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const otherURI = "http://127.0.0.1:9999/other"
		const portURI = "http://127.0.0.1:4321/callback"
		spec := firstParty()
		spec.RedirectURIs = []string{redirectURI, otherURI}
		two, twoSecret := e.in.CreateClient(t, e.in.Ctx(), spec)
		b, bSecret := e.in.CreateClient(t, e.in.Ctx(), firstParty())
		tokenURL := e.in.URL + "/oauth2/token"
		exchange := func(clientID, secret, code, verifier string, redirect []string) caAnswer {
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
			if redirect != nil {
				f["redirect_uri"] = redirect
			}
			return caPost(t, tokenURL, f, caBasic(clientID, secret))
		}
		bad := func(name string, a caAnswer) {
			t.Helper()
			if a.status != http.StatusBadRequest || a.str("error") != "invalid_grant" || a.body["access_token"] != nil {
				t.Errorf("%s: %d %s, want 400 invalid_grant", name, a.status, a.raw)
			}
			caNoStore(t, name, a)
		}

		code, verifier := e.caCodeFor(e.rp, redirectURI)
		bad("another client's code", exchange(b.ID, bSecret, code, verifier, []string{redirectURI}))
		// The issuing client can still redeem it (a foreign client's try
		// neither spends nor unbinds it).
		if a := exchange(e.client.ID, e.secret, code, verifier, []string{redirectURI}); a.status != 200 {
			t.Errorf("control: the issuing client after a foreign try: %d %s", a.status, a.raw)
		}

		tr := e.newRP(two, twoSecret, e.in.URL)
		code, verifier = e.caCodeFor(tr, redirectURI)
		bad("the client's other registered redirect_uri", exchange(two.ID, twoSecret, code, verifier, []string{otherURI}))
		code, verifier = e.caCodeFor(tr, otherURI)
		bad("redirect_uri missing", exchange(two.ID, twoSecret, code, verifier, nil))
		bad("redirect_uri empty", exchange(two.ID, twoSecret, code, verifier, []string{""}))
		bad("redirect_uri with a trailing slash", exchange(two.ID, twoSecret, code, verifier, []string{otherURI + "/"}))
		if a := exchange(two.ID, twoSecret, code, verifier, []string{otherURI}); a.status != 200 {
			t.Errorf("control: the right redirect_uri after wrong ones: %d %s", a.status, a.raw)
		}

		code, verifier = e.caCodeFor(e.rp, portURI)
		bad("registered port instead of the authorization's loopback port", exchange(e.client.ID, e.secret, code, verifier, []string{redirectURI}))
		if a := exchange(e.client.ID, e.secret, code, verifier, []string{portURI}); a.status != 200 {
			t.Errorf("control: the authorization's loopback port: %d %s", a.status, a.raw)
		}
	})
}

// TestRefreshScopeWidening: a refresh request may not ask for a scope the
// resource owner did not grant (RFC 6749 §6): asking for one the client is
// registered for but the user never granted (api:read), or one the client
// may not have at all, is 400 invalid_scope (§5.2), and in no case does the
// new token carry the scope: not in the response, not at introspection.
func TestRefreshScopeWidening(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		rt := tok.RefreshToken
		for _, scope := range []string{"openid offline_access api:read", "openid offline_access admin:all"} {
			extra := strings.Fields(scope)[2]
			a := caPost(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {scope}},
				caBasic(e.client.ID, e.secret))
			caNoStore(t, "refresh asking for "+extra, a)
			if a.status == 200 {
				t.Errorf("refresh asking for %s: 200 %s, want 400 invalid_scope", extra, a.raw)
				if strings.Contains(" "+a.str("scope")+" ", " "+extra+" ") {
					t.Errorf("refresh widened the grant to %s: scope %q", extra, a.str("scope"))
				}
				if in := e.introspect(a.str("access_token")); strings.Contains(fmt.Sprint(in["scope"]), extra) {
					t.Errorf("refreshed access token carries %s: %v", extra, in)
				}
				rt = a.str("refresh_token")
				continue
			}
			if a.status != 400 || a.str("error") != "invalid_scope" {
				t.Errorf("refresh asking for %s: %d %s, want 400 invalid_scope", extra, a.status, a.raw)
			}
		}
		// The caRefused requests were the client's mistake, not a reuse: the
		// refresh token still works, with the original grant.
		resp, body := e.refresh(rt)
		if resp.StatusCode != 200 || strings.Contains(fmt.Sprint(body["scope"]), "api:read") {
			t.Errorf("refresh after caRefused widenings: %d %v", resp.StatusCode, body)
		}
	})
}

// TestRefreshScopeNarrowing: a refresh may ask for fewer scopes than the
// grant has (RFC 6749 §6). The new access token carries only those (in the
// response, at introspection), the ID token follows them (claims of the
// scopes asked for; none without openid), and the new refresh token keeps
// the whole grant: identical to the one presented, as §6 requires, so a
// later refresh without a scope parameter gets every granted scope back.
func TestRefreshScopeNarrowing(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		full := "openid profile email offline_access"
		refresh := func(name, rt, scope string) caAnswer {
			t.Helper()
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if scope != "" {
				f.Set("scope", scope)
			}
			a := caPost(t, e.in.URL+"/oauth2/token", f, caBasic(e.client.ID, e.secret))
			if a.status != 200 || a.str("refresh_token") == "" {
				t.Fatalf("%s: %d %s", name, a.status, a.raw)
			}
			return a
		}
		emailClaim := func(name string, a caAnswer) bool {
			t.Helper()
			raw := a.str("id_token")
			if raw == "" {
				t.Fatalf("%s: no id_token: %s", name, a.raw)
			}
			_, claims := verifyJWT(t, e.in.URL, raw)
			_, ok := claims["email"]
			return ok
		}
		a := refresh("narrowed to openid offline_access", e.tokens().RefreshToken, "offline_access openid offline_access")
		if a.str("scope") != "openid offline_access" {
			t.Errorf("narrowed refresh: scope %q, want %q", a.str("scope"), "openid offline_access")
		}
		if in := e.introspect(a.str("access_token")); in["scope"] != "openid offline_access" {
			t.Errorf("narrowed access token at introspection: %v", in)
		}
		if emailClaim("narrowed refresh", a) {
			t.Errorf("narrowed to openid, the ID token still has the email claim")
		}
		if in := e.introspect(a.str("refresh_token")); in["scope"] != full {
			t.Errorf("the new refresh token after a narrowed refresh: %v, want scope %q", in, full)
		}
		b := refresh("without scope after a narrowed one", a.str("refresh_token"), "")
		if b.str("scope") != full || !emailClaim("refresh after a narrowed one", b) {
			t.Errorf("refresh without scope after a narrowed one: scope %q, want the whole grant %q with its claims", b.str("scope"), full)
		}
		c := refresh("narrowed without openid", b.str("refresh_token"), "offline_access")
		if c.str("scope") != "offline_access" || c.str("id_token") != "" {
			t.Errorf("refresh narrowed to offline_access: scope %q, id_token %.20q; want no ID token", c.str("scope"), c.str("id_token"))
		}
		if in := e.introspect(c.str("refresh_token")); in["scope"] != full {
			t.Errorf("refresh token after a refresh without openid: %v, want scope %q", in, full)
		}
		// Scopes are case-sensitive (RFC 6749 §3.3): a granted scope in
		// another case is not granted, so asking for it is invalid_scope,
		// not a silent narrowing to nothing.
		for _, scope := range []string{"OPENID offline_access", "EMAIL"} {
			x := caPost(t, e.in.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {c.str("refresh_token")}, "scope": {scope}}, caBasic(e.client.ID, e.secret))
			if x.status != 400 || x.str("error") != "invalid_scope" {
				t.Errorf("refresh asking for %q: %d %s, want 400 invalid_scope", scope, x.status, x.raw)
			}
		}
		// Asking for every granted scope is no narrowing.
		if d := refresh("all scopes asked for", c.str("refresh_token"), full); d.str("scope") != full {
			t.Errorf("refresh asking for the whole grant: scope %q", d.str("scope"))
		}
	})
}

// TestRevocationScope: revoking any token of a grant revokes the whole
// grant (revoke.go, docs/architecture.md), whatever token_type_hint says
// (RFC 7009 §2.1: a hint that does not match, or is unknown, only changes
// the search order): an access token revoked with hint refresh_token takes
// its refresh token along — a refresh then fails with 400 invalid_grant and
// INVALID_REFRESH_TOKEN — and a refresh token revoked with hint
// access_token takes its access token along. Another grant of the same
// user and client is untouched. Revoking again, or with an unknown hint,
// is 200. Another client's revocation of the access token answers 200 and
// revokes nothing. Every caAnswer is no-store.
func TestRevocationScope(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		g1, g2, g3 := e.tokens(), e.tokens(), e.tokens()
		other, otherSecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		revoke := func(name, clientID, secret, token, hint string) {
			t.Helper()
			f := url.Values{"token": {token}}
			if hint != "" {
				f.Set("token_type_hint", hint)
			}
			a := caPost(t, e.in.URL+"/oauth2/revoke", f, caBasic(clientID, secret))
			if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d Cache-Control %q %s, want 200 no-store", name, a.status, a.header.Get("Cache-Control"), a.raw)
			}
		}
		inactive := func(name, token string) {
			t.Helper()
			if got := e.introspect(token); len(got) != 1 || got["active"] != false {
				t.Errorf("%s: introspection %v, want only active:false", name, got)
			}
		}
		refreshFails := func(name, rt string) {
			t.Helper()
			if resp, body := e.refresh(rt); resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["error_code"] != "INVALID_REFRESH_TOKEN" {
				t.Errorf("%s: refresh %d %v, want 400 invalid_grant INVALID_REFRESH_TOKEN", name, resp.StatusCode, body)
			}
		}

		revoke("another client revokes the access token", other.ID, otherSecret, g1.AccessToken, "")
		if e.introspect(g1.AccessToken)["active"] != true {
			t.Fatal("another client's revocation revoked the access token")
		}

		revoke("access token with hint refresh_token", e.client.ID, e.secret, g1.AccessToken, "refresh_token")
		inactive("revoked access token", g1.AccessToken)
		inactive("refresh token of a revoked access token's grant", g1.RefreshToken)
		refreshFails("refresh token of a revoked access token's grant", g1.RefreshToken)

		revoke("refresh token with hint access_token", e.client.ID, e.secret, g2.RefreshToken, "access_token")
		inactive("access token of a revoked refresh token's grant", g2.AccessToken)
		refreshFails("revoked refresh token", g2.RefreshToken)

		revoke("again", e.client.ID, e.secret, g1.AccessToken, "access_token")
		revoke("unknown hint", e.client.ID, e.secret, g1.RefreshToken, "id_token")

		if in := e.introspect(g3.AccessToken); in["active"] != true {
			t.Errorf("another grant's access token after revocations: %v", in)
		}
		if resp, body := e.refresh(g3.RefreshToken); resp.StatusCode != 200 {
			t.Errorf("another grant's refresh token after revocations: %d %v", resp.StatusCode, body)
		}
		revoke("an unknown hint on a live token", e.client.ID, e.secret, g3.AccessToken, "not_a_type")
		inactive("access token revoked with an unknown hint", g3.AccessToken)
	})
}

// TestIntrospectionAcrossClients: RFC 7662 lets the server decide which
// callers see which tokens; gatehouse follows fosite (FOSITE.md §6): any
// client of the tenant that authenticates with HTTP Basic may introspect
// any token of the tenant — a resource server's client sees the user
// client's token as active, with that client's client_id. A public client
// (no secret) cannot introspect: 401 invalid_client with a Basic challenge,
// and so is a client_assertion without Basic. A token_type_hint that does
// not match only changes the search order (§2.1): the access token is still
// found. Every inactive caAnswer — a revoked token, a rotated refresh token,
// the token of a suspended account, garbage, a code — is exactly
// {"active":false}, nothing else; every caAnswer is no-store.
func TestIntrospectionAcrossClients(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		tok := e.tokens()
		rs, rsSecret := e.in.CreateClient(t, e.in.Ctx(), machine("opaque", "RS256"))
		spec := firstParty()
		spec.Public, spec.AuthMethod = true, provider.AuthNone
		pub, _ := e.in.CreateClient(t, e.in.Ctx(), spec)
		k := caAssertionClient(t, e, e.in.Ctx())
		introspectURL := e.in.URL + "/oauth2/introspect"
		as := func(auth string, f url.Values) caAnswer {
			t.Helper()
			a := caPost(t, introspectURL, f, auth)
			caNoStore(t, "introspection "+f.Encode(), a)
			return a
		}

		a := as(caBasic(rs.ID, rsSecret), url.Values{"token": {tok.AccessToken}})
		if a.status != 200 || a.body["active"] != true || a.str("client_id") != e.client.ID || a.str("sub") != e.user.ID {
			t.Errorf("another client introspects the user's token: %d %s, want active with the issuing client_id", a.status, a.raw)
		}
		a = as(caBasic(rs.ID, rsSecret), url.Values{"token": {tok.AccessToken}, "token_type_hint": {"refresh_token"}})
		if a.status != 200 || a.body["active"] != true || a.str("token_type") != "Bearer" {
			t.Errorf("access token with hint refresh_token: %d %s", a.status, a.raw)
		}

		for name, auth := range map[string]string{
			"public client, empty password": caBasic(pub.ID, ""),
			"public client, any password":   caBasic(pub.ID, "anything"),
		} {
			caRefused(t, name, as(auth, url.Values{"token": {tok.AccessToken}}), true)
		}
		caRefused(t, "public client by client_id", as("", url.Values{"token": {tok.AccessToken}, "client_id": {pub.ID}}), false)
		af := k.form(k.good(k.claims(e.in.URL + "/oauth2/token")))
		af.Del("grant_type")
		af.Del("scope")
		af.Set("token", tok.AccessToken)
		caRefused(t, "client assertion instead of Basic", as("", af), false)

		// Inactive answers say nothing else.
		resp, body := e.refresh(tok.RefreshToken)
		if resp.StatusCode != 200 {
			t.Fatalf("refresh: %d %v", resp.StatusCode, body)
		}
		fresh := e.tokens()
		a2 := e.rp.request()
		code := e.signIn(nil, a2)
		if err := e.in.Store().SetUserStatus(e.in.Ctx(), e.user.ID, storage.StatusSuspended, "test", "admin", nil); err != nil {
			t.Fatal(err)
		}
		for name, token := range map[string]string{
			"access token rotated away":   tok.AccessToken,
			"rotated refresh token":       tok.RefreshToken,
			"suspended account's access":  fresh.AccessToken,
			"suspended account's refresh": fresh.RefreshToken,
			"garbage":                     "garbage",
			"unknown opaque token":        "gh_at_unknown.token",
			"authorization code":          code,
		} {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				a := as(caBasic(rs.ID, rsSecret), url.Values{"token": {token}, "token_type_hint": {hint}})
				if a.status != 200 || len(a.body) != 1 || a.body["active"] != false {
					t.Errorf("%s (hint %q): %d %s, want exactly {\"active\":false}", name, hint, a.status, a.raw)
				}
			}
		}
	})
}

// TestIntrospectionBearerInForm: introspection requires HTTP Basic client
// authentication (architecture: a bearer token is not enough, a token holder
// must not probe other tokens). fosite also takes an access_token form or
// query parameter as bearer authentication, in which case it skips the
// Basic credentials altogether: a Basic header with a wrong secret, or of no
// client at all, plus any valid access token must still be 401
// invalid_client with a Basic challenge, never an answer about the token.
func TestIntrospectionBearerInForm(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		holder := e.tokens() // a token the caller holds
		victim := e.tokens() // a token it should not learn about
		introspectURL := e.in.URL + "/oauth2/introspect"
		for name, auth := range map[string]string{
			"wrong secret":   caBasic(e.client.ID, "wrong"),
			"unknown client": caBasic("nobody", "nothing"),
		} {
			f := url.Values{"token": {victim.AccessToken}, "access_token": {holder.AccessToken}}
			caRefused(t, name+", access_token in the body", caPost(t, introspectURL, f, auth), true)
			q := url.Values{"access_token": {holder.AccessToken}}
			caRefused(t, name+", access_token in the query", caPost(t, introspectURL+"?"+q.Encode(), url.Values{"token": {victim.AccessToken}}, auth), true)
		}
		// With its own credentials right, the caller's access_token
		// parameter is ignored.
		f := url.Values{"token": {victim.AccessToken}, "access_token": {"garbage"}}
		if a := caPost(t, introspectURL, f, caBasic(e.client.ID, e.secret)); a.status != 200 || a.body["active"] != true {
			t.Errorf("right Basic credentials and an access_token parameter: %d %s, want the token active", a.status, a.raw)
		}
	})
}

// TestClientAssertionWithSecret: a client uses one authentication method
// per request (RFC 6749 §2.3: "MUST NOT use more than one"). A valid
// client assertion together with a client_secret in the body is two
// methods — refused like Basic plus a body secret, at the token and the
// revocation endpoint — whatever the secret's value; the assertion alone
// (the control) passes.
func TestClientAssertionWithSecret(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		k := caAssertionClient(t, e, e.in.Ctx())
		tokenURL := e.in.URL + "/oauth2/token"
		for _, secret := range []string{"anything", ""} {
			f := k.form(k.good(k.claims(tokenURL)))
			f.Set("client_secret", secret)
			caRefusedTwoMethods(t, fmt.Sprintf("assertion and client_secret %q (token)", secret), caPost(t, tokenURL, f, ""), false)
			f = k.form(k.good(k.claims(tokenURL)))
			f.Del("grant_type")
			f.Del("scope")
			f.Set("token", "gh_at_unknown.token")
			f.Set("client_secret", secret)
			caRefusedTwoMethods(t, fmt.Sprintf("assertion and client_secret %q (revoke)", secret), caPost(t, e.in.URL+"/oauth2/revoke", f, ""), false)
		}
		if a := caPost(t, tokenURL, k.form(k.good(k.claims(tokenURL))), ""); a.status != 200 {
			t.Errorf("control: the assertion alone: %d %s", a.status, a.raw)
		}
	})
}

// TestIntrospectionWithoutToken: token is a required parameter (RFC 7662
// §2.1); a request without it, or with it empty, is malformed: 400
// invalid_request (RFC 7662 §2.3, RFC 6749 §5.2), not an answer about a
// token, as the revocation endpoint answers (RFC 7009 §2.1).
func TestIntrospectionWithoutToken(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		for name, f := range map[string]url.Values{
			"token missing": {"token_type_hint": {"access_token"}},
			"token empty":   {"token": {""}},
		} {
			a := caPost(t, e.in.URL+"/oauth2/introspect", f, caBasic(e.client.ID, e.secret))
			if a.status != 400 || a.str("error") != "invalid_request" {
				t.Errorf("%s: %d %s, want 400 invalid_request", name, a.status, a.raw)
			}
			caNoStore(t, name, a)
		}
		// The client is authenticated first.
		caRefused(t, "token missing, wrong secret", caPost(t, e.in.URL+"/oauth2/introspect", url.Values{"token_type_hint": {"access_token"}}, caBasic(e.client.ID, "wrong")), true)
	})
}
