package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	jose "github.com/go-jose/go-jose/v4"
)

// Attack tests for the CLI: wrong calls, hostile input and secrets that
// must not leak. They reuse the cli helpers of admin_test.go.

// runSafe runs the CLI in-process with the given writers and fails the
// test, instead of crashing it, when the command panics.
func runSafe(t *testing.T, ctx context.Context, vars map[string]string, stdin string, stdout, stderr io.Writer, args ...string) (code int) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("gatehouse %q panicked: %v", args, p)
		}
	}()
	e := &env{stdin: strings.NewReader(stdin), stdout: stdout, stderr: stderr, lookup: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}}
	return run(ctx, args, e)
}

// oneLineErr checks that stderr is exactly one line.
func oneLineErr(t *testing.T, args []string, errs string) {
	t.Helper()
	if errs == "" || strings.Count(strings.TrimSuffix(errs, "\n"), "\n") != 0 || !strings.HasSuffix(errs, "\n") {
		t.Fatalf("gatehouse %q: stderr is not one line: %q", args, errs)
	}
}

// TestAttackUsageErrors proves that every command called with a missing,
// extra or unknown flag or argument exits 2 (errUsage, cli.go) with one
// line on stderr naming the command and what is wrong, before it reads
// any configuration (no variables are set: a command that went on would
// fail with exit 1 on GATEHOUSE_DSN), and never panics.
func TestAttackUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "extra"}, `gatehouse serve: usage: unexpected argument "extra"`},
		{[]string{"serve", "--config"}, "gatehouse serve: usage: flag needs an argument: -config"},
		{[]string{"serve", "--dev=maybe"}, `gatehouse serve: usage: invalid boolean value "maybe" for -dev`},
		{[]string{"serve", "--dev", "--dev", "x"}, `gatehouse serve: usage: unexpected argument "x"`},
		{[]string{"migrate"}, "gatehouse migrate: usage: want `migrate up` or `migrate status`"},
		{[]string{"migrate", "down"}, `gatehouse migrate: usage: unknown migrate command "down" (want up or status)`},
		{[]string{"migrate", "--nope"}, `gatehouse migrate: usage: unknown migrate command "--nope"`},
		{[]string{"migrate", "up", "extra"}, `gatehouse migrate: usage: unexpected argument "extra"`},
		{[]string{"migrate", "status", "--nope"}, "gatehouse migrate: usage: flag provided but not defined: -nope"},
		{[]string{"version", "extra"}, `gatehouse version: usage: unexpected argument "extra"`},
		{[]string{"version", "--short"}, "gatehouse version: usage: flag provided but not defined: -short"},
		{[]string{"health", "extra"}, `gatehouse health: usage: unexpected argument "extra"`},
		{[]string{"health", "--url"}, "gatehouse health: usage: flag needs an argument: -url"},
		{[]string{"health", "--url", "::"}, "gatehouse health: usage: --url: "},
		{[]string{"janitor", "extra"}, `gatehouse janitor: usage: unexpected argument "extra"`},
		{[]string{"janitor", "--batch", "-1"}, "gatehouse janitor: usage: --batch: want 1..10000, got -1"},
		{[]string{"janitor", "--json=maybe"}, `gatehouse janitor: usage: invalid boolean value "maybe" for -json`},
		{[]string{"janitor", "--tenant", "acme"}, "gatehouse janitor: usage: flag provided but not defined: -tenant"},
		{[]string{"clients"}, "gatehouse clients: usage: want gatehouse clients create|list|get|update|delete|rotate-secret"},
		{[]string{"clients", "CREATE"}, `gatehouse clients: usage: unknown clients command "CREATE"`},
		{[]string{"clients", "--tenant", "acme"}, `gatehouse clients: usage: unknown clients command "--tenant"`},
		{[]string{"clients", "create"}, "gatehouse clients: usage: --name is required"},
		{[]string{"clients", "create", "--name", " \t "}, "gatehouse clients: usage: --name is required"},
		{[]string{"clients", "create", "--name", "x", "extra"}, `gatehouse clients: usage: unexpected argument "extra"`},
		{[]string{"clients", "create", "--name", "x", "--redirect-uri"}, "gatehouse clients: usage: flag needs an argument: -redirect-uri"},
		{[]string{"clients", "create", "--name", "x", "--public=perhaps"}, `gatehouse clients: usage: invalid boolean value "perhaps" for -public`},
		{[]string{"clients", "list", "extra"}, `gatehouse clients: usage: unexpected argument "extra"`},
		{[]string{"clients", "list", "--tenant", ""}, `gatehouse clients: usage: --tenant: "" is not a tenant id`},
		{[]string{"clients", "list", "--tenant", "../default"}, `gatehouse clients: usage: --tenant: "../default" is not a tenant id`},
		{[]string{"clients", "list", "--tenant", "DEFAULT"}, `gatehouse clients: usage: --tenant: "DEFAULT" is not a tenant id`},
		{[]string{"clients", "list", "--tenant", "a b"}, `gatehouse clients: usage: --tenant: "a b" is not a tenant id`},
		{[]string{"clients", "get"}, "gatehouse clients: usage: want the client id as an argument"},
		{[]string{"clients", "get", "--"}, "gatehouse clients: usage: want the client id as an argument"},
		{[]string{"clients", "get", "a", "b"}, `gatehouse clients: usage: unexpected argument "b" (want one client id)`},
		{[]string{"clients", "get", "a", "--", "b"}, `gatehouse clients: usage: unexpected argument "b"`},
		{[]string{"clients", "get", "--json", "--nope", "a"}, "gatehouse clients: usage: flag provided but not defined: -nope"},
		{[]string{"clients", "delete"}, "gatehouse clients: usage: want the client id as an argument"},
		{[]string{"clients", "delete", "a", "b"}, `gatehouse clients: usage: unexpected argument "b"`},
		{[]string{"clients", "delete", "--json", "a"}, "gatehouse clients: usage: flag provided but not defined: -json"},
		{[]string{"clients", "rotate-secret"}, "gatehouse clients: usage: want the client id as an argument"},
		{[]string{"clients", "rotate-secret", "a", "b"}, `gatehouse clients: usage: unexpected argument "b"`},
		{[]string{"clients", "update"}, "gatehouse clients: usage: want the client id as an argument"},
		{[]string{"clients", "update", "a"}, "gatehouse clients: usage: nothing to change"},
		{[]string{"clients", "update", "a", "--json", "--tenant", "default", "--dev"}, "gatehouse clients: usage: nothing to change"},
		{[]string{"clients", "update", "a", "--grant-type"}, "gatehouse clients: usage: flag needs an argument: -grant-type"},
		{[]string{"users"}, "gatehouse users: usage: want gatehouse users create"},
		{[]string{"users", "delete", "a@example.com"}, `gatehouse users: usage: unknown users command "delete"`},
		{[]string{"users", "create", "--email", "a@example.com", "--password", "long enough to pass", "extra"}, `gatehouse users: usage: unexpected argument "extra"`},
		{[]string{"users", "create", "--email", " ", "--password", "long enough to pass"}, "gatehouse users: usage: --email is required"},
		{[]string{"users", "create", "--email", "a@example.com", "--password-stdin=yes"}, `gatehouse users: usage: invalid boolean value "yes" for -password-stdin`},
		{[]string{"users", "create", "--email", "a@example.com", "--password", "", "--password-stdin"}, "gatehouse users: usage: give --password or --password-stdin, not both"},
		{[]string{"users", "create", "--email", "a@example.com", "--password", "long enough to pass", "--tenant", "Nope!"}, `gatehouse users: usage: --tenant: "Nope!" is not a tenant id`},
		{[]string{"keys"}, "gatehouse keys: usage: want gatehouse keys list|rotate"},
		{[]string{"keys", "delete"}, `gatehouse keys: usage: unknown keys command "delete"`},
		{[]string{"keys", "list", "extra"}, `gatehouse keys: usage: unexpected argument "extra"`},
		{[]string{"keys", "list", "--alg", "none"}, `gatehouse keys: usage: --alg: want RS256 or ES256, got "none"`},
		{[]string{"keys", "rotate", "--alg", "rs256"}, `gatehouse keys: usage: --alg: want RS256 or ES256, got "rs256"`},
		{[]string{"keys", "rotate", "--alg", "HS256"}, `gatehouse keys: usage: --alg: want RS256 or ES256, got "HS256"`},
		{[]string{"keys", "rotate", "--force=sometimes"}, `gatehouse keys: usage: invalid boolean value "sometimes" for -force`},
		{[]string{"keys", "rotate", "RS256"}, `gatehouse keys: usage: unexpected argument "RS256"`},
		{[]string{"help", "nosuch"}, `gatehouse: unknown command "nosuch" (see gatehouse --help)`},
		{[]string{""}, `gatehouse: unknown command ""`},
		{[]string{"--version"}, `gatehouse: unknown command "--version"`},
		{[]string{"-v"}, `gatehouse: unknown command "-v"`},
		{[]string{"Serve"}, `gatehouse: unknown command "Serve"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb strings.Builder
			code := runSafe(t, t.Context(), map[string]string{}, "", &out, &errb, tc.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q, stderr %q", code, out.String(), errb.String())
			}
			oneLineErr(t, tc.args, errb.String())
			if !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.want)
			}
			if strings.Contains(errb.String(), "goroutine ") {
				t.Fatalf("stack trace on stderr: %q", errb.String())
			}
		})
	}
	// A well-formed health check against nothing is "not ready" (exit 1),
	// not a usage error.
	var out, errb strings.Builder
	if code := runSafe(t, t.Context(), map[string]string{}, "", &out, &errb, "health", "--url", "http://127.0.0.1:1/health/ready"); code != 1 ||
		!strings.HasPrefix(errb.String(), "gatehouse health: not ready: ") || out.String() != "" {
		t.Fatalf("health against a closed port: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// verifies reports whether password opens the stored password hash of the
// account with the email (normalised).
func verifies(t *testing.T, c *cli, email, password string) bool {
	t.Helper()
	s, ctx := c.store()
	u, err := s.GetUserByEmail(ctx, email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	cred, err := s.GetCredential(ctx, u.ID, storage.CredentialPassword)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := login.NewHasher(login.DefaultArgon2, 0, 0).Verify(ctx, cred.Secret, password)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestAttackUsersCreate proves users create's refusals: an email that
// normalises (trimmed, NFC, lower-cased) to an existing account's is
// EMAIL_ALREADY_EXISTS; malformed emails are INVALID_EMAIL; passwords
// outside the policy are INVALID_PASSWORD with the reason (too_short
// counted in NFC characters, too_long past 256, contains_identifier for
// the email in another case); each exits 1 and stores nothing. And
// --password-stdin takes the first line without its line break and
// nothing else: blanks are part of the password, a missing final line
// break is fine, an empty first line is refused.
func TestAttackUsersCreate(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		c.ok("users", "create", "--email", "Ann.Lee@Ex\u00e4mple.com", "--password", "first password here")
		for _, email := range []string{
			"ann.lee@exa\u0308mple.com",     // NFD: a + combining diaeresis
			"  ANN.LEE@EX\u00c4MPLE.COM \t", // upper case, blanks around
			"\tann.lee@ex\u00e4mple.com\n",  // tab and line break around
			"Ann.Lee@EXA\u0308MPLE.com",     // NFD and upper case
		} {
			c.fail(1, []string{"gatehouse users: EMAIL_ALREADY_EXISTS: An account with this email address already exists. (providers=password)"},
				"users", "create", "--email", email, "--password", "second password")
		}

		for _, email := range []string{
			"ann", "ann@", "@example.com", "ann@example", "Ann <ann@example.com>", "ann@example.com, bob@example.com",
			"ann@@example.com", "ann lee@example.com", "ann\n@example.com", "ann@example.com\x00",
			strings.Repeat("a", 250) + "@example.com", "<ann@example.com>",
		} {
			c.fail(1, []string{"gatehouse users: INVALID_EMAIL: The email address is not valid. (field=email)"},
				"users", "create", "--email", email, "--password", "long enough to pass")
		}

		const policy = "gatehouse users: INVALID_PASSWORD: The password does not meet the password policy."
		tests := []struct {
			email, password, want string
		}{
			{"p1@example.com", "zq7-short-pw", "(max=256, min=15, reason=too_short)"},
			{"p2@example.com", strings.Repeat("e\u0301", 7), "reason=too_short"}, // 14 code points, 7 characters in NFC
			{"p3@example.com", strings.Repeat("p", 257), "(max=256, min=15, reason=too_long)"},
			{"p4@example.com", "", "reason=too_short"},
			{"Case.Check@Example.com", "CASE.CHECK@EXAMPLE.COM", "(reason=contains_identifier)"},
			{"p5@example.com", " p5@example.com ", "(reason=contains_identifier)"},
		}
		for _, tc := range tests {
			c.fail(1, []string{policy, tc.want}, "users", "create", "--email", tc.email, "--password", tc.password)
		}
		s, ctx := c.store()
		for _, email := range []string{"p1@example.com", "p2@example.com", "p3@example.com", "p4@example.com", "case.check@example.com", "p5@example.com", "ann"} {
			if _, err := s.GetUserByEmail(ctx, email); err == nil {
				t.Fatalf("a refused create stored %s", email)
			}
		}
		c.ok("users", "create", "--email", "max@example.com", "--password", strings.Repeat("p", 256))

		// --password-stdin.
		c.failIn("\nsecond line\n", 1, []string{"gatehouse users: --password-stdin: standard input holds no password"},
			"users", "create", "--email", "empty@example.com", "--password-stdin")
		c.failIn("\r\n", 1, []string{"--password-stdin: standard input holds no password"},
			"users", "create", "--email", "empty@example.com", "--password-stdin")
		code, out, errs := c.runIn("  spaced pass  \nnext\n", "users", "create", "--email", "spaces@example.com", "--password-stdin")
		if code != 0 || !regexp.MustCompile(`^user_id: \S+\n$`).MatchString(out) || errs != "" {
			t.Fatalf("stdin with blanks: exit %d, %q, %q", code, out, errs)
		}
		if !verifies(t, c, "spaces@example.com", "  spaced pass  ") || verifies(t, c, "spaces@example.com", "spaced pass") {
			t.Fatal("--password-stdin changed the blanks of the line (want them kept: only the line break is dropped)")
		}
		if code, out, errs := c.runIn("no final line break", "users", "create", "--email", "eof@example.com", "--password-stdin"); code != 0 || errs != "" {
			t.Fatalf("stdin without a final line break: exit %d, %q, %q", code, out, errs)
		}
		if !verifies(t, c, "eof@example.com", "no final line break") {
			t.Fatal("stdin without a final line break: stored another password")
		}
	})
}

// TestAttackUsersCreateCommonPassword proves that users create refuses a
// password from the common/breached list with INVALID_PASSWORD
// reason=common, as SECURITY.md ("common/breached list checked") and the
// error catalog (reason `common`) require.
func TestAttackUsersCreateCommonPassword(t *testing.T) {
	c := newCLI(t, "sqlite")
	for i, pw := range []string{"password", "12345678", "qwertyuiop", "password123"} {
		email := fmt.Sprintf("common%d@example.com", i)
		code, out, errs := c.runIn("", "users", "create", "--email", email, "--password", pw)
		if code != 1 || !strings.Contains(errs, "INVALID_PASSWORD") || !strings.Contains(errs, "reason=common") {
			t.Errorf("users create --password %q: exit %d, stdout %q, stderr %q; want exit 1 INVALID_PASSWORD (reason=common)", pw, code, out, errs)
		}
	}
}

// TestAttackClientsRedirectURIs proves that registration refuses, for
// --redirect-uri and --post-logout-redirect-uri alike, every redirect URI
// SECURITY.md and docs/architecture.md rule out: script/data/file schemes
// (in any case), fragments (even an empty one), http off loopback
// (including look-alike hosts), user info (including the
// localhost:port@evil trick), relative URIs, hosts missing, wildcard
// hosts (RFC 9700 §2.1: exact matching, no patterns), and control
// characters. Each is exit 1, INVALID_REQUEST naming the field and the URI,
// and no client is stored.
func TestAttackClientsRedirectURIs(t *testing.T) {
	c := newCLI(t, "sqlite")
	const scheme = "scheme must be https, loopback http, or a reverse-domain private-use scheme"
	tests := []struct{ uri, want string }{
		{"javascript:alert(1)", scheme},
		{"JavaScript:alert(document.cookie)", scheme},
		{"data:text/html,<script>alert(1)</script>", scheme},
		{"file:///etc/passwd", scheme},
		{"vbscript:msgbox(1)", scheme},
		{"https://app.example.com/cb#", "must not contain a fragment"},
		{"https://app.example.com/cb#access_token=x", "must not contain a fragment"},
		{"http://app.example.com/cb", "http is allowed only on loopback"},
		{"http://localhost.evil.example/cb", "http is allowed only on loopback"},
		{"http://127.0.0.1.nip.io/cb", "http is allowed only on loopback"},
		{"http://0.0.0.0:3000/cb", "http is allowed only on loopback"},
		{"https://user:pw@app.example.com/cb", "must not contain user info"},
		{"http://localhost:3000@evil.example/cb", "must not contain user info"},
		{"/relative/cb", "not an absolute URI"},
		{"app.example.com/cb", "not an absolute URI"},
		{"https:///cb", "has no host"},
		{"https://*.example.com/cb", "must not contain a wildcard (redirect URIs are matched exactly)"},
		{"https://app*.example.com/cb", "must not contain a wildcard (redirect URIs are matched exactly)"},
		{"https://app.example.com/cb\r\nLocation: https://evil.example", "not an absolute URI"},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			c.t = t
			field := `redirect_uri: ` + strconv.Quote(tc.uri) + ": " + tc.want
			c.fail(1, []string{"gatehouse clients: INVALID_REQUEST: " + field},
				"clients", "create", "--name", "x", "--redirect-uri", tc.uri)
			c.fail(1, []string{"gatehouse clients: INVALID_REQUEST: post_logout_" + field},
				"clients", "create", "--name", "x", "--redirect-uri", "https://ok.example.com/cb", "--post-logout-redirect-uri", tc.uri)
		})
	}
	c.t = t
	c.noClients()
}

// TestAttackClientsGrantTypes proves that only authorization_code,
// refresh_token and client_credentials register: the password grant,
// implicit (also inside a comma list), device and JWT-bearer grants and a
// differently cased name are exit 1, INVALID_REQUEST naming grant_type.
func TestAttackClientsGrantTypes(t *testing.T) {
	c := newCLI(t, "sqlite")
	for _, tc := range []struct{ flag, bad string }{
		{"password", "password"},
		{"authorization_code,implicit", "implicit"},
		{"token", "token"},
		{"Authorization_Code", "Authorization_Code"},
		{"urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:device_code"},
		{"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
		{"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:token-exchange"},
	} {
		c.fail(1, []string{"gatehouse clients: INVALID_REQUEST: ", `grant_type: "` + tc.bad + `" is not supported (authorization_code, refresh_token, client_credentials)`},
			"clients", "create", "--name", "x", "--redirect-uri", "https://a.example.com/cb", "--grant-type", tc.flag)
	}
	c.noClients()
}

// jwksFile writes a JWK set of keys to a file and returns its path.
func jwksFile(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return rawFile(t, string(raw))
}

func rawFile(t *testing.T, body string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "jwks-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(body); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	return f.Name()
}

// privateD returns the private exponent ("d") of a private JWK, the value
// that must never be stored or printed.
func privateD(t *testing.T, k jose.JSONWebKey) string {
	t.Helper()
	raw, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	d, _ := m["d"].(string)
	if d == "" {
		t.Fatal("fixture key has no d")
	}
	return d
}

// TestAttackClientsPrivateJWKSAnyAuthMethod proves that a client never
// registers private key material, whatever its authentication method: a
// JWK set holding a private key is refused not only for private_key_jwt
// (TestClientsCreate) but also when --jwks comes with the default
// client_secret_basic, with --public, or in clients update; nothing is
// stored, and the private key is never printed back.
func TestAttackClientsPrivateJWKSAnyAuthMethod(t *testing.T) {
	c := newCLI(t, "sqlite")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv := jose.JSONWebKey{Key: key, KeyID: "leak", Algorithm: "ES256", Use: "sig"}
	d := privateD(t, priv)
	path := jwksFile(t, priv)

	for name, args := range map[string][]string{
		"client_secret_basic (default)": {"--name", "basic", "--grant-type", "client_credentials", "--jwks", path},
		"client_secret_post":            {"--name", "post", "--grant-type", "client_credentials", "--token-endpoint-auth-method", "client_secret_post", "--jwks", path},
		"public":                        {"--name", "spa", "--public", "--redirect-uri", "https://spa.example.com/cb", "--jwks", path},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"clients", "create", "--json"}, args...)
			code, out, errs := c.runIn("", args...)
			if strings.Contains(out+errs, d) {
				t.Errorf("the private key's d was printed: stdout %q stderr %q", out, errs)
			}
			if code != 1 || !strings.Contains(errs, "jwks: holds a private key") || out != "" {
				t.Errorf("gatehouse %q: exit %d, stdout %q, stderr %q; want exit 1 and \"jwks: holds a private key\"", args, code, out, errs)
			}
		})
	}

	// update: a client_secret_basic client given a private JWK set.
	c.t = t
	basic := c.createClient("--name", "basic", "--grant-type", "client_credentials")
	code, out, errs := c.runIn("", "clients", "update", basic.ClientID, "--jwks", path)
	if code != 1 || !strings.Contains(errs, "jwks: holds a private key") {
		t.Errorf("clients update --jwks PRIVATE: exit %d, stdout %q, stderr %q; want exit 1 and \"jwks: holds a private key\"", code, out, errs)
	}
	if strings.Contains(out+errs, d) {
		t.Errorf("clients update printed the private key's d")
	}

	// Whatever was accepted: no stored client holds the private key, and
	// no listing prints it.
	s, ctx := c.store()
	all, err := s.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range all {
		if strings.Contains(string(cl.JWKS), d) {
			t.Errorf("client %s (%s, %s) stored a private key: jwks %s", cl.ID, cl.Name, cl.TokenEndpointAuthMethod, cl.JWKS)
		}
	}
	if listed := c.ok("clients", "list", "--json"); strings.Contains(listed, d) {
		t.Errorf("clients list --json prints a private key")
	}
}

// TestAttackClientsJWKSRefused proves the private_key_jwt JWK set checks
// that hold: a private key anywhere in the set (after a public one), a
// symmetric (oct) key — a shared secret is private material too — an RSA
// private key, a file that is not JSON, JSON that is not a JWK set, and a
// set with no signing key. Each is exit 1 naming jwks (or --jwks), never
// prints the private part, and stores nothing.
func TestAttackClientsJWKSRefused(t *testing.T) {
	c := newCLI(t, "sqlite")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecPriv := jose.JSONWebKey{Key: ec2, KeyID: "k2", Algorithm: "ES256", Use: "sig"}
	rsaPriv := jose.JSONWebKey{Key: rk, KeyID: "r1", Algorithm: "RS256", Use: "sig"}
	octSecret := "c2hhcmVkLXNlY3JldC1zaGFyZWQtc2VjcmV0LXNoYXJlZA"
	tests := []struct {
		name, path, want, forbidden string
	}{
		{"public then private", jwksFile(t, jose.JSONWebKey{Key: ec.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}, ecPriv),
			"jwks: holds a private key; register public keys only", privateD(t, ecPriv)},
		{"RSA private", jwksFile(t, rsaPriv), "jwks: holds a private key", privateD(t, rsaPriv)},
		{"symmetric key", rawFile(t, `{"keys":[{"kty":"oct","k":"`+octSecret+`","kid":"h","use":"sig","alg":"HS256"}]}`),
			"jwks: holds a private key", octSecret},
		{"not JSON", rawFile(t, "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"), "--jwks ", ""},
		{"not a JWK set", rawFile(t, `{"keys":"none"}`), "jwks: not a JWK set", ""},
		{"no signing key", jwksFile(t, jose.JSONWebKey{Key: ec.Public(), KeyID: "e1", Algorithm: "ECDH-ES", Use: "enc"}), `jwks: no key with "use":"sig"`, ""},
		{"empty set", rawFile(t, `{"keys":[]}`), `jwks: no key with "use":"sig"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			line := c.fail(1, []string{"gatehouse clients: ", tc.want}, "clients", "create", "--name", "svc", "--grant-type", "client_credentials",
				"--token-endpoint-auth-method", "private_key_jwt", "--jwks", tc.path)
			if tc.forbidden != "" && strings.Contains(line, tc.forbidden) {
				t.Fatalf("the refusal prints the private key material: %q", line)
			}
		})
	}
	c.t = t
	c.noClients()
}

// TestAttackClientsJWKSDuplicateKid proves that a private_key_jwt JWK set
// whose keys share a kid is refused (RFC 7517 §4.5: keys in a set use
// distinct kids): with two keys of one type under one kid, fosite picks
// the first, so assertions signed with the second always fail as
// invalid_client at the token endpoint instead of at registration.
func TestAttackClientsJWKSDuplicateKid(t *testing.T) {
	c := newCLI(t, "sqlite")
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	path := jwksFile(t,
		jose.JSONWebKey{Key: k1.Public(), KeyID: "same", Algorithm: "ES256", Use: "sig"},
		jose.JSONWebKey{Key: k2.Public(), KeyID: "same", Algorithm: "ES256", Use: "sig"})
	code, out, errs := c.runIn("", "clients", "create", "--name", "svc", "--grant-type", "client_credentials",
		"--token-endpoint-auth-method", "private_key_jwt", "--jwks", path)
	if code != 1 || !strings.Contains(errs, "jwks") || !strings.Contains(errs, "kid") {
		t.Fatalf("JWK set with a duplicate kid: exit %d, stdout %q, stderr %q; want exit 1 naming jwks and the kid", code, out, errs)
	}
}

// TestAttackClientsCrossTenant proves tenant isolation in the client
// commands: a client of tenant acme cannot be read, updated, deleted or
// given a new secret from the default tenant, nor the default tenant's
// from --tenant acme; each attempt is exit 1 "no client with id", prints
// no secret, and both clients stay exactly as they were (name, secret).
func TestAttackClientsCrossTenant(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		s, _ := c.store()
		if err := s.CreateTenant(context.Background(), storage.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		acme := c.createClient("--tenant", "acme", "--name", "Acme app", "--redirect-uri", "https://acme.example.com/cb")
		def := c.createClient("--name", "Default app", "--redirect-uri", "https://default.example.com/cb")

		for _, tc := range []struct {
			id    string
			extra []string
		}{{acme.ClientID, nil}, {def.ClientID, []string{"--tenant", "acme"}}} {
			for _, args := range [][]string{
				{"clients", "update", tc.id, "--name", "pwned", "--redirect-uri", "https://evil.example/cb"},
				{"clients", "rotate-secret", tc.id, "--json"},
				{"clients", "delete", tc.id},
				{"clients", "get", tc.id},
			} {
				c.fail(1, []string{"gatehouse clients: INVALID_REQUEST: no client with id " + tc.id}, append(args, tc.extra...)...)
			}
		}
		for _, cl := range []struct {
			tenant string
			c      created
			name   string
		}{{"acme", acme, "Acme app"}, {tenant.Default, def, "Default app"}} {
			got, err := s.GetClient(tenant.With(context.Background(), cl.tenant), cl.c.ClientID)
			if err != nil || got.Name != cl.name || slices.Contains(got.RedirectURIs, "https://evil.example/cb") {
				t.Fatalf("%s client after cross-tenant attempts: %+v, %v", cl.tenant, got, err)
			}
			if !c.secretMatchesHash(got.SecretHash, cl.c.ClientSecret) {
				t.Fatalf("%s client's secret changed", cl.tenant)
			}
		}
	})
}

// secretMatchesHash reports whether secret is the one hashed into hash.
func (c *cli) secretMatchesHash(hash []byte, secret string) bool {
	c.t.Helper()
	ring, err := keyring.New([]string{testSecret})
	if err != nil {
		c.t.Fatal(err)
	}
	return len(hash) > 0 && hmac.Equal(hash, ring.MAC(keyring.PurposeClientSecret, []byte(secret)))
}

// TestAttackKeysRotateTooSoon proves the 5-minute rule of keys rotate
// (keys --help): on a new tenant a rotation without --force creates the
// keys (active and next per algorithm) but promotes none, exit 1 "published
// too recently"; an immediate second try (--alg ES256) is refused the same
// way; --force rotates; and right after a forced rotation the next plain
// rotate is refused again. The active keys change only when forced.
func TestAttackKeysRotateTooSoon(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		c.fail(1, []string{"gatehouse keys: rotate RS256: ", "published too recently", "needs 5m0s"}, "keys", "rotate")
		keys := c.keys()
		active := map[string]string{}
		count := map[string]int{}
		for _, k := range keys {
			count[k.Alg+" "+k.State]++
			if k.State == "active" {
				active[k.Alg] = k.KID
			}
		}
		for _, alg := range []string{"RS256", "ES256"} {
			if count[alg+" active"] != 1 || count[alg+" next"] != 1 || count[alg+" retired"] != 0 {
				t.Fatalf("after a refused first rotation: %v; want one active and one next key per algorithm, none retired", count)
			}
		}
		c.fail(1, []string{"gatehouse keys: rotate ES256: ", "published too recently"}, "keys", "rotate", "--alg", "ES256")
		for _, k := range c.keys() {
			if k.State == "active" && active[k.Alg] != k.KID {
				t.Fatalf("a refused rotation changed the active %s key", k.Alg)
			}
		}
		var forced []rotation
		c.okJSON(&forced, "keys", "rotate", "--alg", "RS256", "--force", "--json")
		if len(forced) != 1 || forced[0].RetiredKID != active["RS256"] || forced[0].KID == active["RS256"] {
			t.Fatalf("forced rotation: %+v (active was %s)", forced, active["RS256"])
		}
		c.fail(1, []string{"gatehouse keys: rotate RS256: ", "published too recently"}, "keys", "rotate", "--alg", "RS256")
		if k := c.keys()[forced[0].KID]; k.State != "active" {
			t.Fatalf("after the refused rotation the forced key is %+v", k)
		}
	})
}

// TestAttackKeysHugeTokenLifetime proves that a token lifetime the
// configuration accepts cannot make a rotation drop the retired key at
// once: key retention is max(ID, access token lifetime) + 1h, which for an
// access-token lifetime near time.Duration's maximum (2562047h, accepted:
// no upper bound) overflows to a negative duration. Either the value is
// refused naming GATEHOUSE_ACCESS_TOKEN_TTL, or the retired key stays
// published.
func TestAttackKeysHugeTokenLifetime(t *testing.T) {
	c := newCLI(t, "sqlite")
	c.vars["GATEHOUSE_ACCESS_TOKEN_TTL"] = "2562047h"
	code, out, errs := c.runIn("", "keys", "rotate", "--alg", "RS256", "--force", "--json")
	if code == 1 && strings.Contains(errs, "GATEHOUSE_ACCESS_TOKEN_TTL") {
		return // refused: fine
	}
	if code != 0 {
		t.Fatalf("keys rotate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	var rot []rotation
	if err := json.Unmarshal([]byte(out), &rot); err != nil || len(rot) != 1 {
		t.Fatalf("keys rotate --json: %q, %v", out, err)
	}
	retired := c.keys()[rot[0].RetiredKID]
	if retired.State != "retired" || retired.ExpiresAt == nil || !retired.ExpiresAt.After(time.Now()) {
		t.Fatalf("with GATEHOUSE_ACCESS_TOKEN_TTL=2562047h the key retired just now expires at %v: it is no longer published, so every token it signed fails verification at once (Retention overflowed)", retired.ExpiresAt)
	}
}

// TestAttackPartlyMigrated proves that the janitor and the admin commands
// refuse a database on which one migration (not all) is pending — the
// case of a binary upgraded before `migrate up` — exit 1 with the count
// and what to do, and print nothing on stdout.
func TestAttackPartlyMigrated(t *testing.T) {
	dsn := servertest.DSN(t, "sqlite")
	c := &cli{t: t, vars: map[string]string{"GATEHOUSE_DSN": dsn, "GATEHOUSE_SECRET": testSecret}}
	c.ok("migrate", "up")
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	if err := db.QueryRow("SELECT MAX(version_id) FROM goose_db_version").Scan(&last); err != nil || last < 2 {
		t.Fatalf("goose version table: %d, %v", last, err)
	}
	if _, err := db.Exec("DELETE FROM goose_db_version WHERE version_id = ?", last); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if out := c.ok("migrate", "status"); strings.Count(out, "pending") != 1 {
		t.Fatalf("migrate status after forgetting version %d:\n%s", last, out)
	}
	want := []string{"GATEHOUSE_DSN: the database has 1 pending migration(s); run gatehouse migrate up first"}
	c.fail(1, append([]string{"gatehouse janitor: "}, want...), "janitor")
	c.fail(1, append([]string{"gatehouse janitor: "}, want...), "janitor", "--json", "--batch", "1")
	c.fail(1, append([]string{"gatehouse clients: "}, want...), "clients", "list")
	c.fail(1, append([]string{"gatehouse users: "}, want...), "users", "create", "--email", "a@example.com", "--password", "long enough to pass")
	c.fail(1, append([]string{"gatehouse keys: "}, want...), "keys", "rotate", "--force")
}

// encodings returns the ways a hash could be printed.
func encodings(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	return []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
}

// TestAttackSecretsStayOffOutput proves that with every debug area on
// (GATEHOUSE_DEBUG=*, GATEHOUSE_LOG_LEVEL=debug) no command prints a
// password (given by flag or stdin, accepted or refused), GATEHOUSE_SECRET,
// a client secret's stored hash, or a signing key's private part; and
// that a client secret appears exactly once, on stdout, in the output of
// the command that made it (create, rotate-secret) and never again.
func TestAttackSecretsStayOffOutput(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		c := newCLI(t, backend)
		c.vars["GATEHOUSE_DEBUG"] = "*"
		c.vars["GATEHOUSE_LOG_LEVEL"] = "debug"
		var all strings.Builder // every stdout and stderr
		runAll := func(stdin string, args ...string) (int, string, string) {
			t.Helper()
			code, out, errs := c.runIn(stdin, args...)
			all.WriteString(out + "\n" + errs + "\n")
			if strings.Contains(errs, "goroutine ") {
				t.Fatalf("gatehouse %q: stack trace: %q", args, errs)
			}
			return code, out, errs
		}
		passwords := []string{"flag-password-Zq9x", "stdin-password-Wv8y", "dup-password-Uu7z", "shortQ7", "refused-Tt6w"}
		if code, out, errs := runAll("", "users", "create", "--email", "s1@example.com", "--password", passwords[0]); code != 0 || !strings.HasPrefix(out, "user_id: ") {
			t.Fatalf("users create: %d %q %q", code, out, errs)
		}
		if code, _, errs := runAll(passwords[1]+"\n", "users", "create", "--email", "s2@example.com", "--password-stdin", "--json"); code != 0 {
			t.Fatalf("users create --password-stdin: %d %q", code, errs)
		}
		if code, _, _ := runAll("", "users", "create", "--email", "S1@example.com", "--password", passwords[2]); code != 1 {
			t.Fatalf("duplicate email accepted")
		}
		if code, _, _ := runAll("", "users", "create", "--email", "s3@example.com", "--password", passwords[3]); code != 1 {
			t.Fatalf("short password accepted")
		}
		if code, _, _ := runAll(passwords[4]+"\n", "users", "create", "--email", "not an email", "--password-stdin"); code != 1 {
			t.Fatalf("bad email accepted")
		}

		// Client secrets: each printed once, by the command that made it.
		code, out, errs := runAll("", "clients", "create", "--json", "--name", "Web", "--redirect-uri", "https://app.example.com/cb")
		var cr created
		if code != 0 || json.Unmarshal([]byte(out), &cr) != nil || cr.ClientSecret == "" {
			t.Fatalf("clients create --json: %d %q %q", code, out, errs)
		}
		if strings.Count(out, cr.ClientSecret) != 1 || strings.Contains(errs, cr.ClientSecret) {
			t.Fatalf("create printed its secret %d times on stdout, stderr %q", strings.Count(out, cr.ClientSecret), errs)
		}
		code, out, _ = runAll("", "clients", "create", "--name", "Text", "--redirect-uri", "https://text.example.com/cb")
		m := regexp.MustCompile(`(?m)^client_secret: (\S+)$`).FindStringSubmatch(out)
		if code != 0 || m == nil || strings.Count(out, m[1]) != 1 {
			t.Fatalf("clients create (text): %d %q", code, out)
		}
		textSecret := m[1]
		hash := c.storedHash(cr.ClientID)

		var later strings.Builder // output of every command after the secrets were made
		runLater := func(args ...string) {
			t.Helper()
			code, out, errs := runAll("", args...)
			if code != 0 {
				t.Fatalf("gatehouse %q: %d %q %q", args, code, out, errs)
			}
			later.WriteString(out + errs)
		}
		runLater("clients", "list")
		runLater("clients", "list", "--json")
		runLater("clients", "get", cr.ClientID)
		runLater("clients", "get", "--json", cr.ClientID)
		runLater("clients", "update", cr.ClientID, "--name", "Web 2", "--json")
		runLater("clients", "update", cr.ClientID, "--scope", "openid")
		code, out, errs = runAll("", "clients", "rotate-secret", "--json", cr.ClientID)
		var rot created
		if code != 0 || json.Unmarshal([]byte(out), &rot) != nil || rot.ClientSecret == "" || strings.Count(out, rot.ClientSecret) != 1 || strings.Contains(errs, rot.ClientSecret) {
			t.Fatalf("rotate-secret: %d %q %q", code, out, errs)
		}
		if strings.Contains(out, cr.ClientSecret) {
			t.Fatal("rotate-secret printed the old secret")
		}
		newHash := c.storedHash(cr.ClientID)
		runLater("clients", "get", cr.ClientID)
		runLater("clients", "list", "--json")
		runLater("keys", "rotate", "--force")
		runLater("keys", "list")
		runLater("keys", "list", "--json")
		runLater("janitor", "--json")

		for _, s := range []string{cr.ClientSecret, textSecret, rot.ClientSecret} {
			if strings.Contains(later.String(), s) {
				t.Errorf("a client secret was printed again after it was made")
			}
		}
		for _, h := range append(encodings(hash), encodings(newHash)...) {
			if strings.Contains(all.String(), h) {
				t.Errorf("a client secret's stored hash was printed (%s)", h)
			}
		}
		for _, pw := range append(passwords, testSecret) {
			if strings.Contains(all.String(), pw) {
				t.Errorf("%q was printed", pw)
			}
		}
		for _, bad := range []string{`"d":`, "PRIVATE KEY", `"p":`, `"q":`} {
			if strings.Contains(later.String(), bad) {
				t.Errorf("key material %q printed", bad)
			}
		}
	})
}

// syncWriter collects output written from several goroutines.
type syncWriter = servertest.SyncBuffer

// TestAttackServeLogsNoSecrets proves that serve's logs, at debug level
// with every area on, carry neither the DSN's password nor
// GATEHOUSE_SECRET while the database is unreachable and start-up retries
// (the error is logged on every attempt), and that serve stops with exit
// 0 when asked.
func TestAttackServeLogsNoSecrets(t *testing.T) {
	const dsnPassword = "hunter2-dsn-password-in-url"
	secret := "serve-secret-value-0123456789abcdef"
	vars := map[string]string{
		"GATEHOUSE_DSN":         "postgres://gh:" + dsnPassword + "@127.0.0.1:1/gh?connect_timeout=1&sslmode=disable",
		"GATEHOUSE_ISSUER":      "https://id.example.com",
		"GATEHOUSE_SECRET":      secret,
		"GATEHOUSE_PUBLIC_ADDR": freeAddr(t),
		"GATEHOUSE_ADMIN_ADDR":  freeAddr(t),
		"GATEHOUSE_LOG_LEVEL":   "debug",
		"GATEHOUSE_DEBUG":       "*",
		"GOMEMLIMIT":            "1GiB", // leave the test process's memory limit alone
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errs syncWriter
	done := make(chan int, 1)
	go func() { done <- runSafe(t, ctx, vars, "", &out, &errs, "serve") }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && strings.Count(errs.String(), "database not ready") < 2 {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	code := <-done
	logs := errs.String()
	if strings.Count(logs, "database not ready") < 2 {
		t.Fatalf("serve never logged two retries:\n%s", logs)
	}
	if code != 0 {
		t.Fatalf("serve stopped with exit %d:\n%s", code, logs)
	}
	for _, s := range []string{dsnPassword, secret} {
		if strings.Contains(logs+out.String(), s) {
			t.Errorf("serve logged %q:\n%s", s, logs)
		}
	}
}

// TestAttackDevBannerRedactsDSN proves what --dev does with a DSN that is
// not the development one (it does not refuse it: it fills in only what
// is unset, README and serve --help): it prints its warning banner naming
// the database, with the password hidden wherever the DSN carries it — in
// the URL's user info or as pgx's password query parameter.
func TestAttackDevBannerRedactsDSN(t *testing.T) {
	t.Chdir(t.TempDir())
	const pw = "hunter2-dev-dsn-password"
	for name, dsn := range map[string]string{
		"user info":       "postgres://gh:" + pw + "@127.0.0.1:1/gh?sslmode=disable",
		"query parameter": "postgres://gh@127.0.0.1:1/gh?sslmode=disable&password=" + pw,
	} {
		t.Run(name, func(t *testing.T) {
			// The public port is taken, so serve stops right after the banner.
			held, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			vars := map[string]string{
				"GATEHOUSE_DSN": dsn, "GATEHOUSE_SECRET": testSecret, "GATEHOUSE_ISSUER": "http://localhost:9",
				"GATEHOUSE_PUBLIC_ADDR": held.Addr().String(), "GATEHOUSE_ADMIN_ADDR": freeAddr(t), "GOMEMLIMIT": "1GiB",
			}
			var out, errs syncWriter
			code := runSafe(t, t.Context(), vars, "", &out, &errs, "serve", "--dev")
			banner := errs.String()
			if code != 1 || !strings.Contains(banner, "gatehouse serve: GATEHOUSE_PUBLIC_ADDR: ") {
				t.Fatalf("exit %d, stderr:\n%s", code, banner)
			}
			for _, want := range []string{"DEVELOPMENT mode (--dev)", "NOT for production", "Everything was configured explicitly", "Database: postgres://gh"} {
				if !strings.Contains(banner, want) {
					t.Errorf("banner lacks %q:\n%s", want, banner)
				}
			}
			if strings.Contains(banner, pw) {
				t.Errorf("the --dev banner prints the database password:\n%s", banner)
			}
			if _, err := os.Stat("gatehouse.secret"); err == nil {
				t.Error("--dev wrote gatehouse.secret although GATEHOUSE_SECRET is set")
			}
		})
	}
}

// TestAttackDevSecretNotFixed proves that --dev never uses a fixed
// secret: two development directories get different 0600 secrets; without
// --dev a kept gatehouse.secret is never picked up (GATEHOUSE_SECRET is
// required, for admin commands and serve alike); --dev does not weaken the
// secret's length rule, neither for an explicit secret nor for a kept file
// that is too short (refused naming GATEHOUSE_SECRET, never echoing it);
// and with GATEHOUSE_SECRET set, --dev writes no secret file.
func TestAttackDevSecretNotFixed(t *testing.T) {
	base := t.TempDir()
	secrets := map[string]string{}
	for _, name := range []string{"a", "b"} {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		c := &cli{t: t, vars: map[string]string{}}
		c.ok("migrate", "up", "--dev")
		var rot []rotation
		c.okJSON(&rot, "keys", "rotate", "--dev", "--force", "--json")
		st, err := os.Stat(filepath.Join(dir, "gatehouse.secret"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: secret file %v, %v", name, st, err)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, "gatehouse.secret"))
		secrets[name] = strings.TrimSpace(string(raw))
		if len(secrets[name]) < 43 {
			t.Fatalf("%s: dev secret of %d bytes", name, len(secrets[name]))
		}
	}
	if secrets["a"] == secrets["b"] {
		t.Fatal("two development directories got the same secret")
	}

	// In b, without --dev: the kept secret is not used.
	c := &cli{t: t, vars: map[string]string{"GATEHOUSE_DSN": "sqlite:gatehouse.db"}}
	c.fail(1, []string{"gatehouse clients: GATEHOUSE_SECRET: required"}, "clients", "list")
	line := c.fail(1, []string{"gatehouse serve: ", "GATEHOUSE_ISSUER: required", "GATEHOUSE_SECRET: required"}, "serve")
	if strings.Contains(line, secrets["b"]) {
		t.Fatal("serve printed the kept secret")
	}

	// --dev with a short explicit secret: refused, not echoed.
	short := "short-explicit-secret"
	c.vars = map[string]string{"GATEHOUSE_SECRET": short}
	for _, args := range [][]string{{"serve", "--dev"}, {"clients", "list", "--dev"}} {
		line := c.fail(1, []string{"GATEHOUSE_SECRET", strconv.Itoa(len(short))}, args...)
		if strings.Contains(line, short) {
			t.Fatalf("gatehouse %q echoes the secret: %q", args, line)
		}
	}

	// A kept secret file that is too short: refused, not echoed.
	dir := filepath.Join(base, "short")
	_ = os.Mkdir(dir, 0o700)
	t.Chdir(dir)
	kept := "tiny-kept-secret"
	if err := os.WriteFile("gatehouse.secret", []byte(kept+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.vars = map[string]string{"GATEHOUSE_PUBLIC_ADDR": freeAddr(t), "GATEHOUSE_ADMIN_ADDR": freeAddr(t)}
	for _, args := range [][]string{{"serve", "--dev"}, {"clients", "list", "--dev"}} {
		line := c.fail(1, []string{"GATEHOUSE_SECRET: gatehouse.secret holds fewer than 32 bytes; delete it to generate a new one"}, args...)
		if strings.Contains(line, kept) {
			t.Fatalf("gatehouse %q echoes the kept secret: %q", args, line)
		}
	}

	// With GATEHOUSE_SECRET set, --dev writes no file.
	dir = filepath.Join(base, "set")
	_ = os.Mkdir(dir, 0o700)
	t.Chdir(dir)
	c.vars = map[string]string{"GATEHOUSE_SECRET": testSecret}
	c.ok("migrate", "up", "--dev")
	var rot []rotation
	c.okJSON(&rot, "keys", "rotate", "--dev", "--force", "--json")
	if _, err := os.Stat("gatehouse.secret"); err == nil {
		t.Fatal("--dev wrote gatehouse.secret although GATEHOUSE_SECRET is set")
	}
}

// noClients checks that the refused registrations before it stored none.
func (c *cli) noClients() {
	c.t.Helper()
	var all []clientJSON
	if c.okJSON(&all, "clients", "list", "--json"); len(all) != 0 {
		c.t.Fatalf("refused registrations stored clients: %+v", all)
	}
}
