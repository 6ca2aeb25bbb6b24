package server

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
)

// Services are gatehouse's services wired over one store: what serve
// mounts and what the admin commands (clients, users, keys) call.
type Services struct {
	Accounts *login.Service
	Sessions *login.Sessions
	Flows    *flow.Service
	Consent  *consent.Service
	Provider *provider.Provider
	Pages    *pages.Renderer
	Cookies  web.Cookies
	CSRF     web.CSRF
}

// NewServices wires the services. It touches no database.
func NewServices(cfg config.Config, store storage.Store, ring *keyring.Keyring, log *slog.Logger, now func() time.Time) (*Services, error) {
	https := strings.HasPrefix(cfg.Issuer, "https://")
	renderer, err := pages.New(logging.Area(log, "http"), https)
	if err != nil {
		return nil, err
	}
	s := &Services{Pages: renderer, Cookies: web.Cookies{Secure: https}, CSRF: web.CSRF{Keys: ring}}
	argon := login.DefaultArgon2
	argon.Memory, argon.Time = cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations
	s.Accounts = &login.Service{Store: store, Hasher: login.NewHasher(argon, cfg.Passwords.Concurrency, 0),
		Policy: login.DefaultPasswordPolicy, Now: now, Log: logging.Area(log, "login"), SessionTTL: cfg.Tokens.SessionTTL}
	s.Sessions = &login.Sessions{Service: s.Accounts, Cookies: s.Cookies}
	s.Flows = &flow.Service{Store: store, Now: now}
	s.Consent = &consent.Service{Store: store}
	s.Provider = provider.New(provider.Deps{
		Store: store, Ring: ring, Accounts: s.Accounts, Sessions: s.Sessions, Grants: s.Consent, Flows: s.Flows,
		ShowLogin: login.ShowPage(renderer, s.CSRF), Pages: renderer, Cookies: s.Cookies, CSRF: s.CSRF, Log: logging.Area(log, "provider"), Now: now,
		Issuer: strings.TrimSuffix(cfg.Issuer, "/"),
		Lifetimes: provider.Lifetimes{AccessToken: cfg.Tokens.AccessTokenTTL, RefreshToken: cfg.Tokens.RefreshTokenTTL,
			AuthorizationCode: cfg.Tokens.AuthorizationCodeTTL, IDToken: cfg.Tokens.IDTokenTTL},
	})
	return s, nil
}

// loginHandler and consentHandler serve the two steps of the sign-in path.
func (s *Services) loginHandler() *login.Handler {
	return &login.Handler{Service: s.Accounts, Sessions: s.Sessions, Flows: s.Flows, Pages: s.Pages,
		Cookies: s.Cookies, CSRF: s.CSRF, Continue: s.Provider.ContinueSignedIn}
}

func (s *Services) consentHandler() *consent.Handler {
	return &consent.Handler{Service: s.Consent, Flows: s.Flows, Pages: s.Pages, Cookies: s.Cookies, CSRF: s.CSRF,
		Continue: s.Provider.Continue}
}
