package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// allScenarios are the scenarios, in the order a run takes them by default.
var allScenarios = []string{"client_credentials", "client_credentials_jwt_rs256", "client_credentials_jwt_es256",
	"introspect", "refresh", "authcode_sso", "hash_only", "login", "userinfo"}

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

	ref     *bench // a second server on a small, fresh database (reference)
	stopRef func()
}

func newBench(ctx context.Context, o options, srv *serverProc) (*bench, error) {
	cfg := config.Default()
	cfg.DSN, cfg.Issuer, cfg.Secret = srv.dsn, srv.url, config.List{benchSecret}
	cfg.Passwords.Iterations, cfg.Passwords.MemoryKiB = uint32(o.argonT), uint32(o.argonM)
	store, err := server.OpenStore(cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return nil, err
	}
	ring, err := keyring.New(cfg.Secret)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	svc, err := server.NewServices(cfg, store, ring, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	b := &bench{o: o, srv: srv, store: store, svc: svc, ctx: tenant.With(ctx, tenant.Default),
		keys: &jwks{url: srv.url + "/.well-known/jwks.json"}}
	if err := b.seed(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
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

// scenario is a scenario ready to drive.
type scenario struct {
	newWorker func(i int) (worker, error) // the worker of connection i
	note      string
	perIter   int // HTTP requests per iteration
	conns     *connSet
}

// close closes the scenario's connections; call it when its workers are done.
func (s *scenario) close() { s.conns.close() }

// scenario sets up the named scenario.
func (b *bench) scenario(name string) (*scenario, error) {
	conns := &connSet{}
	sc, err := b.setUp(name, conns)
	if err != nil {
		conns.close()
		return nil, err
	}
	sc.conns = conns
	return sc, nil
}

func (b *bench) setUp(name string, conns *connSet) (*scenario, error) {
	iss := b.srv.url
	ccForm := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	switch name {
	case "client_credentials", "client_credentials_jwt_rs256", "client_credentials_jwt_es256":
		a := map[string]app{"client_credentials": b.ccOpaque, "client_credentials_jwt_rs256": b.ccRS, "client_credentials_jwt_es256": b.ccES}[name]
		return &scenario{newWorker: func(int) (worker, error) {
			c := conns.open(iss)
			return func(ctx context.Context) error {
				tok, err := c.token(ctx, a, ccForm)
				if err == nil && tok.AccessToken == "" {
					err = errors.New("no access_token")
				}
				return err
			}, nil
		}, note: "POST /oauth2/token", perIter: 1}, nil

	case "introspect":
		tok, err := conns.open(iss).token(b.ctx, b.ccOpaque, ccForm)
		if err != nil {
			return nil, err
		}
		if tok.AccessToken == "" {
			return nil, errors.New("introspect: no access_token to introspect")
		}
		form := url.Values{"token": {tok.AccessToken}}
		return &scenario{newWorker: func(int) (worker, error) {
			c := conns.open(iss)
			return func(ctx context.Context) error {
				var m struct {
					Active bool `json:"active"`
				}
				err := c.clientJSON(ctx, b.resource, "/oauth2/introspect", form, &m)
				if err == nil && !m.Active {
					err = errors.New("token not active")
				}
				return err
			}, nil
		}, note: "a live opaque access token, introspected by another client (HTTP Basic)", perIter: 1}, nil

	case "refresh":
		return &scenario{newWorker: func(i int) (worker, error) {
			c := conns.open(iss)
			tok, err := c.login(b.ctx, b.webES, b.users[i%len(b.users)], benchPassword, nil, iss)
			if err != nil {
				return nil, err
			}
			rt := tok.RefreshToken
			if rt == "" {
				return nil, errors.New("no refresh_token")
			}
			return func(ctx context.Context) error {
				tok, err := c.token(ctx, b.webES, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					return err
				}
				if tok.RefreshToken == "" {
					return errors.New("no refresh_token")
				}
				rt = tok.RefreshToken
				return nil
			}, nil
		}, note: "openid offline_access grant, ES256 ID token re-issued on every refresh; rotation in one transaction", perIter: 1}, nil

	case "authcode_sso":
		return &scenario{newWorker: func(i int) (worker, error) {
			c := conns.open(iss)
			if _, err := c.login(b.ctx, b.web, b.users[i%len(b.users)], benchPassword, nil, iss); err != nil {
				return nil, err
			}
			return func(ctx context.Context) error {
				_, err := c.sso(ctx, b.web, b.keys, iss)
				return err
			}, nil
		}, note: "GET /oauth2/auth with a session (303 with the code) + POST /oauth2/token with PKCE; RS256 ID token verified", perIter: 2}, nil

	case "login":
		return &scenario{newWorker: func(i int) (worker, error) {
			c := conns.open(iss)
			email := b.users[i%len(b.users)]
			return func(ctx context.Context) error {
				_, err := c.login(ctx, b.web, email, benchPassword, b.keys, iss)
				return err
			}, nil
		}, note: "auth (answered with the login page) → password (argon2id), back with the code → token; RS256 ID token verified", perIter: 3}, nil

	case "hash_only":
		p := login.DefaultArgon2
		p.Time, p.Memory = uint32(b.o.argonT), uint32(b.o.argonM)
		salt := []byte("0123456789abcdef")
		return &scenario{newWorker: func(int) (worker, error) {
			return func(context.Context) error {
				_ = argon2.IDKey([]byte(benchPassword), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
				return nil
			}, nil
		}, note: fmt.Sprintf("raw argon2id (m=%dKiB t=%d p=%d) in the bench process, GOMAXPROCS=%d", p.Memory, p.Time, p.Threads, runtime.GOMAXPROCS(0))}, nil

	case "userinfo":
		tok, err := conns.open(iss).login(b.ctx, b.web, b.users[0], benchPassword, nil, iss)
		if err != nil {
			return nil, err
		}
		if tok.AccessToken == "" {
			return nil, errors.New("userinfo: no access_token")
		}
		return &scenario{newWorker: func(int) (worker, error) {
			c := conns.open(iss)
			return func(ctx context.Context) error {
				var m struct {
					Sub string `json:"sub"`
				}
				err := c.bearerJSON(ctx, "/userinfo", tok.AccessToken, &m)
				if err == nil && m.Sub == "" {
					err = errors.New("no sub")
				}
				return err
			}, nil
		}, note: "GET /userinfo with a bearer access token", perIter: 1}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}
