package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is every setting of gatehouse. The zero value is not usable: start
// from Default().
type Config struct {
	// DSN names the database: postgres://… or postgresql://… (PostgreSQL),
	// sqlite:PATH (SQLite file), or memory (a throwaway SQLite database).
	DSN string `yaml:"dsn"`
	// Issuer is the public base URL of the default tenant, as it appears in
	// tokens and discovery; other tenants are served under Issuer/t/{id}.
	Issuer string `yaml:"issuer"`
	// PublicAddr is the listen address of the public listener (protocol,
	// pages, JSON API).
	PublicAddr string `yaml:"public_addr"`
	// AdminAddr is the listen address of the admin listener (health,
	// metrics). Keep it off the internet.
	AdminAddr string `yaml:"admin_addr"`
	// Secret is the list of secrets: the first encrypts and signs, every one
	// decrypts and verifies, so a secret is rotated by putting the new one
	// first. Each at least 32 bytes.
	Secret List `yaml:"secret"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is json or text.
	LogFormat string `yaml:"log_format"`
	// Debug lists the areas that log at debug level whatever LogLevel says
	// (login, provider, storage, http, consent, keys), or * for all.
	Debug List `yaml:"debug"`
	// AutoMigrate applies pending migrations when serve starts; when false,
	// serve refuses to start while any are pending.
	AutoMigrate bool `yaml:"auto_migrate"`
	// TrustedProxies lists the CIDRs whose X-Forwarded-For is believed when
	// taking a client's address; empty trusts none.
	TrustedProxies List `yaml:"trusted_proxies"`
	// JanitorInterval is how often serve deletes expired rows (tokens,
	// sessions, flows, delivered events) in small batches; 0 turns it off
	// (run gatehouse janitor from a scheduler instead).
	JanitorInterval time.Duration `yaml:"janitor_interval"`
	// Pprof serves net/http/pprof on the admin listener (for profiling; keep
	// the admin listener private).
	Pprof bool `yaml:"pprof"`

	Tokens Tokens `yaml:"tokens"`

	Passwords Passwords `yaml:"passwords"`

	// Dev is set by `serve --dev`; never from the file or the environment.
	Dev bool `yaml:"-"`

	// explicit holds the YAML keys and variables that Load found set.
	explicit map[string]bool
}

// IsSet reports whether the file or the environment set the variable
// (named by its GATEHOUSE_* name), as opposed to it holding its default.
func (c *Config) IsSet(name string) bool { return c.explicit[name] }

// Tokens holds the lifetimes of what the provider issues.
type Tokens struct {
	// AccessTokenTTL is the lifetime of access tokens.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// RefreshTokenTTL is the lifetime of refresh tokens (rotated on use).
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`
	// AuthorizationCodeTTL is the lifetime of authorization codes (RFC 9700:
	// short; at most 10 minutes).
	AuthorizationCodeTTL time.Duration `yaml:"authorization_code_ttl"`
	// IDTokenTTL is the lifetime of ID tokens.
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
	// SessionTTL is how long a browser sign-in session lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// KeyRotationPeriod is how often signing keys rotate automatically; 0
	// turns automatic rotation off.
	KeyRotationPeriod time.Duration `yaml:"key_rotation_period"`
}

// Passwords are the cost parameters of password hashing (argon2id). They
// are stored in every hash, so changing them re-hashes each password at its
// owner's next sign-in.
type Passwords struct {
	// MemoryKiB is argon2id's memory per hash.
	MemoryKiB uint32 `yaml:"argon2_memory_kib"`
	// Iterations is argon2id's number of passes.
	Iterations uint32 `yaml:"argon2_iterations"`
	// Concurrency bounds how many hashes run at once (0: one per CPU);
	// with MemoryKiB it bounds the memory sign-ins can take.
	Concurrency int `yaml:"hash_concurrency"`
}

// List is a list of strings that reads from YAML as a sequence or as one
// comma-separated string, and from the environment as the latter.
type List []string

// UnmarshalYAML accepts `a,b` or `[a, b]`.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = splitList(n.Value)
		return nil
	case yaml.SequenceNode:
		var s []string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = s
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

func splitList(s string) List {
	var out List
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Default returns the defaults: safe for production, incomplete on purpose
// (no DSN, issuer or secret).
func Default() Config {
	return Config{
		PublicAddr:  ":8080",
		AdminAddr:   "127.0.0.1:8081",
		LogLevel:    "info",
		LogFormat:   "json",
		AutoMigrate: true,
		Passwords:   Passwords{MemoryKiB: 19 * 1024, Iterations: 3},
		// JanitorInterval: often enough that a pass has little to do.
		JanitorInterval: 10 * time.Minute,
		Tokens: Tokens{
			AccessTokenTTL:       15 * time.Minute,
			RefreshTokenTTL:      30 * 24 * time.Hour,
			AuthorizationCodeTTL: time.Minute,
			IDTokenTTL:           time.Hour,
			SessionTTL:           24 * time.Hour,
			KeyRotationPeriod:    30 * 24 * time.Hour,
		},
	}
}

// envVar binds one environment variable to a field.
type envVar struct {
	name  string
	yaml  string
	set   func(c *Config, v string) error
	about string
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func list(f func(*Config) *List) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = splitList(v); return nil }
}

func uintVar(f func(*Config) *uint32) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not a positive number: %q", v)
		}
		*f(c) = uint32(n)
		return nil
	}
}

func boolVar(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*f(c) = b
		return nil
	}
}

func intVar(f func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a number: %q", v)
		}
		*f(c) = n
		return nil
	}
}

func duration(f func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (e.g. 15m, 720h): %q", v)
		}
		*f(c) = d
		return nil
	}
}

// Vars is the environment reference: every GATEHOUSE_* variable, its YAML
// key and what it means. The README's table is generated from the same text.
var vars = []envVar{
	{"GATEHOUSE_DSN", "dsn", str(func(c *Config) *string { return &c.DSN }), "database: postgres://… | postgresql://… | sqlite:PATH | memory"},
	{"GATEHOUSE_ISSUER", "issuer", str(func(c *Config) *string { return &c.Issuer }), "public base URL (https, or http on loopback)"},
	{"GATEHOUSE_PUBLIC_ADDR", "public_addr", str(func(c *Config) *string { return &c.PublicAddr }), "public listener address"},
	{"GATEHOUSE_ADMIN_ADDR", "admin_addr", str(func(c *Config) *string { return &c.AdminAddr }), "admin listener address (health, metrics)"},
	{"GATEHOUSE_SECRET", "secret", list(func(c *Config) *List { return &c.Secret }), "comma-separated secrets, ≥ 32 bytes each; the first encrypts and signs"},
	{"GATEHOUSE_LOG_LEVEL", "log_level", str(func(c *Config) *string { return &c.LogLevel }), "debug | info | warn | error"},
	{"GATEHOUSE_LOG_FORMAT", "log_format", str(func(c *Config) *string { return &c.LogFormat }), "json | text"},
	{"GATEHOUSE_DEBUG", "debug", list(func(c *Config) *List { return &c.Debug }), "debug areas: login,provider,storage,http,consent,keys or *"},
	{"GATEHOUSE_AUTO_MIGRATE", "auto_migrate", boolVar(func(c *Config) *bool { return &c.AutoMigrate }), "apply pending migrations at start (true | false)"},
	{"GATEHOUSE_TRUSTED_PROXIES", "trusted_proxies", list(func(c *Config) *List { return &c.TrustedProxies }), "CIDRs whose X-Forwarded-For is trusted"},
	{"GATEHOUSE_ARGON2_MEMORY_KIB", "passwords.argon2_memory_kib", uintVar(func(c *Config) *uint32 { return &c.Passwords.MemoryKiB }), "argon2id memory per password hash, KiB"},
	{"GATEHOUSE_ARGON2_ITERATIONS", "passwords.argon2_iterations", uintVar(func(c *Config) *uint32 { return &c.Passwords.Iterations }), "argon2id passes per password hash"},
	{"GATEHOUSE_HASH_CONCURRENCY", "passwords.hash_concurrency", intVar(func(c *Config) *int { return &c.Passwords.Concurrency }), "password hashes running at once (0: one per CPU)"},
	{"GATEHOUSE_PPROF", "pprof", boolVar(func(c *Config) *bool { return &c.Pprof }), "serve /debug/pprof/ on the admin listener (true | false)"},
	{"GATEHOUSE_JANITOR_INTERVAL", "janitor_interval", duration(func(c *Config) *time.Duration { return &c.JanitorInterval }), "how often serve deletes expired rows (0: off; else ≥ 1m)"},
	{"GATEHOUSE_ACCESS_TOKEN_TTL", "tokens.access_token_ttl", duration(func(c *Config) *time.Duration { return &c.Tokens.AccessTokenTTL }), "access token lifetime (at most 24h)"},
	{"GATEHOUSE_REFRESH_TOKEN_TTL", "tokens.refresh_token_ttl", duration(func(c *Config) *time.Duration { return &c.Tokens.RefreshTokenTTL }), "refresh token lifetime (at most 10 years)"},
	{"GATEHOUSE_AUTHORIZATION_CODE_TTL", "tokens.authorization_code_ttl", duration(func(c *Config) *time.Duration { return &c.Tokens.AuthorizationCodeTTL }), "authorization code lifetime (≤ 10m)"},
	{"GATEHOUSE_ID_TOKEN_TTL", "tokens.id_token_ttl", duration(func(c *Config) *time.Duration { return &c.Tokens.IDTokenTTL }), "ID token lifetime (at most 24h)"},
	{"GATEHOUSE_SESSION_TTL", "tokens.session_ttl", duration(func(c *Config) *time.Duration { return &c.Tokens.SessionTTL }), "browser sign-in session lifetime (at most 10 years)"},
	{"GATEHOUSE_KEY_ROTATION_PERIOD", "tokens.key_rotation_period", duration(func(c *Config) *time.Duration { return &c.Tokens.KeyRotationPeriod }), "automatic signing-key rotation period (0: off)"},
}

// Reference describes every variable, for --help and the README.
func Reference() [][3]string {
	out := make([][3]string, len(vars))
	for i, v := range vars {
		out[i] = [3]string{v.name, v.yaml, v.about}
	}
	return out
}

// Load returns Default() overlaid with the YAML file at path (when path is
// not empty) and then with the GATEHOUSE_* variables that lookup finds.
// Unknown YAML keys are errors. Load does not validate.
func Load(path string, lookup func(string) (string, bool)) (Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("--config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("--config %s: %w", path, err)
		}
		// One document: what follows a "---" would be silently ignored.
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("--config %s: one YAML document only (a second one follows \"---\")", path)
		}
		var top map[string]yaml.Node
		_ = yaml.Unmarshal(raw, &top)
		for _, v := range vars {
			if yamlHas(top, v.yaml) {
				c.markSet(v.name)
			}
		}
	}
	var errs []error
	for _, v := range vars {
		val, ok := lookup(v.name)
		if !ok {
			continue
		}
		if err := v.set(&c, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.name, err))
		}
		c.markSet(v.name)
	}
	return c, joinOneLine(errs)
}

// yamlHas reports whether the top-level mapping sets key, a dotted path
// for nested keys ("tokens.session_ttl").
func yamlHas(top map[string]yaml.Node, key string) bool {
	first, rest, nested := strings.Cut(key, ".")
	n, ok := top[first]
	if !nested || !ok {
		return ok
	}
	var sub map[string]yaml.Node
	if n.Decode(&sub) != nil {
		return false
	}
	return yamlHas(sub, rest)
}

func (c *Config) markSet(name string) {
	if c.explicit == nil {
		c.explicit = map[string]bool{}
	}
	c.explicit[name] = true
}

// Validate reports every problem at once, each naming its key, as one line.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.DSN == "" {
		bad("GATEHOUSE_DSN", "required (postgres://…, sqlite:PATH or memory)")
	} else if _, err := ParseDSN(c.DSN); err != nil {
		bad("GATEHOUSE_DSN", "%v", err)
	}
	c.validateIssuer(bad)
	if len(c.Secret) == 0 {
		bad("GATEHOUSE_SECRET", "required: at least one secret of 32 bytes or more")
	}
	for i, s := range c.Secret {
		if len(s) < 32 {
			bad("GATEHOUSE_SECRET", "secret #%d is %d bytes; each must be at least 32 bytes", i+1, len(s))
		}
	}
	for key, addr := range map[string]string{"GATEHOUSE_PUBLIC_ADDR": c.PublicAddr, "GATEHOUSE_ADMIN_ADDR": c.AdminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "not a host:port address: %q", addr)
		}
	}
	if c.PublicAddr == c.AdminAddr && c.PublicAddr != "" {
		bad("GATEHOUSE_ADMIN_ADDR", "must differ from GATEHOUSE_PUBLIC_ADDR")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("GATEHOUSE_LOG_LEVEL", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("GATEHOUSE_LOG_FORMAT", "want json or text, got %q", c.LogFormat)
	}
	for _, a := range c.Debug {
		if a != "*" && !slices.Contains(DebugAreas, a) {
			bad("GATEHOUSE_DEBUG", "unknown area %q (known: %s, or *)", a, strings.Join(DebugAreas, ", "))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			bad("GATEHOUSE_TRUSTED_PROXIES", "not a CIDR: %q", p)
		}
	}
	if c.JanitorInterval < 0 || (c.JanitorInterval > 0 && c.JanitorInterval < time.Minute) {
		bad("GATEHOUSE_JANITOR_INTERVAL", "must be 0 (off) or at least 1m, got %s", c.JanitorInterval)
	}
	c.validateTokens(bad)
	if c.Passwords.MemoryKiB < 19*1024 || c.Passwords.MemoryKiB > 4*1024*1024 {
		bad("GATEHOUSE_ARGON2_MEMORY_KIB", "want 19456 (19 MiB, OWASP's minimum) to 4194304, got %d", c.Passwords.MemoryKiB)
	}
	if c.Passwords.Iterations < 2 || c.Passwords.Iterations > 64 {
		bad("GATEHOUSE_ARGON2_ITERATIONS", "want 2 to 64, got %d", c.Passwords.Iterations)
	}
	if c.Passwords.Concurrency < 0 {
		bad("GATEHOUSE_HASH_CONCURRENCY", "must not be negative")
	}
	return joinOneLine(errs)
}

func (c *Config) validateIssuer(bad func(key, format string, a ...any)) {
	const key = "GATEHOUSE_ISSUER"
	if c.Issuer == "" {
		bad(key, "required: the public URL, e.g. https://id.example.com")
		return
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		bad(key, "want an absolute https URL, got %q", c.Issuer)
	case !strings.HasPrefix(c.Issuer, u.Scheme+"://"):
		// url.Parse lower-cases the scheme, but the issuer is used as
		// written: in tokens and discovery (compared exactly), and the
		// server sets Secure / __Host- cookies and HSTS only when it
		// starts with "https://" (HTTPS:// would serve neither).
		bad(key, "the scheme must be lower case (%s://)", u.Scheme)
	case strings.ContainsAny(c.Issuer, "?#") || u.User != nil: // an empty ? or # too
		bad(key, "must have no query, fragment or user info (OIDC Discovery §3)")
	case strings.TrimSuffix(u.Path, "/") != "":
		// gatehouse serves its endpoints at the root of its host (tenants
		// under /t/<id>): an issuer with a path was advertised in
		// discovery with endpoints that answered 404, and a path with //
		// or dot segments is answered by ServeMux with a 301 (a POST to
		// the token endpoint becomes a GET).
		bad(key, "must be the root of a host, with no path (e.g. https://id.example.com); tenants are served under <issuer>/t/<tenant>")
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) && !c.Dev:
		bad(key, "http:// is allowed only on loopback (localhost, 127.0.0.1, [::1]) or with --dev; use https")
	}
}

func (c *Config) validateTokens(bad func(key, format string, a ...any)) {
	t := c.Tokens
	positive := map[string]time.Duration{
		"GATEHOUSE_ACCESS_TOKEN_TTL":       t.AccessTokenTTL,
		"GATEHOUSE_REFRESH_TOKEN_TTL":      t.RefreshTokenTTL,
		"GATEHOUSE_AUTHORIZATION_CODE_TTL": t.AuthorizationCodeTTL,
		"GATEHOUSE_ID_TOKEN_TTL":           t.IDTokenTTL,
		"GATEHOUSE_SESSION_TTL":            t.SessionTTL,
	}
	// Upper bounds: a signing key stays published for the longest token
	// lifetime plus an hour, and a lifetime near time.Duration's limit
	// overflowed that sum (keys retired in the past, unpublished at once).
	longest := map[string]time.Duration{
		"GATEHOUSE_ACCESS_TOKEN_TTL":  24 * time.Hour,
		"GATEHOUSE_REFRESH_TOKEN_TTL": 10 * 365 * 24 * time.Hour,
		"GATEHOUSE_ID_TOKEN_TTL":      24 * time.Hour,
		"GATEHOUSE_SESSION_TTL":       10 * 365 * 24 * time.Hour,
	}
	for _, k := range slices.Sorted(maps.Keys(positive)) {
		switch max, bounded := longest[k]; {
		case positive[k] <= 0:
			bad(k, "must be positive, got %s", positive[k])
		case bounded && positive[k] > max:
			bad(k, "must be at most %s, got %s", max, positive[k])
		}
	}
	if t.AuthorizationCodeTTL > 10*time.Minute {
		bad("GATEHOUSE_AUTHORIZATION_CODE_TTL", "must be at most 10m (RFC 9700 §2.1.1), got %s", t.AuthorizationCodeTTL)
	}
	if t.KeyRotationPeriod < 0 || (t.KeyRotationPeriod > 0 && t.KeyRotationPeriod < time.Hour) {
		bad("GATEHOUSE_KEY_ROTATION_PERIOD", "must be 0 (off) or at least 1h, got %s", t.KeyRotationPeriod)
	}
}

// DebugAreas are the areas GATEHOUSE_DEBUG may name.
var DebugAreas = []string{"login", "provider", "storage", "http", "consent", "keys"}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// joinOneLine joins errors into one error whose message is one line.
func joinOneLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &Error{Problems: msgs}
}

// Error lists configuration problems; its message is one line.
type Error struct{ Problems []string }

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }
