package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/argon2"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

var (
	allScenarios = []string{"client_credentials", "client_credentials_jwt_rs256", "client_credentials_jwt_es256",
		"introspect", "refresh", "authcode_sso", "hash_only", "login", "userinfo"}
	defaultScenarios = allScenarios
)

const benchPassword = "bench password that is long enough"

// bench is a running server with what the scenarios need seeded.
type bench struct {
	o     options
	srv   *serverProc
	store storage.Store
	svc   *server.Services
	ctx   context.Context // default tenant

	ccOpaque, ccRS, ccES, resource app
	web, webES                     app // authorization code; skip consent; RS256 / ES256
	users                          []string
	keys                           *jwks
}

func newBench(ctx context.Context, o options, srv *serverProc) (*bench, error) {
	cfg := config.Default()
	cfg.DSN, cfg.Issuer, cfg.Secret = srv.dsn, srv.url, config.List{srv.secret}
	cfg.Passwords.Iterations, cfg.Passwords.MemoryKiB = uint32(o.argonT), uint32(o.argonM)
	store, err := server.OpenStore(cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return nil, err
	}
	ring, err := keyring.New(cfg.Secret)
	if err != nil {
		return nil, err
	}
	svc, err := server.NewServices(cfg, store, ring, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, srv: srv, store: store, svc: svc, ctx: tenant.With(ctx, tenant.Default),
		keys: &jwks{url: srv.url + "/.well-known/jwks.json"}}
	return b, b.seed()
}

func (b *bench) client(spec provider.ClientSpec, scope string) (app, error) {
	c, secret, err := b.svc.Provider.Clients.Create(b.ctx, spec)
	return app{id: c.ID, secret: secret, scope: scope}, err
}

func machineClient(name, format, alg string) provider.ClientSpec {
	return provider.ClientSpec{Name: name, GrantTypes: []string{provider.GrantClientCredentials},
		Scopes: []string{"api:read"}, Audience: []string{"https://api.example.com"}, AccessTokenFormat: format, IDTokenAlg: alg}
}

func (b *bench) seed() error {
	var err error
	if b.ccOpaque, err = b.client(machineClient("cc opaque", "opaque", provider.RS256), "api:read"); err != nil {
		return err
	}
	if b.ccRS, err = b.client(machineClient("cc jwt rs256", "jwt", provider.RS256), "api:read"); err != nil {
		return err
	}
	if b.ccES, err = b.client(machineClient("cc jwt es256", "jwt", provider.ES256), "api:read"); err != nil {
		return err
	}
	if b.resource, err = b.client(machineClient("resource server", "opaque", provider.RS256), "api:read"); err != nil {
		return err
	}
	web := provider.ClientSpec{Name: "web", RedirectURIs: []string{redirectURI}, SkipConsent: true,
		Scopes: []string{"openid", "profile", "email", "offline_access"}, IDTokenAlg: provider.RS256}
	if b.web, err = b.client(web, "openid profile email offline_access"); err != nil {
		return err
	}
	web.Name, web.IDTokenAlg = "web es256", provider.ES256
	if b.webES, err = b.client(web, "openid offline_access"); err != nil {
		return err
	}
	for i := range max(b.o.conns, 1) {
		email := fmt.Sprintf("user%d@bench.example", i)
		if _, err := b.svc.Accounts.CreateUser(b.ctx, login.NewUser{Email: email, Password: benchPassword, EmailVerified: true, Name: "Bench User"}); err != nil {
			return err
		}
		b.users = append(b.users, email)
	}
	return nil
}

func (b *bench) close() { _ = b.store.Close() }

// scenario returns the per-connection worker factory of a scenario.
func (b *bench) scenario(name string) (func(i int) (worker, error), string, int, error) {
	iss := b.srv.url
	switch name {
	case "client_credentials", "client_credentials_jwt_rs256", "client_credentials_jwt_es256":
		a := map[string]app{"client_credentials": b.ccOpaque, "client_credentials_jwt_rs256": b.ccRS, "client_credentials_jwt_es256": b.ccES}[name]
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
		return func(int) (worker, error) {
			c := newConn(iss)
			return func(ctx context.Context) error {
				resp, raw, err := c.do(ctx, http.MethodPost, "/oauth2/token", form, a.id, a.secret, "")
				if err != nil {
					return err
				}
				tok, err := expectJSON(resp, raw, 200)
				if err == nil && tok["access_token"] == nil {
					err = fmt.Errorf("no access_token")
				}
				return err
			}, nil
		}, "POST /oauth2/token", 1, nil

	case "introspect":
		c := newConn(iss)
		resp, raw, err := c.do(b.ctx, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, b.ccOpaque.id, b.ccOpaque.secret, "")
		if err != nil {
			return nil, "", 0, err
		}
		tok, err := expectJSON(resp, raw, 200)
		if err != nil {
			return nil, "", 0, err
		}
		form := url.Values{"token": {tok["access_token"].(string)}}
		return func(int) (worker, error) {
			c := newConn(iss)
			return func(ctx context.Context) error {
				resp, raw, err := c.do(ctx, http.MethodPost, "/oauth2/introspect", form, b.resource.id, b.resource.secret, "")
				if err != nil {
					return err
				}
				m, err := expectJSON(resp, raw, 200)
				if err == nil && m["active"] != true {
					err = fmt.Errorf("token not active")
				}
				return err
			}, nil
		}, "a live opaque access token, introspected by another client (HTTP Basic)", 1, nil

	case "refresh":
		return func(i int) (worker, error) {
			c := newConn(iss)
			tok, err := c.login(b.ctx, b.webES, b.users[i%len(b.users)], benchPassword, nil, iss)
			if err != nil {
				return nil, err
			}
			rt := tok["refresh_token"].(string)
			return func(ctx context.Context) error {
				resp, raw, err := c.do(ctx, http.MethodPost, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, b.webES.id, b.webES.secret, "")
				if err != nil {
					return err
				}
				m, err := expectJSON(resp, raw, 200)
				if err != nil {
					return err
				}
				rt = m["refresh_token"].(string)
				return nil
			}, nil
		}, "openid offline_access grant, ES256 ID token re-issued on every refresh; rotation in one transaction", 1, nil

	case "authcode_sso":
		return func(i int) (worker, error) {
			c := newConn(iss)
			if _, err := c.login(b.ctx, b.web, b.users[i%len(b.users)], benchPassword, nil, iss); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				_, err := c.sso(ctx, b.web, b.keys, iss)
				return err
			}, nil
		}, "GET /oauth2/auth with a session (303 with the code) + POST /oauth2/token with PKCE; RS256 ID token verified", 2, nil

	case "login":
		return func(i int) (worker, error) {
			c := newConn(iss)
			email := b.users[i%len(b.users)]
			return func(ctx context.Context) error {
				_, err := c.login(ctx, b.web, email, benchPassword, b.keys, iss)
				return err
			}, nil
		}, "auth → login page → password (argon2id), back with the code → token; RS256 ID token verified", 4, nil

	case "hash_only":
		p := login.DefaultArgon2
		p.Time, p.Memory = uint32(b.o.argonT), uint32(b.o.argonM)
		salt := []byte("0123456789abcdef")
		return func(int) (worker, error) {
			return func(context.Context) error {
				_ = argon2.IDKey([]byte(benchPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
				return nil
			}, nil
		}, fmt.Sprintf("raw argon2id (m=%dKiB t=%d p=%d) in the bench process, GOMAXPROCS=%d", p.Memory, p.Time, p.Threads, runtime.GOMAXPROCS(0)), 0, nil

	case "userinfo":
		c := newConn(iss)
		tok, err := c.login(b.ctx, b.web, b.users[0], benchPassword, nil, iss)
		if err != nil {
			return nil, "", 0, err
		}
		at := tok["access_token"].(string)
		return func(int) (worker, error) {
			c := newConn(iss)
			return func(ctx context.Context) error {
				resp, raw, err := c.do(ctx, http.MethodGet, "/userinfo", nil, "", "", at)
				if err != nil {
					return err
				}
				m, err := expectJSON(resp, raw, 200)
				if err == nil && m["sub"] == nil {
					err = fmt.Errorf("no sub")
				}
				return err
			}, nil
		}, "GET /userinfo with a bearer access token", 1, nil
	}
	return nil, "", 0, fmt.Errorf("unknown scenario %q", name)
}
