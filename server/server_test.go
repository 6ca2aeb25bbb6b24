package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/tenant"
)

func get(t *testing.T, url string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp, body
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestServe(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})

		resp, body := get(t, in.Admin+"/health/ready")
		if resp.StatusCode != 200 || body["status"] != "ok" {
			t.Fatalf("ready = %d %v", resp.StatusCode, body)
		}
		if resp, _ := get(t, in.Admin+"/health/alive"); resp.StatusCode != 200 {
			t.Fatalf("alive = %d", resp.StatusCode)
		}

		// Request ids: a sane incoming one is echoed, anything else replaced.
		resp, body = get(t, in.URL+"/no/such/page", "X-Request-Id", "abc-123")
		if resp.StatusCode != 404 || errorCode(body) != "NOT_FOUND" || resp.Header.Get("X-Request-Id") != "abc-123" {
			t.Fatalf("404 = %d %v id %q", resp.StatusCode, body, resp.Header.Get("X-Request-Id"))
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("error response Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
		for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s = %q, want %q", h, got, want)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
		}
		resp, _ = get(t, in.URL+"/x", "X-Request-Id", "bad id with spaces")
		if id := resp.Header.Get("X-Request-Id"); len(id) != 32 {
			t.Errorf("generated request id = %q", id)
		}

		mresp, err := http.Get(in.Admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		mraw, _ := io.ReadAll(mresp.Body)
		mresp.Body.Close()
		if mresp.StatusCode != 200 {
			t.Fatalf("metrics = %d", mresp.StatusCode)
		}
		if !strings.Contains(string(mraw), `gatehouse_http_requests_total{code="404",listener="public"`) {
			t.Errorf("metrics lack the public 404 counter:\n%.2000s", mraw)
		}
		if !in.Logs.Contains("request_id=abc-123") {
			t.Errorf("access log lacks the request id")
		}
	})
}

func TestTenantRouting(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		in := servertest.Start(t, servertest.Config(t, backend), servertest.Options{})
		ctx := storagetest.Ctx(t)
		if err := in.Store().CreateTenant(ctx, storage.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		if err := in.Store().CreateTenant(ctx, storage.Tenant{ID: "gone", Name: "Gone", Disabled: true}); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]string{
			"/t/acme/nothing":    "NOT_FOUND", // the tenant exists: routed to its (empty) mux
			"/t/unknown/nothing": "TENANT_NOT_FOUND",
			"/t/gone/nothing":    "TENANT_NOT_FOUND",
			"/t/default/x":       "TENANT_NOT_FOUND", // the default tenant lives at the root only
			"/t/BAD_ID/x":        "TENANT_NOT_FOUND",
		} {
			_, body := get(t, in.URL+path)
			if got := errorCode(body); got != want {
				t.Errorf("%s: code %q, want %q", path, got, want)
			}
		}
		if !in.Logs.Contains("path=/t/acme/nothing") || !in.Logs.Contains("tenant_id=acme") {
			t.Errorf("access log lacks the tenant:\n%s", in.Logs.String())
		}
		_ = tenant.Default
	})
}

// TestDatabaseOutage starts gatehouse while PostgreSQL is unreachable, then
// brings the database back, takes it away at runtime and back again: the
// server must report not-ready (503), fail public requests closed (503), and
// recover each time without a restart.
func TestDatabaseOutage(t *testing.T) {
	proxy, dsn := storagetest.NewProxy(t, storagetest.PostgresDSN(t))
	proxy.SetDown(true)
	cfg := servertest.Config(t, "sqlite")
	cfg.DSN = dsn
	in := servertest.Start(t, cfg, servertest.Options{NoWait: true})

	time.Sleep(300 * time.Millisecond)
	if got := in.ReadyStatus(); got != http.StatusServiceUnavailable {
		t.Fatalf("ready while the database is down at start = %d, want 503", got)
	}
	resp, body := get(t, in.URL+"/anything")
	if resp.StatusCode != 503 || errorCode(body) != "SERVICE_UNAVAILABLE" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("public request while starting = %d %v", resp.StatusCode, body)
	}
	if !in.Logs.Contains("GATEHOUSE_DSN: database not ready, retrying") {
		t.Errorf("no retry log line naming GATEHOUSE_DSN:\n%s", in.Logs.String())
	}

	proxy.SetDown(false)
	in.WaitReady(t, 30*time.Second) // recovered by itself: migrations applied, ready

	proxy.SetDown(true)
	if got := in.ReadyStatus(); got != http.StatusServiceUnavailable {
		t.Fatalf("ready with the database gone at runtime = %d, want 503", got)
	}
	resp, body = get(t, in.URL+"/t/acme/x") // needs a tenant lookup: hits the database
	if resp.StatusCode != 503 || errorCode(body) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("request needing the database while it is down = %d %v, want 503 SERVICE_UNAVAILABLE", resp.StatusCode, body)
	}
	proxy.SetDown(false)
	in.WaitReady(t, 30*time.Second)
}

func TestAutoMigrateOffRefusesPending(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		cfg := servertest.Config(t, backend)
		cfg.AutoMigrate = false
		in := servertest.Start(t, cfg, servertest.Options{NoWait: true})
		select {
		case <-in.Done():
			err := in.Err()
			if !errors.Is(err, server.ErrPendingMigrations) || !strings.Contains(err.Error(), "00001_foundation.sql") {
				t.Fatalf("Run = %v, want ErrPendingMigrations naming the files", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not refuse to start")
		}
		// Once migrated, the same configuration starts.
		if _, err := in.Store().Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		ok := servertest.Start(t, cfg, servertest.Options{})
		if ok.ReadyStatus() != 200 {
			t.Fatal("not ready after migrating")
		}
	})
}

// TestReplacedSecretRefusesToStart: signing keys that GATEHOUSE_SECRET
// cannot open (the secret was replaced, not rotated) stop serve at once with
// an error naming the key, instead of a retry loop that blames the database.
func TestReplacedSecretRefusesToStart(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		cfg := servertest.Config(t, backend)
		first := servertest.Start(t, cfg, servertest.Options{})
		if err := first.Stop(t); err != nil {
			t.Fatal(err)
		}
		cfg.Secret = config.List{"a-different-secret-0123456789-abcdefghijklmnopqrstuvwxyz"}
		in := servertest.Start(t, cfg, servertest.Options{NoWait: true})
		select {
		case <-in.Done():
			err := in.Err()
			if !errors.Is(err, provider.ErrKeysUnusable) || !strings.Contains(err.Error(), "GATEHOUSE_SECRET") {
				t.Fatalf("Run = %v, want ErrKeysUnusable naming GATEHOUSE_SECRET", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not refuse to start")
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	if err := in.Stop(t); err != nil {
		t.Fatalf("Run after cancel = %v", err)
	}
	if _, err := http.Get(in.URL + "/"); err == nil {
		t.Fatal("public listener still accepting after shutdown")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	in := servertest.Start(t, servertest.Config(t, "sqlite"), servertest.Options{})
	resp, err := http.Post(in.Admin+"/health/ready", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 405 || errorCode(body) != "METHOD_NOT_ALLOWED" || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("POST /health/ready = %d %v Allow %q", resp.StatusCode, body, resp.Header.Get("Allow"))
	}
}

// TestArgon2Defaults: the configuration's defaults and login's are one.
func TestArgon2Defaults(t *testing.T) {
	d := config.Default().Passwords
	if d.MemoryKiB != login.DefaultArgon2.Memory || d.Iterations != login.DefaultArgon2.Time {
		t.Fatalf("config %+v, login %+v", d, login.DefaultArgon2)
	}
}
