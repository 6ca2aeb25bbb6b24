package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	jose "github.com/go-jose/go-jose/v4"
)

// cli runs the admin commands in-process against one migrated database.
type cli struct {
	t    *testing.T
	vars map[string]string
}

// newCLI gives the test a fresh database of backend, migrated through the
// CLI, and GATEHOUSE_SECRET.
func newCLI(t *testing.T, backend string) *cli {
	t.Helper()
	c := &cli{t: t, vars: map[string]string{"GATEHOUSE_DSN": servertest.DSN(t, backend), "GATEHOUSE_SECRET": testSecret}}
	if out := c.ok("migrate", "up"); !strings.Contains(out, "applied") {
		t.Fatalf("migrate up: %q", out)
	}
	return c
}

// runIn runs gatehouse with stdin and the cli's variables.
func (c *cli) runIn(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, lookup: func(k string) (string, bool) {
		v, ok := c.vars[k]
		return v, ok
	}}
	code := run(context.Background(), args, e)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed silently on stderr; it returns stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.runIn("", args...)
	if code != 0 || errs != "" {
		c.t.Fatalf("gatehouse %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
	}
	return out
}

// okJSON runs a command that must succeed and decodes its stdout, which
// must be exactly one JSON document.
func (c *cli) okJSON(v any, args ...string) {
	c.t.Helper()
	out := c.ok(args...)
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(v); err != nil {
		c.t.Fatalf("gatehouse %q: stdout is not JSON: %v\n%s", args, err, out)
	}
	if dec.More() {
		c.t.Fatalf("gatehouse %q: more than one JSON document on stdout:\n%s", args, out)
	}
}

// fail runs a command that must exit with code and one line on stderr
// holding every want; it returns that line.
func (c *cli) fail(code int, wants []string, args ...string) string {
	c.t.Helper()
	return c.failIn("", code, wants, args...)
}

func (c *cli) failIn(stdin string, code int, wants []string, args ...string) string {
	c.t.Helper()
	got, out, errs := c.runIn(stdin, args...)
	if got != code {
		c.t.Fatalf("gatehouse %q: exit %d, want %d; stdout %q, stderr %q", args, got, code, out, errs)
	}
	if strings.Count(strings.TrimSpace(errs), "\n") != 0 || errs == "" {
		c.t.Fatalf("gatehouse %q: stderr is not one line: %q", args, errs)
	}
	for _, w := range wants {
		if !strings.Contains(errs, w) {
			c.t.Fatalf("gatehouse %q: stderr %q lacks %q", args, errs, w)
		}
	}
	if code == 1 && out != "" {
		c.t.Fatalf("gatehouse %q failed but printed on stdout: %q", args, out)
	}
	return errs
}

// store opens the test's database directly, to check what the CLI stored.
func (c *cli) store() (storage.Store, context.Context) {
	c.t.Helper()
	cfg := config.Default()
	cfg.DSN = c.vars["GATEHOUSE_DSN"]
	s, err := server.OpenStore(cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = s.Close() })
	return s, tenant.With(context.Background(), tenant.Default)
}

type created struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// createClient runs clients create --json and checks the output's shape.
func (c *cli) createClient(args ...string) created {
	c.t.Helper()
	var raw map[string]any
	c.okJSON(&raw, append([]string{"clients", "create", "--json"}, args...)...)
	var out created
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &out)
	for k := range raw {
		if k != "client_id" && k != "client_secret" {
			c.t.Fatalf("create --json printed key %q: %v", k, raw)
		}
	}
	if !regexp.MustCompile(`^[a-z0-9]{26}$`).MatchString(out.ClientID) {
		c.t.Fatalf("client_id %q is not 26 characters of [a-z0-9]", out.ClientID)
	}
	return out
}

func (c *cli) getClient(id string) clientJSON {
	c.t.Helper()
	var got clientJSON
	c.okJSON(&got, "clients", "get", "--json", id)
	return got
}

// storedHash returns the client's stored secret hash.
func (c *cli) storedHash(id string) []byte {
	c.t.Helper()
	s, ctx := c.store()
	cl, err := s.GetClient(ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl.SecretHash
}

// secretMatches reports whether secret is the one whose keyed hash is stored.
func (c *cli) secretMatches(id, secret string) bool {
	c.t.Helper()
	ring, err := keyring.New([]string{testSecret})
	if err != nil {
		c.t.Fatal(err)
	}
	return hmac.Equal(c.storedHash(id), ring.MAC(keyring.PurposeClientSecret, []byte(secret)))
}

var urlSafeSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{43,}$`)

func TestClientsCreate(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)

		conf := c.createClient("--name", "Web app", "--redirect-uri", "https://app.example.com/cb",
			"--redirect-uri", "http://127.0.0.1:8080/cb", "--post-logout-redirect-uri", "https://app.example.com/bye")
		if !urlSafeSecret.MatchString(conf.ClientSecret) {
			t.Fatalf("client_secret %q: want ≥ 43 URL-safe characters", conf.ClientSecret)
		}
		if !c.secretMatches(conf.ClientID, conf.ClientSecret) {
			t.Fatal("the printed secret is not the one stored")
		}
		got := c.getClient(conf.ClientID)
		if got.Name != "Web app" || got.Public || got.TokenEndpointAuthMethod != "client_secret_basic" ||
			!slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) ||
			!slices.Equal(got.RedirectURIs, []string{"https://app.example.com/cb", "http://127.0.0.1:8080/cb"}) ||
			!slices.Equal(got.PostLogoutRedirectURIs, []string{"https://app.example.com/bye"}) ||
			got.Scope != "openid profile email phone offline_access" || got.IDTokenAlg != "RS256" ||
			got.AccessTokenFormat != "opaque" || got.SkipConsent || got.Tenant != "default" {
			t.Fatalf("stored client: %+v", got)
		}

		pub := c.createClient("--name", "SPA", "--public", "--redirect-uri", "http://localhost:3000/cb")
		if pub.ClientSecret != "" {
			t.Fatalf("public client got a secret")
		}
		if got := c.getClient(pub.ClientID); !got.Public || got.TokenEndpointAuthMethod != "none" {
			t.Fatalf("public client: %+v", got)
		}
		if h := c.storedHash(pub.ClientID); len(h) != 0 {
			t.Fatalf("public client has a stored secret hash")
		}

		// Plain output: the two lines and the note.
		out := c.ok("clients", "create", "--name", "Plain", "--redirect-uri", "https://p.example.com/cb")
		m := regexp.MustCompile(`(?m)^client_id: ([a-z0-9]{26})\nclient_secret: ([A-Za-z0-9_-]{43,})\n`).FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "shown only this once") {
			t.Fatalf("plain create output: %q", out)
		}
		if !c.secretMatches(m[1], m[2]) {
			t.Fatal("plain output: the printed secret is not the one stored")
		}

		// Every setting: a private_key_jwt service client.
		jwks := filepath.Join(t.TempDir(), "jwks.json")
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		if err := os.WriteFile(jwks, set, 0o600); err != nil {
			t.Fatal(err)
		}
		svc := c.createClient("--name", "Billing", "--grant-type", "client_credentials", "--scope", "billing:read billing:write",
			"--audience", "https://api.example.com", "--token-endpoint-auth-method", "private_key_jwt", "--jwks", jwks,
			"--token-endpoint-auth-signing-alg", "ES256", "--id-token-alg", "ES256", "--access-token-format", "jwt", "--skip-consent")
		got = c.getClient(svc.ClientID)
		if !slices.Equal(got.GrantTypes, []string{"client_credentials"}) || got.Scope != "billing:read billing:write" ||
			!slices.Equal(got.Audience, []string{"https://api.example.com"}) || got.TokenEndpointAuthMethod != "private_key_jwt" ||
			got.TokenEndpointAuthSigningAlg != "ES256" || got.IDTokenAlg != "ES256" || got.AccessTokenFormat != "jwt" ||
			!got.SkipConsent || len(got.ResponseTypes) != 0 || !strings.Contains(string(got.JWKS), `"kid":"k1"`) {
			t.Fatalf("service client: %+v", got)
		}
		// A JWK set holding a private key is refused.
		priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k2", Algorithm: "ES256", Use: "sig"}}})
		_ = os.WriteFile(jwks, priv, 0o600)
		c.fail(1, []string{"jwks: holds a private key"}, "clients", "create", "--name", "Leaky", "--grant-type", "client_credentials",
			"--token-endpoint-auth-method", "private_key_jwt", "--jwks", jwks)
	})
}

func TestClientsValidation(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		tests := []struct {
			name  string
			code  int
			wants []string
			args  []string
		}{
			{"http redirect off loopback", 1, []string{"redirect_uri", "http is allowed only on loopback"},
				[]string{"--name", "x", "--redirect-uri", "http://app.example.com/cb"}},
			{"fragment", 1, []string{"redirect_uri", "must not contain a fragment"},
				[]string{"--name", "x", "--redirect-uri", "https://app.example.com/cb#frag"}},
			{"public client_credentials", 1, []string{"grant_type: client_credentials needs a confidential client"},
				[]string{"--name", "x", "--public", "--grant-type", "client_credentials"}},
			{"unknown grant type", 1, []string{`grant_type: "implicit" is not supported`},
				[]string{"--name", "x", "--grant-type", "implicit", "--redirect-uri", "https://a.example.com/cb"}},
			{"no redirect for code", 1, []string{"redirect_uri: at least one is required"}, []string{"--name", "x"}},
			{"every problem at once", 1, []string{"redirect_uri", "id_token_signed_response_alg", "access_token_format"},
				[]string{"--name", "x", "--redirect-uri", "ftp://x", "--id-token-alg", "HS256", "--access-token-format", "paseto"}},
			{"none for confidential", 1, []string{"token_endpoint_auth_method: none is for public clients"},
				[]string{"--name", "x", "--grant-type", "client_credentials", "--token-endpoint-auth-method", "none"}},
			{"private_key_jwt without keys", 1, []string{"jwks:", "--jwks FILE"},
				[]string{"--name", "x", "--grant-type", "client_credentials", "--token-endpoint-auth-method", "private_key_jwt"}},
			{"missing jwks file", 1, []string{"--jwks"},
				[]string{"--name", "x", "--jwks", filepath.Join(t.TempDir(), "none.json")}},
			{"missing name", 2, []string{"--name is required"}, []string{"--redirect-uri", "https://a.example.com/cb"}},
			{"unknown flag", 2, []string{"flag provided but not defined"}, []string{"--name", "x", "--colour", "red"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c.t = t
				c.fail(tc.code, tc.wants, append([]string{"clients", "create"}, tc.args...)...)
			})
		}
		c.t = t
		var all []clientJSON
		c.okJSON(&all, "clients", "list", "--json")
		if len(all) != 0 {
			t.Fatalf("failed creates stored clients: %+v", all)
		}
	})
}

func TestClientsLifecycle(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		if out := c.ok("clients", "list"); !strings.Contains(out, "no clients") {
			t.Fatalf("empty list: %q", out)
		}
		a := c.createClient("--name", "Alpha", "--redirect-uri", "https://a.example.com/cb", "--audience", "api", "--skip-consent")
		b := c.createClient("--name", "Beta app", "--public", "--redirect-uri", "https://b.example.com/cb")

		// list: table and JSON, no secret or hash.
		out := c.ok("clients", "list")
		for _, want := range []string{"CLIENT ID", a.ClientID, "Alpha", "confidential", b.ClientID, "Beta app", "public", "authorization_code,refresh_token"} {
			if !strings.Contains(out, want) {
				t.Fatalf("list lacks %q:\n%s", want, out)
			}
		}
		var all []map[string]any
		c.okJSON(&all, "clients", "list", "--json")
		if len(all) != 2 {
			t.Fatalf("list --json: %d clients", len(all))
		}
		for _, cl := range all {
			for k := range cl {
				if strings.Contains(k, "secret") || strings.Contains(k, "hash") {
					t.Fatalf("list --json exposes %q", k)
				}
			}
		}
		raw := c.ok("clients", "list", "--json")
		if strings.Contains(raw, a.ClientSecret) {
			t.Fatal("list --json prints the secret")
		}

		// get: plain, and the id before or after the flags.
		out = c.ok("clients", "get", a.ClientID)
		if !regexp.MustCompile(`(?m)^name:\s+Alpha$`).MatchString(out) || !regexp.MustCompile(`(?m)^type:\s+confidential$`).MatchString(out) {
			t.Fatalf("get: %q", out)
		}
		var after clientJSON
		c.okJSON(&after, "clients", "get", a.ClientID, "--json")
		if after.ClientID != a.ClientID {
			t.Fatalf("get ID --json: %+v", after)
		}
		c.fail(2, []string{"want the client id"}, "clients", "get")
		c.fail(2, []string{"unexpected argument"}, "clients", "get", a.ClientID, b.ClientID)

		// update: only what is given changes.
		var upd clientJSON
		c.okJSON(&upd, "clients", "update", a.ClientID, "--json", "--name", "Alpha 2", "--redirect-uri", "https://a.example.com/cb2",
			"--redirect-uri", "https://a.example.com/cb3", "--scope", "openid email", "--access-token-format", "jwt")
		got := c.getClient(a.ClientID)
		if got.Name != "Alpha 2" || !slices.Equal(got.RedirectURIs, []string{"https://a.example.com/cb2", "https://a.example.com/cb3"}) ||
			got.Scope != "openid email" || got.AccessTokenFormat != "jwt" || upd.Name != "Alpha 2" {
			t.Fatalf("after update: %+v", got)
		}
		if !slices.Equal(got.Audience, []string{"api"}) || !got.SkipConsent || got.TokenEndpointAuthMethod != "client_secret_basic" ||
			!slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) {
			t.Fatalf("update changed what was not given: %+v", got)
		}
		if !c.secretMatches(a.ClientID, a.ClientSecret) {
			t.Fatal("update changed the secret")
		}
		c.fail(1, []string{"audience", "JWT access tokens"}, "clients", "update", "--audience", "", a.ClientID)
		c.ok("clients", "update", "--audience", "", "--access-token-format", "opaque", "--skip-consent=false", a.ClientID)
		if got := c.getClient(a.ClientID); len(got.Audience) != 0 || got.SkipConsent || got.AccessTokenFormat != "opaque" {
			t.Fatalf("clearing audience and skip-consent: %+v", got)
		}
		c.fail(1, []string{"redirect_uri", "fragment"}, "clients", "update", a.ClientID, "--redirect-uri", "https://a.example.com/#x")
		c.fail(1, []string{"public: a client cannot change"}, "clients", "update", a.ClientID, "--public")
		c.fail(2, []string{"nothing to change"}, "clients", "update", a.ClientID, "--json")
		c.fail(1, []string{"no client with id nosuch"}, "clients", "update", "nosuch", "--name", "x")
		if got := c.getClient(a.ClientID); !slices.Equal(got.RedirectURIs, []string{"https://a.example.com/cb2", "https://a.example.com/cb3"}) || got.Public {
			t.Fatalf("a failed update changed the client: %+v", got)
		}

		// rotate-secret: a new secret replaces the stored hash.
		before := c.storedHash(a.ClientID)
		var rot created
		c.okJSON(&rot, "clients", "rotate-secret", "--json", a.ClientID)
		if rot.ClientID != a.ClientID || !urlSafeSecret.MatchString(rot.ClientSecret) || rot.ClientSecret == a.ClientSecret {
			t.Fatalf("rotate-secret: %+v", rot)
		}
		if bytes.Equal(before, c.storedHash(a.ClientID)) {
			t.Fatal("rotate-secret left the stored hash unchanged")
		}
		if !c.secretMatches(a.ClientID, rot.ClientSecret) || c.secretMatches(a.ClientID, a.ClientSecret) {
			t.Fatal("after rotate-secret the new secret must match and the old one must not")
		}
		out = c.ok("clients", "rotate-secret", a.ClientID)
		m := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
		if m == nil || !c.secretMatches(a.ClientID, m[1]) {
			t.Fatalf("plain rotate-secret: %q", out)
		}
		c.fail(1, []string{"a public client has no secret"}, "clients", "rotate-secret", b.ClientID)

		// delete: gone from get and list; a second delete fails.
		if out := c.ok("clients", "delete", a.ClientID); !strings.Contains(out, "deleted client "+a.ClientID) {
			t.Fatalf("delete: %q", out)
		}
		c.fail(1, []string{"no client with id " + a.ClientID}, "clients", "get", a.ClientID)
		c.fail(1, []string{"no client with id " + a.ClientID}, "clients", "delete", a.ClientID)
		var rest []clientJSON
		c.okJSON(&rest, "clients", "list", "--json")
		if len(rest) != 1 || rest[0].ClientID != b.ClientID {
			t.Fatalf("after delete: %+v", rest)
		}
	})
}

func TestUsersCreate(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		var u struct {
			UserID string `json:"user_id"`
			Email  string `json:"email"`
		}
		c.okJSON(&u, "users", "create", "--email", "Ann@Example.com", "--password", "correct horse battery", "--name", "Ann", "--verified", "--json")
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(u.UserID) || u.Email != "Ann@Example.com" {
			t.Fatalf("users create --json: %+v", u)
		}
		s, ctx := c.store()
		stored, err := s.GetUserByEmail(ctx, "ann@example.com")
		if err != nil || stored.ID != u.UserID || !stored.EmailVerified || stored.Name != "Ann" {
			t.Fatalf("stored user %+v, %v", stored, err)
		}

		c.fail(1, []string{"EMAIL_ALREADY_EXISTS", "already exists"}, "users", "create", "--email", "ann@example.COM", "--password", "another password")
		c.fail(1, []string{"INVALID_PASSWORD", "too_short"}, "users", "create", "--email", "bob@example.com", "--password", "short")
		c.fail(1, []string{"INVALID_EMAIL"}, "users", "create", "--email", "not-an-email", "--password", "long enough to pass")

		// --password-stdin: the first line, without its line break.
		code, out, errs := c.runIn("stdin secret number 1\r\nsecond line\n", "users", "create", "--email", "carol@example.com", "--password-stdin")
		m := regexp.MustCompile(`^user_id: (\S+)\n$`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("--password-stdin: exit %d, %q, %q", code, out, errs)
		}
		carol, err := s.GetUserByEmail(ctx, "carol@example.com")
		if err != nil || carol.ID != m[1] || carol.EmailVerified {
			t.Fatalf("stored carol %+v, %v", carol, err)
		}
		cred, err := s.GetCredential(ctx, carol.ID, storage.CredentialPassword)
		if err != nil {
			t.Fatal(err)
		}
		h := login.NewHasher(login.DefaultArgon2, 0, 0)
		for pw, want := range map[string]bool{"stdin secret number 1": true, "stdin secret number 1\r": false, "stdin secret number 1\r\nsecond line": false} {
			if ok, _, err := h.Verify(ctx, cred.Secret, pw); err != nil || ok != want {
				t.Errorf("password %q verifies %v, want %v (%v)", pw, ok, want, err)
			}
		}
		c.failIn("", 1, []string{"--password-stdin", "no password"}, "users", "create", "--email", "dan@example.com", "--password-stdin")
		c.fail(2, []string{"--password or --password-stdin"}, "users", "create", "--email", "dan@example.com")
		c.fail(2, []string{"not both"}, "users", "create", "--email", "dan@example.com", "--password", "x", "--password-stdin")
		c.fail(2, []string{"--email is required"}, "users", "create", "--password", "long enough to pass")
		if _, err := s.GetUserByEmail(ctx, "dan@example.com"); err == nil {
			t.Fatal("a failed create stored the user")
		}
	})
}

type keyRow struct {
	KID       string     `json:"kid"`
	Alg       string     `json:"alg"`
	State     string     `json:"state"`
	RetiredAt *time.Time `json:"retired_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type rotation struct {
	Alg        string `json:"alg"`
	KID        string `json:"kid"`
	RetiredKID string `json:"retired_kid"`
}

func (c *cli) keys() map[string]keyRow {
	c.t.Helper()
	var rows []keyRow
	c.okJSON(&rows, "keys", "list", "--json")
	out := map[string]keyRow{}
	for _, r := range rows {
		out[r.KID] = r
	}
	return out
}

func TestKeys(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		if out := c.ok("keys", "list"); !strings.Contains(out, "no signing keys") {
			t.Fatalf("keys list on a fresh database: %q", out)
		}
		if len(c.keys()) != 0 {
			t.Fatal("fresh database has keys")
		}

		// Rotating twice: the active kid changes each time and the one
		// active before is retired.
		var first, second []rotation
		c.okJSON(&first, "keys", "rotate", "--alg", "RS256", "--force", "--json")
		if len(first) != 1 || first[0].Alg != "RS256" || first[0].KID == "" {
			t.Fatalf("first rotate: %+v", first)
		}
		keys := c.keys()
		if k := keys[first[0].KID]; k.State != "active" || k.Alg != "RS256" {
			t.Fatalf("after the first rotate %s is %+v", first[0].KID, k)
		}
		c.okJSON(&second, "keys", "rotate", "--alg", "RS256", "--force", "--json")
		if len(second) != 1 || second[0].KID == first[0].KID || second[0].RetiredKID != first[0].KID {
			t.Fatalf("second rotate: %+v after %+v", second, first)
		}
		keys = c.keys()
		if k := keys[second[0].KID]; k.State != "active" {
			t.Fatalf("new active key %+v", k)
		}
		if k := keys[first[0].KID]; k.State != "retired" || k.RetiredAt == nil || k.ExpiresAt == nil || !k.ExpiresAt.After(time.Now()) {
			t.Fatalf("previously active key %+v, want retired and still published", k)
		}
		out := c.ok("keys", "list")
		if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(first[0].KID)+`\s+RS256\s+retired\s`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(second[0].KID)+`\s+RS256\s+active\s`).MatchString(out) {
			t.Fatalf("keys list table:\n%s", out)
		}
		if strings.Contains(out, "PRIVATE") || strings.Contains(c.ok("keys", "list", "--json"), "private") {
			t.Fatal("keys list prints private key material")
		}

		// Without --alg both algorithms rotate.
		var both []rotation
		c.okJSON(&both, "keys", "rotate", "--force", "--json")
		if len(both) != 2 || both[0].Alg != "RS256" || both[1].Alg != "ES256" || both[0].RetiredKID != second[0].KID {
			t.Fatalf("rotate both: %+v", both)
		}
		keys = c.keys()
		count := map[string]int{}
		for _, k := range keys {
			count[k.Alg+" "+k.State]++
		}
		for _, alg := range []string{"RS256", "ES256"} {
			if count[alg+" active"] != 1 || count[alg+" next"] != 1 {
				t.Fatalf("%s keys: %v", alg, count)
			}
		}
		for _, r := range both {
			if keys[r.KID].State != "active" || keys[r.RetiredKID].State != "retired" {
				t.Fatalf("%s: %+v", r.Alg, keys)
			}
		}
		var es []keyRow
		c.okJSON(&es, "keys", "list", "--alg", "ES256", "--json")
		for _, k := range es {
			if k.Alg != "ES256" {
				t.Fatalf("--alg ES256 listed %+v", k)
			}
		}
		c.fail(2, []string{"--alg", "RS256 or ES256"}, "keys", "rotate", "--alg", "HS256")
		// Without --force a next key published moments ago is not promoted.
		c.fail(1, []string{"published too recently"}, "keys", "rotate", "--alg", "RS256")

		// Another secret opens none of the keys: refused before anything
		// is written.
		c.vars["GATEHOUSE_SECRET"] = "another-secret-0123456789abcdefghijklmnop"
		c.fail(1, []string{"GATEHOUSE_SECRET", "does not open the tenant's signing keys"}, "keys", "rotate")
		c.fail(1, []string{"GATEHOUSE_SECRET"}, "clients", "create", "--name", "x", "--grant-type", "client_credentials")
		c.vars["GATEHOUSE_SECRET"] = testSecret
		if after := c.keys(); len(after) != len(keys) {
			t.Fatalf("a refused rotate changed the keys: %d → %d", len(keys), len(after))
		}
		var cl []clientJSON
		if c.okJSON(&cl, "clients", "list", "--json"); len(cl) != 0 {
			t.Fatalf("a refused create stored a client")
		}
	})
}

// TestAdminTenants: --tenant scopes every command; an unknown tenant is one
// line, exit 1.
func TestAdminTenants(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		for _, args := range [][]string{
			{"clients", "list"}, {"clients", "create", "--name", "x", "--grant-type", "client_credentials"},
			{"clients", "get", "abc"}, {"clients", "update", "abc", "--name", "y"}, {"clients", "delete", "abc"},
			{"clients", "rotate-secret", "abc"}, {"users", "create", "--email", "a@example.com", "--password", "long enough to pass"},
			{"keys", "list"}, {"keys", "rotate"},
		} {
			c.fail(1, []string{`--tenant: no tenant "nosuch"`}, append(args, "--tenant", "nosuch")...)
		}
		c.fail(2, []string{"--tenant", "not a tenant id"}, "clients", "list", "--tenant", "Bad_Tenant")

		s, _ := c.store()
		if err := s.CreateTenant(context.Background(), storage.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		inAcme := c.createClient("--tenant", "acme", "--name", "Acme app", "--redirect-uri", "https://acme.example.com/cb")
		if got := c.getClientIn("acme", inAcme.ClientID); got.Tenant != "acme" || got.Name != "Acme app" {
			t.Fatalf("acme client: %+v", got)
		}
		c.fail(1, []string{"no client with id"}, "clients", "get", inAcme.ClientID)
		var def []clientJSON
		c.okJSON(&def, "clients", "list", "--json")
		if len(def) != 0 {
			t.Fatalf("default tenant lists acme's client: %+v", def)
		}
		c.ok("users", "create", "--tenant", "acme", "--email", "a@example.com", "--password", "long enough to pass")
		c.ok("users", "create", "--email", "a@example.com", "--password", "long enough to pass") // another tenant, another account
		var rot []rotation
		c.okJSON(&rot, "keys", "rotate", "--tenant", "acme", "--alg", "ES256", "--force", "--json")
		if len(c.keys()) != 0 {
			t.Fatal("rotating acme's keys gave the default tenant keys")
		}
	})
}

func (c *cli) getClientIn(tenantID, id string) clientJSON {
	c.t.Helper()
	var got clientJSON
	c.okJSON(&got, "clients", "get", "--tenant", tenantID, "--json", id)
	return got
}

// TestAdminConfig: what the admin commands need is one line naming the
// variable.
func TestAdminConfig(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"no DSN", map[string]string{"GATEHOUSE_SECRET": testSecret}, "GATEHOUSE_DSN: required"},
		{"memory DSN", map[string]string{"GATEHOUSE_DSN": "memory", "GATEHOUSE_SECRET": testSecret}, "GATEHOUSE_DSN: memory"},
		{"no secret", map[string]string{"GATEHOUSE_DSN": dsn}, "GATEHOUSE_SECRET: required"},
		{"short secret", map[string]string{"GATEHOUSE_DSN": dsn, "GATEHOUSE_SECRET": "short"}, "GATEHOUSE_SECRET"},
		{"not migrated", map[string]string{"GATEHOUSE_DSN": dsn, "GATEHOUSE_SECRET": testSecret}, "run gatehouse migrate up"},
		{"unreachable", map[string]string{"GATEHOUSE_DSN": "postgres://postgres@127.0.0.1:1/x?connect_timeout=2", "GATEHOUSE_SECRET": testSecret}, "GATEHOUSE_DSN: database unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{t: t, vars: tc.vars}
			for _, args := range [][]string{{"clients", "list"}, {"users", "create", "--email", "a@example.com", "--password", "long enough to pass"}, {"keys", "list"}} {
				c.fail(1, []string{tc.want}, args...)
			}
		})
	}
}

// TestAdminDev: --dev uses the development database and the secret file
// serve --dev uses, so consecutive commands agree.
func TestAdminDev(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c := &cli{t: t, vars: map[string]string{}}
	c.ok("migrate", "up", "--dev")
	var rot []rotation
	c.okJSON(&rot, "keys", "rotate", "--dev", "--force", "--json")
	if _, err := os.Stat(filepath.Join(dir, config.DevSecretFile)); err != nil {
		t.Fatalf("no dev secret file: %v", err)
	}
	// The second command reads the same secret: the keys open.
	cl := c.createClient("--dev", "--name", "Dev", "--redirect-uri", "http://localhost:3000/cb")
	if got := c.getClientDev(cl.ClientID); got.Name != "Dev" {
		t.Fatalf("dev client %+v", got)
	}
}

func (c *cli) getClientDev(id string) clientJSON {
	c.t.Helper()
	var got clientJSON
	c.okJSON(&got, "clients", "get", "--dev", "--json", id)
	return got
}

func TestAdminHelp(t *testing.T) {
	for _, args := range [][]string{
		{"clients", "--help"}, {"help", "clients"}, {"clients", "create", "--help"}, {"clients", "list", "--help"},
		{"clients", "get", "--help"}, {"clients", "update", "-h"}, {"clients", "delete", "--help"},
		{"clients", "rotate-secret", "--help"}, {"users", "--help"}, {"users", "create", "--help"},
		{"keys", "--help"}, {"keys", "list", "--help"}, {"keys", "rotate", "--help"},
	} {
		code, out, errs := gatehouse(t, context.Background(), nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") || errs != "" {
			t.Errorf("gatehouse %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
		if len(args) == 3 && !strings.Contains(out, "-tenant") {
			t.Errorf("gatehouse %q lacks --tenant:\n%s", args, out)
		}
	}
	if _, out, _ := gatehouse(t, context.Background(), nil, "users", "create", "--help"); !strings.Contains(out, "shell history") {
		t.Errorf("users create --help does not explain --password-stdin:\n%s", out)
	}
	_, out, _ := gatehouse(t, context.Background(), nil, "--help")
	for _, cmd := range []string{"clients", "users", "keys"} {
		if !regexp.MustCompile(`(?m)^  ` + cmd + `\s+\S`).MatchString(out) {
			t.Errorf("gatehouse --help does not list %s:\n%s", cmd, out)
		}
	}
	for _, args := range [][]string{{"clients"}, {"clients", "frob"}, {"users"}, {"keys", "nope"}} {
		if code, _, errs := gatehouse(t, context.Background(), nil, args...); code != 2 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("gatehouse %q: exit %d, stderr %q; want 2 and one line", args, code, errs)
		}
	}
}
