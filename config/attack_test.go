package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Attack tests: inputs an operator (or an attacker who controls part of the
// environment or the file) may give, and what the configuration must do
// with them. Every refusal names its variable, stays on one line (Validate)
// and never echoes a secret.

// loadValidate runs Load and then Validate on the variables m (no file).
func loadValidate(m map[string]string) (Config, error) {
	c, err := Load("", env(m))
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

// with returns the valid variables changed by kv (key, value, key, value…).
func with(kv ...string) map[string]string {
	m := valid()
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// refused checks that err is a one-line refusal holding every want and
// none of the forbidden strings (secret values).
func refused(t *testing.T, err error, wants []string, forbidden ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal holding %q", wants)
	}
	msg := err.Error()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Fatalf("error %q lacks %q", msg, w)
		}
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(msg, f) {
			t.Fatalf("error echoes the secret %q: %q", f, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Fatalf("error spans lines: %q", msg)
	}
}

// writeYAML writes a config file in a new directory and returns its path.
func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAttackIssuerRefused proves that an issuer OIDC Discovery §3 forbids
// (query, fragment, user info — even an empty query "?" or fragment "#",
// which make every discovered URL wrong), a non-URL, or plain http off
// loopback is refused, naming GATEHOUSE_ISSUER.
func TestAttackIssuerRefused(t *testing.T) {
	tests := []struct{ issuer, want string }{
		{"http://localhost.evil.com", "http:// is allowed only on loopback"},
		{"http://127.0.0.1.nip.io:8080", "http:// is allowed only on loopback"},
		{"http://0.0.0.0:8080", "http:// is allowed only on loopback"},
		{"http://10.0.0.1", "http:// is allowed only on loopback"},
		{"ftp://id.example.com", "want an absolute https URL"},
		{"//id.example.com", "want an absolute https URL"},
		{"id.example.com", "want an absolute https URL"},
		{"https://", "want an absolute https URL"},
		{" https://id.example.com", "want an absolute https URL"},
		{"https://id.example.com ", "want an absolute https URL"},
		{"https://id.example.com/#frag", "must have no query, fragment or user info"},
		{"https://id.example.com?tenant=a", "must have no query, fragment or user info"},
		{"https://admin@id.example.com", "must have no query, fragment or user info"},
		{"https://admin:issuer-pw-0123@id.example.com", "must have no query, fragment or user info"},
		// An empty fragment or query is still a fragment or query component.
		{"https://id.example.com#", "must have no query, fragment or user info"},
		{"https://id.example.com?", "must have no query, fragment or user info"},
		// url.Parse lower-cases the scheme, but the server decides on
		// Secure / __Host- cookies and HSTS from the issuer as written:
		// HTTPS:// would serve https without either.
		{"HTTPS://id.example.com", "scheme must be lower case"},
		{"Https://id.example.com", "scheme must be lower case"},
		{"HTTP://127.0.0.1:8080", "scheme must be lower case"},
		// Endpoints are served at the host's root: an issuer with a path
		// advertised endpoints that answered 404 (and one ServeMux must
		// clean is answered with a 301, a token POST becoming a GET).
		{"https://example.com/id", "must be the root of a host"},
		{"https://example.com/id/", "must be the root of a host"},
		{"https://id.example.com//", "must be the root of a host"},
		{"https://example.com/a//b", "must be the root of a host"},
		{"https://example.com/a/../b", "must be the root of a host"},
		{"https://example.com/a/.", "must be the root of a host"},
	}
	for _, tc := range tests {
		t.Run(tc.issuer, func(t *testing.T) {
			_, err := loadValidate(with("GATEHOUSE_ISSUER", tc.issuer))
			refused(t, err, []string{"GATEHOUSE_ISSUER: ", tc.want}, "issuer-pw-0123")
		})
	}
}

// TestAttackIssuerAccepted proves what the issuer may be: a host's root,
// with or without a port and a trailing slash (the provider trims one),
// kept verbatim by Load; with --dev (Dev) http off
// loopback is allowed, but a fragment or query is still refused.
func TestAttackIssuerAccepted(t *testing.T) {
	for _, iss := range []string{"https://id.example.com/", "https://id.example.com", "http://[::1]:8080/", "https://id.example.com:8443"} {
		c, err := loadValidate(with("GATEHOUSE_ISSUER", iss))
		if err != nil || c.Issuer != iss {
			t.Errorf("issuer %q: %v, loaded %q", iss, err, c.Issuer)
		}
	}
	c, _ := Load("", env(with("GATEHOUSE_ISSUER", "http://id.example.com")))
	c.Dev = true
	if err := c.Validate(); err != nil {
		t.Errorf("dev, http issuer: %v", err)
	}
	c, _ = Load("", env(with("GATEHOUSE_ISSUER", "http://id.example.com/#x")))
	c.Dev = true
	refused(t, c.Validate(), []string{"GATEHOUSE_ISSUER: must have no query, fragment or user info"})
}

// TestAttackSecretList proves how GATEHOUSE_SECRET's comma list is read:
// entries are trimmed and empty ones dropped, so whitespace never counts
// towards the 32 bytes, a list of only commas and blanks is "required",
// and a refusal says which entry and its length but never its value.
func TestAttackSecretList(t *testing.T) {
	s31 := "31-bytes-secret-value-AAAAAAAAA"
	if len(s31) != 31 {
		t.Fatal("fixture length")
	}
	other := "another-secret-of-32-bytes-BBBBB"
	tests := []struct {
		name, value string
		wants       []string
	}{
		{"31 bytes", s31, []string{"GATEHOUSE_SECRET: secret #1 is 31 bytes; each must be at least 32 bytes"}},
		{"31 bytes padded with blanks", "   " + s31 + "\t ", []string{"GATEHOUSE_SECRET: secret #1 is 31 bytes"}},
		{"short second after empty entries", other + ",, ," + s31, []string{"GATEHOUSE_SECRET: secret #2 is 31 bytes"}},
		{"only commas and blanks", " , ,,\t", []string{"GATEHOUSE_SECRET: required"}},
		{"empty", "", []string{"GATEHOUSE_SECRET: required"}},
		{"both short", s31 + "," + s31[:10], []string{"secret #1 is 31 bytes", "secret #2 is 10 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadValidate(with("GATEHOUSE_SECRET", tc.value))
			refused(t, err, tc.wants, s31, s31[:10])
		})
	}

	// Accepted: exactly 32 bytes, blanks and empty entries around it
	// dropped; 32 bytes of multi-byte characters (the rule is bytes).
	for value, want := range map[string][]string{
		" " + secret32 + " ":           {secret32},
		"," + secret32 + ",," + other:  {secret32, other},
		secret32 + "," + secret32:      {secret32, secret32}, // a repeated secret is harmless: kept as given
		strings.Repeat("é", 16):        {strings.Repeat("é", 16)},
		secret32 + " , " + other + " ": {secret32, other},
	} {
		c, err := loadValidate(with("GATEHOUSE_SECRET", value))
		if err != nil || !slices.Equal(c.Secret, want) {
			t.Errorf("GATEHOUSE_SECRET=%q: %v, loaded %q; want %q", value, err, c.Secret, want)
		}
	}

	// YAML: a scalar is split on commas like the variable, a sequence is
	// not (an entry may hold a comma).
	withComma := "first-half-of-the-secret,second-half-of-it"
	c, err := Load(writeYAML(t, "secret: [\""+withComma+"\"]\n"), env(nil))
	if err != nil || !slices.Equal(c.Secret, []string{withComma}) {
		t.Errorf("YAML sequence secret: %q, %v", c.Secret, err)
	}
	c, err = Load(writeYAML(t, "secret: \""+secret32+", "+other+"\"\n"), env(nil))
	if err != nil || !slices.Equal(c.Secret, []string{secret32, other}) {
		t.Errorf("YAML scalar secret: %q, %v", c.Secret, err)
	}
}

// TestAttackDurations proves the lifetimes' bounds: every token lifetime
// must be positive (zero and negative refused, each naming its variable),
// the authorization code lives at most 10 minutes (SECURITY.md, RFC 9700;
// exactly 10m accepted, a nanosecond more refused), key rotation is 0 or
// at least 1h, and values Go cannot parse (no unit, overflow) are refused.
func TestAttackDurations(t *testing.T) {
	ttls := []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "GATEHOUSE_REFRESH_TOKEN_TTL", "GATEHOUSE_AUTHORIZATION_CODE_TTL", "GATEHOUSE_ID_TOKEN_TTL", "GATEHOUSE_SESSION_TTL"}
	for _, key := range ttls {
		for value, want := range map[string]string{"0": "must be positive, got 0s", "0s": "must be positive, got 0s", "-1m": "must be positive, got -1m0s", "-1ns": "must be positive, got -1ns"} {
			t.Run(key+"="+value, func(t *testing.T) {
				_, err := loadValidate(with(key, value))
				refused(t, err, []string{key + ": " + want})
			})
		}
		for _, value := range []string{"600", "15 minutes", "1d", "9999999h", "1e3s", ""} {
			t.Run(key+"="+value, func(t *testing.T) {
				_, err := loadValidate(with(key, value))
				refused(t, err, []string{key + ": not a duration"})
			})
		}
	}

	const code = "GATEHOUSE_AUTHORIZATION_CODE_TTL"
	for _, value := range []string{"10m", "599s", "1s"} {
		if c, err := loadValidate(with(code, value)); err != nil {
			t.Errorf("%s=%s: %v (%s)", code, value, err, c.Tokens.AuthorizationCodeTTL)
		}
	}
	for _, value := range []string{"10m0.000000001s", "601s", "24h", "2562047h"} {
		_, err := loadValidate(with(code, value))
		refused(t, err, []string{code + ": must be at most 10m"})
	}

	const rot = "GATEHOUSE_KEY_ROTATION_PERIOD"
	for value, ok := range map[string]bool{"0": true, "1h": true, "59m59s": false, "-1h": false, "1ns": false} {
		_, err := loadValidate(with(rot, value))
		if ok && err != nil {
			t.Errorf("%s=%s: %v", rot, value, err)
		}
		if !ok {
			refused(t, err, []string{rot + ": must be 0 (off) or at least 1h"})
		}
	}

	// In YAML a bare number is not a duration either (not 600ns, not 600s).
	_, err := Load(writeYAML(t, "tokens:\n  authorization_code_ttl: 600\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "--config") || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "time.Duration") {
		t.Fatalf("YAML authorization_code_ttl: 600 = %v; want refused at line 2", err)
	}
	c, err := Load(writeYAML(t, "tokens:\n  authorization_code_ttl: 11m\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.DSN, c.Issuer, c.Secret = "memory", "https://id.example.com", List{secret32}
	refused(t, c.Validate(), []string{code + ": must be at most 10m"})
}

// TestAttackArgon2Bounds proves the argon2id parameters at and beyond
// their documented bounds: memory 19456..4194304 KiB, iterations 2..64,
// concurrency ≥ 0; values that are not numbers (or overflow uint32) are
// refused when loaded, each naming its variable.
func TestAttackArgon2Bounds(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
		want       string
	}{
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "19455", false, "want 19456 (19 MiB, OWASP's minimum) to 4194304, got 19455"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "19456", true, ""},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "4194304", true, ""},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "4194305", false, "got 4194305"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "0", false, "got 0"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "4294967295", false, "got 4294967295"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "4294967296", false, "not a positive number"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "-19456", false, "not a positive number"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", "19MiB", false, "not a positive number"},
		{"GATEHOUSE_ARGON2_MEMORY_KIB", " 19456", false, "not a positive number"},
		{"GATEHOUSE_ARGON2_ITERATIONS", "1", false, "want 2 to 64, got 1"},
		{"GATEHOUSE_ARGON2_ITERATIONS", "0", false, "want 2 to 64, got 0"},
		{"GATEHOUSE_ARGON2_ITERATIONS", "2", true, ""},
		{"GATEHOUSE_ARGON2_ITERATIONS", "64", true, ""},
		{"GATEHOUSE_ARGON2_ITERATIONS", "65", false, "want 2 to 64, got 65"},
		{"GATEHOUSE_ARGON2_ITERATIONS", "three", false, "not a positive number"},
		{"GATEHOUSE_HASH_CONCURRENCY", "-1", false, "must not be negative"},
		{"GATEHOUSE_HASH_CONCURRENCY", "0", true, ""},
		{"GATEHOUSE_HASH_CONCURRENCY", "64", true, ""},
		{"GATEHOUSE_HASH_CONCURRENCY", "two", false, "not a number"},
		{"GATEHOUSE_HASH_CONCURRENCY", "99999999999999999999", false, "not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := loadValidate(with(tc.key, tc.value))
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			refused(t, err, []string{tc.key + ": ", tc.want})
		})
	}
	// The same bounds hold for the YAML keys.
	c, err := Load(writeYAML(t, "passwords:\n  argon2_memory_kib: 1024\n  argon2_iterations: 1\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.DSN, c.Issuer, c.Secret = "memory", "https://id.example.com", List{secret32}
	refused(t, c.Validate(), []string{"GATEHOUSE_ARGON2_MEMORY_KIB: ", "GATEHOUSE_ARGON2_ITERATIONS: "})
	if _, err := Load(writeYAML(t, "passwords:\n  argon2_memory_kib: -5\n"), env(nil)); err == nil {
		t.Fatal("YAML argon2_memory_kib: -5 accepted")
	}
}

// TestAttackYAMLFileRefused proves that a --config that cannot be read or
// is not a gatehouse YAML mapping is refused with "--config": a directory,
// a missing file, a path through a regular file, text or binary that is
// not a mapping, a duplicated key, a key at the wrong level, a dotted
// key, a key in the wrong case, and `dev: true` (--dev is a flag only).
func TestAttackYAMLFileRefused(t *testing.T) {
	dir := t.TempDir()
	regular := writeYAML(t, "issuer: https://id.example.com\n")
	paths := map[string]string{
		"directory":           dir,
		"missing file":        filepath.Join(dir, "nope.yaml"),
		"path through a file": filepath.Join(regular, "x.yaml"),
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			_, err := Load(path, env(valid()))
			if err == nil || !strings.HasPrefix(err.Error(), "--config: ") {
				t.Fatalf("err = %v; want a --config: refusal", err)
			}
		})
	}
	bodies := []struct{ name, body, want string }{
		{"plain text", "this is not configuration\n", "cannot unmarshal"},
		{"a list", "- dsn: memory\n", "cannot unmarshal"},
		{"binary", "\x00\x01\x02\xff\xfe", "yaml"},
		{"broken YAML", "issuer: [https://id.example.com\n", "yaml"},
		{"duplicate key", "issuer: https://a.example.com\nissuer: https://b.example.com\n", `mapping key "issuer" already defined`},
		{"nested key at top level", "access_token_ttl: 5m\n", "access_token_ttl"},
		{"dotted key", "tokens.access_token_ttl: 5m\n", "tokens.access_token_ttl"},
		{"wrong case", "Issuer: https://id.example.com\n", "Issuer"},
		{"env name as key", "GATEHOUSE_ISSUER: https://id.example.com\n", "GATEHOUSE_ISSUER"},
		{"dev from the file", "dev: true\n", "dev"},
		{"unknown nested key", "tokens:\n  acess_token_ttl: 5m\n", "acess_token_ttl"},
		{"secret as a map", "secret: {a: b}\n", "want a string or a list of strings"},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			path := writeYAML(t, tc.body)
			_, err := Load(path, env(valid()))
			if err == nil || !strings.Contains(err.Error(), "--config "+path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want --config %s and %q", err, path, tc.want)
			}
		})
	}
}

// TestAttackYAMLSecondDocument proves that a file holding a second YAML
// document is not half read: Load's contract is "Unknown YAML keys are
// errors", and a key in a second document (here an unknown one, and a
// DSN that would silently be dropped) must not be ignored without a word.
func TestAttackYAMLSecondDocument(t *testing.T) {
	path := writeYAML(t, "dsn: memory\n---\ndsn: sqlite:/var/lib/gatehouse/gatehouse.db\nno_such_key: 1\n")
	c, err := Load(path, env(nil))
	if err == nil {
		t.Fatalf("a second YAML document was ignored: loaded dsn %q, no error (the second document's dsn and its unknown key no_such_key were dropped silently)", c.DSN)
	}
	if !strings.Contains(err.Error(), "--config") {
		t.Fatalf("err = %v; want it to name --config", err)
	}
}

// TestAttackYAMLAccepted proves the lenient side of --config: an empty
// file or one of comments only is the defaults, and JSON (a YAML subset)
// is read.
func TestAttackYAMLAccepted(t *testing.T) {
	for _, body := range []string{"", "# nothing yet\n", "---\n"} {
		c, err := Load(writeYAML(t, body), env(nil))
		if err != nil || c.PublicAddr != Default().PublicAddr {
			t.Errorf("%q: %v", body, err)
		}
	}
	c, err := Load(writeYAML(t, `{"dsn":"memory","issuer":"https://id.example.com","secret":["`+secret32+`"],"tokens":{"access_token_ttl":"5m"}}`), env(nil))
	if err != nil || c.Validate() != nil || c.Tokens.AccessTokenTTL != 5*time.Minute {
		t.Fatalf("JSON config: %+v, %v", c, err)
	}
}

// TestAttackYAMLAndEnv proves "env wins" (README, DESIGN.md) key by key:
// a variable replaces the file's value whole (a list is replaced, not
// merged: rotating GATEHOUSE_SECRET in the environment drops the file's
// secrets), nested keys included, and the keys left alone keep the file's
// values.
func TestAttackYAMLAndEnv(t *testing.T) {
	fileSecret := "secret-from-the-file-0123456789ab"
	path := writeYAML(t, "dsn: memory\nissuer: https://file.example.com\nsecret: [\""+fileSecret+"\", \""+secret32+"\"]\n"+
		"trusted_proxies: [10.0.0.0/8]\ntokens:\n  access_token_ttl: 5m\n  id_token_ttl: 2h\npasswords:\n  argon2_iterations: 4\n")
	envSecret := "secret-from-the-environment-0123"
	c, err := Load(path, env(map[string]string{
		"GATEHOUSE_SECRET":            envSecret,
		"GATEHOUSE_TRUSTED_PROXIES":   "192.168.0.0/16",
		"GATEHOUSE_ACCESS_TOKEN_TTL":  "7m",
		"GATEHOUSE_ARGON2_ITERATIONS": "5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Secret, []string{envSecret}) {
		t.Errorf("secret = %q; want only the environment's", c.Secret)
	}
	if !slices.Equal(c.TrustedProxies, []string{"192.168.0.0/16"}) {
		t.Errorf("trusted proxies = %q", c.TrustedProxies)
	}
	if c.Tokens.AccessTokenTTL != 7*time.Minute || c.Tokens.IDTokenTTL != 2*time.Hour || c.Passwords.Iterations != 5 {
		t.Errorf("tokens %+v passwords %+v", c.Tokens, c.Passwords)
	}
	if c.Issuer != "https://file.example.com" || c.DSN != "memory" {
		t.Errorf("file values lost: %+v", c)
	}
	// A variable that is set but empty still wins: it clears the file's
	// value, and the refusal says which variable.
	c, err = Load(path, env(map[string]string{"GATEHOUSE_ISSUER": ""}))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, c.Validate(), []string{"GATEHOUSE_ISSUER: required"})
}

// TestAttackIsSetNestedYAML proves IsSet's contract ("whether the file or
// the environment set the variable") for keys under tokens: and
// passwords:, not only top-level ones: --dev and any later "only if unset"
// logic rely on it.
func TestAttackIsSetNestedYAML(t *testing.T) {
	c, err := Load(writeYAML(t, "log_format: json\ntokens:\n  access_token_ttl: 5m\npasswords:\n  argon2_iterations: 4\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsSet("GATEHOUSE_LOG_FORMAT") {
		t.Error("top-level log_format from the file: IsSet false")
	}
	for _, name := range []string{"GATEHOUSE_ACCESS_TOKEN_TTL", "GATEHOUSE_ARGON2_ITERATIONS"} {
		if !c.IsSet(name) {
			t.Errorf("IsSet(%s) = false although the file sets it (config.go Load marks only top-level YAML keys)", name)
		}
	}
	if c.IsSet("GATEHOUSE_REFRESH_TOKEN_TTL") {
		t.Error("IsSet(GATEHOUSE_REFRESH_TOKEN_TTL) = true for a key the file does not set")
	}
	// --dev keeps a log format the file chose.
	c.DSN = "memory"
	if _, err := c.FillDev(); err != nil || c.LogFormat != "json" {
		t.Errorf("FillDev changed the file's log_format: %q, %v", c.LogFormat, err)
	}
}

// TestAttackDevOnlyFromTheFlag proves that development mode (which allows
// an http issuer anywhere) cannot be switched on from the environment:
// GATEHOUSE_DEV is not a variable, so an http issuer stays refused.
func TestAttackDevOnlyFromTheFlag(t *testing.T) {
	c, err := loadValidate(with("GATEHOUSE_DEV", "true", "GATEHOUSE_ISSUER", "http://id.example.com"))
	if c.Dev {
		t.Fatal("GATEHOUSE_DEV switched on development mode")
	}
	refused(t, err, []string{"GATEHOUSE_ISSUER: http:// is allowed only on loopback"})
}

// TestAttackDSN proves that a DSN of an unknown or malformed kind is
// refused naming GATEHOUSE_DSN, and that the refusal never echoes the
// password the DSN carries — whether in a URL's user info, or in a libpq
// keyword/value string (host=… password=…), which operators paste from
// PostgreSQL's documentation and which ends up in logs.
func TestAttackDSN(t *testing.T) {
	const pw = "hunter2-dsn-password"
	tests := []struct{ dsn, want string }{
		{"mysql://gh:" + pw + "@db/gh", `unknown scheme "mysql"`},
		{"file:gatehouse.db", `unknown scheme "file"`},
		{"sqlite3:gatehouse.db", `unknown scheme "sqlite3"`},
		{"MEMORY", "unknown scheme"},
		{"memory:", `unknown scheme "memory"`},
		{"Postgres://db/gh", `unknown scheme "Postgres"`},
		{"postgres://", "not a valid PostgreSQL URL"},
		{"postgres:///gh", "not a valid PostgreSQL URL"},
		{"postgres://gh:" + pw + "@db:port/gh", "not a valid PostgreSQL URL"},
		{"postgres://gh:" + pw + "@[::1/gh", "not a valid PostgreSQL URL"},
		{"sqlite:", "needs a file path"},
		{"sqlite://", "needs a file path"},
		{"sqlite:/tmp/g.db?mode=memory", "must not contain ? or #"},
		{"sqlite:/tmp/g.db#x", "must not contain ? or #"},
		{"host=db port=5432 user=gh password=" + pw + " dbname=gh", "unknown scheme"},
		{"user=gh password=" + pw, "unknown scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			_, err := loadValidate(with("GATEHOUSE_DSN", tc.dsn))
			refused(t, err, []string{"GATEHOUSE_DSN: ", tc.want}, pw)
		})
	}
}

// TestAttackTrustedProxies proves that GATEHOUSE_TRUSTED_PROXIES takes
// CIDRs only: a bare address, a prefix out of range, a wildcard or a
// hostname is refused naming the variable and the entry; valid IPv4 and
// IPv6 CIDRs, blanks and empty entries around them are fine.
func TestAttackTrustedProxies(t *testing.T) {
	for _, p := range []string{"10.0.0.1", "::1", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "10.0.0.0/-1", "*", "0/0", "any", "proxy.internal/32", "10.0.0.256/24"} {
		t.Run(p, func(t *testing.T) {
			_, err := loadValidate(with("GATEHOUSE_TRUSTED_PROXIES", "192.168.0.0/16,"+p))
			refused(t, err, []string{"GATEHOUSE_TRUSTED_PROXIES: not a CIDR: " + `"` + p + `"`})
		})
	}
	c, err := loadValidate(with("GATEHOUSE_TRUSTED_PROXIES", " 10.0.0.0/8 ,, fd00::/8 ,127.0.0.1/32"))
	if err != nil || !slices.Equal(c.TrustedProxies, []string{"10.0.0.0/8", "fd00::/8", "127.0.0.1/32"}) {
		t.Fatalf("valid proxies: %q, %v", c.TrustedProxies, err)
	}
	c, err = Load(writeYAML(t, "trusted_proxies: [10.0.0.1]\n"), env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	refused(t, c.Validate(), []string{`GATEHOUSE_TRUSTED_PROXIES: not a CIDR: "10.0.0.1"`})
}

// TestAttackFillDevSecretIsRandom proves that --dev never falls back to a
// fixed secret: each development database gets its own 256-bit random
// secret (a memory database a new one each run), kept 0600 beside the
// SQLite file rather than in the working directory; a secret that is set
// is used as it is and no file is written; and a kept secret file that is
// too short is refused naming GATEHOUSE_SECRET without echoing it.
func TestAttackFillDevSecretIsRandom(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	dbDir := filepath.Join(cwd, "data")
	if err := os.Mkdir(dbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a := Default()
	a.DSN = "sqlite:" + filepath.Join(dbDir, "g.db")
	if _, err := a.FillDev(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dbDir, DevSecretFile)); err != nil {
		t.Fatalf("secret not kept beside the database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cwd, DevSecretFile)); err == nil {
		t.Fatal("secret written to the working directory for a database elsewhere")
	}
	b := Default() // the working directory's development database
	if _, err := b.FillDev(); err != nil {
		t.Fatal(err)
	}
	m1, m2 := Default(), Default()
	m1.DSN, m2.DSN = "memory", "memory"
	if _, err := m1.FillDev(); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.FillDev(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range []Config{a, b, m1, m2} {
		if len(c.Secret) != 1 || len(c.Secret[0]) != 43 || strings.Trim(c.Secret[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("dev secret %q: want 43 base64url characters", c.Secret)
		}
		if seen[c.Secret[0]] {
			t.Fatalf("two development databases share the secret %q", c.Secret[0])
		}
		seen[c.Secret[0]] = true
	}

	set, _ := Load("", env(map[string]string{"GATEHOUSE_SECRET": secret32}))
	set.DSN = "sqlite:" + filepath.Join(cwd, "other", "g.db")
	if chose, err := set.FillDev(); err != nil || !slices.Equal(set.Secret, []string{secret32}) || slices.ContainsFunc(chose, func(s string) bool { return strings.HasPrefix(s, "secret") }) {
		t.Fatalf("dev with a secret set: %q, chose %q, %v", set.Secret, chose, err)
	}
	if _, err := os.Stat(filepath.Join(cwd, "other", DevSecretFile)); err == nil {
		t.Fatal("dev wrote a secret file although GATEHOUSE_SECRET is set")
	}

	short := "short-kept-secret"
	shortDir := filepath.Join(cwd, "short")
	_ = os.Mkdir(shortDir, 0o700)
	if err := os.WriteFile(filepath.Join(shortDir, DevSecretFile), []byte(short+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.DSN = "sqlite:" + filepath.Join(shortDir, "g.db")
	_, err := c.FillDev()
	refused(t, err, []string{"GATEHOUSE_SECRET: ", DevSecretFile, "fewer than 32 bytes"}, short)
}
