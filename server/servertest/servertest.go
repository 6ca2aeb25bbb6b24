// Package servertest starts a real gatehouse server in-process, on a real
// listener and a real database (SQLite or PostgreSQL), for end-to-end tests.
package servertest

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/storagetest"
	"github.com/gatehouse/gatehouse/tenant"
)

// Secret is the GATEHOUSE_SECRET of test servers.
const Secret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// Backends runs fn once per backend, as subtests "sqlite" and "postgres".
func Backends(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

// DSN returns a fresh database of the backend for one test.
func DSN(t testing.TB, backend string) string {
	if backend == "postgres" {
		return storagetest.PostgresDSN(t)
	}
	return "sqlite:" + storagetest.SQLitePath(t)
}

// Instance is a running server.
type Instance struct {
	*server.Server
	Config config.Config
	// URL is the public base URL (= the issuer of the default tenant).
	URL string
	// Admin is the admin base URL.
	Admin string
	// Logs holds everything the server logged.
	Logs *SyncBuffer

	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Config returns a valid configuration for the backend, on a fresh database,
// with the issuer left to Start.
func Config(t testing.TB, backend string) config.Config {
	c := config.Default()
	c.DSN = DSN(t, backend)
	c.Secret = config.List{Secret}
	c.LogLevel = "debug"
	c.LogFormat = "text"
	return c
}

// Options tune Start.
type Options struct {
	// Now is the server clock.
	Now func() time.Time
	// NoWait returns without waiting for the server to be ready.
	NoWait bool
	// WrapStore wraps the server's store (fault injection).
	WrapStore func(storage.Store) storage.Store
}

// Start runs a server with cfg on 127.0.0.1 ports chosen now; cfg.Issuer is
// set to the public URL unless already set. It stops when the test ends.
func Start(t testing.TB, cfg config.Config, opts Options) *Instance {
	t.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + pub.Addr().String()
	if cfg.Issuer == "" {
		cfg.Issuer = url
	}
	cfg.PublicAddr, cfg.AdminAddr = pub.Addr().String(), adm.Addr().String()
	logs := &SyncBuffer{}
	srv, err := server.New(cfg, server.Options{
		Logger: logging.New(logs, cfg.LogLevel, cfg.LogFormat, cfg.Debug), Now: opts.Now,
		PublicListener: pub, AdminListener: adm, ShutdownTimeout: 5 * time.Second, WrapStore: opts.WrapStore,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &Instance{Server: srv, Config: cfg, URL: url, Admin: "http://" + adm.Addr().String(), Logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() { in.err = srv.Run(ctx); close(in.done) }()
	t.Cleanup(func() {
		in.Stop(t)
		_ = srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	if !opts.NoWait {
		in.WaitReady(t, 30*time.Second)
	}
	return in
}

// Stop cancels Run and waits for it; it returns Run's error. Safe to call
// twice.
func (in *Instance) Stop(t testing.TB) error {
	in.cancel()
	select {
	case <-in.done:
		return in.err
	case <-time.After(15 * time.Second):
		t.Errorf("server did not stop")
		return nil
	}
}

// Done is closed when Run returns; Err then holds its error.
func (in *Instance) Done() <-chan struct{} { return in.done }

// Err is Run's error, once Done is closed.
func (in *Instance) Err() error { return in.err }

// WaitReady polls /health/ready until 200.
func (in *Instance) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if in.ReadyStatus() == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not ready after %s; log:\n%s", timeout, in.Logs.String())
}

// ReadyStatus returns the status of GET /health/ready (0 on a transport error).
func (in *Instance) ReadyStatus() int {
	resp, err := http.Get(in.Admin + "/health/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Contains reports whether the logs contain sub.
func (s *SyncBuffer) Contains(sub string) bool { return strings.Contains(s.String(), sub) }

// Ctx is a context for the default tenant.
func (in *Instance) Ctx() context.Context { return tenant.With(context.Background(), tenant.Default) }

// CreateUser creates an active account with a password in the tenant of ctx.
func (in *Instance) CreateUser(t testing.TB, ctx context.Context, email, password string) storage.User {
	t.Helper()
	u, err := in.Services().Accounts.CreateUser(ctx, login.NewUser{Email: email, Password: password, EmailVerified: true, Name: "Test " + email})
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// CreateClient registers a client in the tenant of ctx and returns it with
// its secret.
func (in *Instance) CreateClient(t testing.TB, ctx context.Context, spec provider.ClientSpec) (storage.Client, string) {
	t.Helper()
	c, secret, err := in.Services().Provider.Clients.Create(ctx, spec)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}
