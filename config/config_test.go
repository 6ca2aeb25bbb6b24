package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const secret32 = "0123456789abcdef0123456789abcdef"

func valid() map[string]string {
	return map[string]string{
		"GATEHOUSE_DSN":    "postgres://gatehouse@db:5432/gatehouse",
		"GATEHOUSE_ISSUER": "https://id.example.com",
		"GATEHOUSE_SECRET": secret32,
	}
}

func TestLoadEnvWinsOverFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yml := "dsn: sqlite:/tmp/x.db\nissuer: https://file.example.com\nsecret: [" + secret32 + "]\nlog_level: debug\ntokens:\n  access_token_ttl: 5m\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, env(map[string]string{"GATEHOUSE_ISSUER": "https://env.example.com", "GATEHOUSE_DEBUG": "login, storage"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://env.example.com" || c.DSN != "sqlite:/tmp/x.db" || c.LogLevel != "debug" {
		t.Errorf("config = %+v", c)
	}
	if c.Tokens.AccessTokenTTL != 5*time.Minute || c.Tokens.RefreshTokenTTL != 720*time.Hour {
		t.Errorf("tokens = %+v", c.Tokens)
	}
	if len(c.Debug) != 2 || c.Debug[1] != "storage" || len(c.Secret) != 1 {
		t.Errorf("lists: debug %q secret %d", c.Debug, len(c.Secret))
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestLoadRejectsUnknownYAMLKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	_ = os.WriteFile(path, []byte("isuer: https://typo\n"), 0o600)
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("err = %v, want the unknown key named", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		wantKey string
	}{
		{"unknown DSN scheme", map[string]string{"GATEHOUSE_DSN": "mysql://x"}, `GATEHOUSE_DSN: unknown scheme "mysql"`},
		{"missing DSN", map[string]string{"GATEHOUSE_DSN": ""}, "GATEHOUSE_DSN: required"},
		{"short secret", map[string]string{"GATEHOUSE_SECRET": "short"}, "GATEHOUSE_SECRET: secret #1 is 5 bytes"},
		{"second secret short", map[string]string{"GATEHOUSE_SECRET": secret32 + ",tiny"}, "GATEHOUSE_SECRET: secret #2 is 4 bytes"},
		{"missing secret", map[string]string{"GATEHOUSE_SECRET": ""}, "GATEHOUSE_SECRET: required"},
		{"http issuer in production", map[string]string{"GATEHOUSE_ISSUER": "http://id.example.com"}, "GATEHOUSE_ISSUER: http:// is allowed only on loopback"},
		{"issuer with query", map[string]string{"GATEHOUSE_ISSUER": "https://id.example.com?x=1"}, "GATEHOUSE_ISSUER: must have no query"},
		{"missing issuer", map[string]string{"GATEHOUSE_ISSUER": ""}, "GATEHOUSE_ISSUER: required"},
		{"bad log format", map[string]string{"GATEHOUSE_LOG_FORMAT": "xml"}, "GATEHOUSE_LOG_FORMAT"},
		{"bad debug area", map[string]string{"GATEHOUSE_DEBUG": "login,nope"}, `GATEHOUSE_DEBUG: unknown area "nope"`},
		{"bad address", map[string]string{"GATEHOUSE_PUBLIC_ADDR": "8080"}, "GATEHOUSE_PUBLIC_ADDR"},
		{"code ttl too long", map[string]string{"GATEHOUSE_AUTHORIZATION_CODE_TTL": "1h"}, "GATEHOUSE_AUTHORIZATION_CODE_TTL: must be at most 10m"},
		{"janitor interval too short", map[string]string{"GATEHOUSE_JANITOR_INTERVAL": "30s"}, "GATEHOUSE_JANITOR_INTERVAL: must be 0 (off) or at least 1m, got 30s"},
		{"janitor interval negative", map[string]string{"GATEHOUSE_JANITOR_INTERVAL": "-10m"}, "GATEHOUSE_JANITOR_INTERVAL: must be 0 (off) or at least 1m"},
		{"janitor interval not a duration", map[string]string{"GATEHOUSE_JANITOR_INTERVAL": "hourly"}, "GATEHOUSE_JANITOR_INTERVAL: not a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := valid()
			for k, v := range tc.change {
				if v == "" {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			c, err := Load("", env(m))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantKey) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantKey)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c, _ := Load("", env(map[string]string{"GATEHOUSE_DSN": "redis://x", "GATEHOUSE_SECRET": "short", "GATEHOUSE_ISSUER": "http://example.com"}))
	err := c.Validate()
	for _, key := range []string{"GATEHOUSE_DSN", "GATEHOUSE_SECRET", "GATEHOUSE_ISSUER"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("err = %v, want %s named", err, key)
		}
	}
}

func TestBadEnvValues(t *testing.T) {
	_, err := Load("", env(map[string]string{"GATEHOUSE_AUTO_MIGRATE": "maybe", "GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}))
	if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_AUTO_MIGRATE") || !strings.Contains(err.Error(), "GATEHOUSE_ACCESS_TOKEN_TTL") {
		t.Fatalf("err = %v", err)
	}
}

func TestJanitorInterval(t *testing.T) {
	c, err := Load("", env(valid()))
	if err != nil || c.JanitorInterval != 10*time.Minute || c.IsSet("GATEHOUSE_JANITOR_INTERVAL") {
		t.Fatalf("default janitor interval = %s, set %v, %v; want 10m", c.JanitorInterval, c.IsSet("GATEHOUSE_JANITOR_INTERVAL"), err)
	}
	for v, want := range map[string]time.Duration{"0": 0, "1m": time.Minute, "1h30m": 90 * time.Minute} {
		m := valid()
		m["GATEHOUSE_JANITOR_INTERVAL"] = v
		c, err := Load("", env(m))
		if err == nil {
			err = c.Validate()
		}
		if err != nil || c.JanitorInterval != want {
			t.Errorf("GATEHOUSE_JANITOR_INTERVAL=%s: %s, %v; want %s", v, c.JanitorInterval, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("janitor_interval: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path, env(valid()))
	if err != nil || c.JanitorInterval != 5*time.Minute || !c.IsSet("GATEHOUSE_JANITOR_INTERVAL") {
		t.Fatalf("janitor_interval from YAML = %s, %v", c.JanitorInterval, err)
	}
	if err := os.WriteFile(path, []byte("janitor_interval: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(path, env(valid())); err != nil || c.JanitorInterval != 0 || c.Validate() != nil {
		t.Fatalf("janitor_interval: 0s = %s, %v", c.JanitorInterval, err)
	}
}

func TestLoopbackHTTPIssuerAllowed(t *testing.T) {
	for _, iss := range []string{"http://localhost:8080", "http://127.0.0.1:9000", "http://[::1]:8080"} {
		m := valid()
		m["GATEHOUSE_ISSUER"] = iss
		c, _ := Load("", env(m))
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

func TestFillDev(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c := Default()
	c.PublicAddr = "127.0.0.1:9999"
	chose, err := c.FillDev()
	if err != nil {
		t.Fatal(err)
	}
	if c.DSN != "sqlite:gatehouse.db" || c.Issuer != "http://localhost:9999" || c.LogFormat != "text" || len(chose) != 3 {
		t.Fatalf("dev config = %+v, chose %q", c, chose)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, DevSecretFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, st.Mode())
	}
	// A restart reads the same secret back.
	again := Default()
	if _, err := again.FillDev(); err != nil || again.Secret[0] != c.Secret[0] {
		t.Fatalf("second FillDev secret differs (%v)", err)
	}
	// Nothing that is set is overridden.
	set, _ := Load("", env(map[string]string{"GATEHOUSE_DSN": "memory", "GATEHOUSE_ISSUER": "https://id.example.com", "GATEHOUSE_SECRET": secret32,
		"GATEHOUSE_LOG_FORMAT": "json", "GATEHOUSE_PUBLIC_ADDR": ":8080"}))
	if chose, _ := set.FillDev(); len(chose) != 0 || set.DSN != "memory" || set.LogFormat != "json" || set.PublicAddr != ":8080" {
		t.Fatalf("FillDev overrode settings: %+v %q", set, chose)
	}
	// Unset, the public listener is loopback only.
	dflt := Default()
	if _, err := dflt.FillDev(); err != nil || dflt.PublicAddr != "127.0.0.1:8080" || dflt.Issuer != "http://localhost:8080" {
		t.Fatalf("dev defaults: public %q issuer %q (%v), want 127.0.0.1:8080 and http://localhost:8080", dflt.PublicAddr, dflt.Issuer, err)
	}
}

func TestParseDSN(t *testing.T) {
	for in, want := range map[string]DSN{
		"memory":                          {Backend: "sqlite", Memory: true},
		"sqlite:gatehouse.db":             {Backend: "sqlite", Path: "gatehouse.db"},
		"sqlite:///var/lib/g.db":          {Backend: "sqlite", Path: "/var/lib/g.db"},
		"postgres://u@h:5432/d":           {Backend: "postgres", URL: "postgres://u@h:5432/d"},
		"postgresql://u@h/d?sslmode=none": {Backend: "postgres", URL: "postgresql://u@h/d?sslmode=none"},
	} {
		got, err := ParseDSN(in)
		if err != nil || got != want {
			t.Errorf("ParseDSN(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if got := Redacted("postgres://u:hunter2@h/d"); strings.Contains(got, "hunter2") {
		t.Errorf("Redacted = %s", got)
	}
}
