package provider

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"
)

// Accounts is what the provider asks the login service about accounts.
type Accounts interface {
	// Active returns the account if it may use its tokens now; otherwise
	// USER_NOT_FOUND or the catalog status error.
	Active(ctx context.Context, userID string) (storage.User, error)
}

// BrowserSessions is what the provider asks about browser sessions.
type BrowserSessions interface {
	Current(ctx context.Context, r *http.Request) (*login.Session, error)
	End(ctx context.Context, w http.ResponseWriter, r *http.Request) (*storage.LoginSession, error)
}

// Grants is what the provider asks the consent service.
type Grants interface {
	Covers(ctx context.Context, userID, clientID string, scopes []string) (bool, error)
	Remember(ctx context.Context, userID, clientID string, scopes []string, auto bool) error
}

// Lifetimes are the token lifetimes.
type Lifetimes struct {
	AccessToken, RefreshToken, AuthorizationCode, IDToken time.Duration
}

// Deps are what New needs.
type Deps struct {
	Store    Store
	Ring     *keyring.Keyring
	Accounts Accounts
	Sessions BrowserSessions
	Grants   Grants
	Flows    *flow.Service
	// ShowLogin (login.ShowPage) renders the sign-in page of a flow just
	// started: an authorization request that needs a sign-in is answered
	// with the page itself.
	ShowLogin func(w http.ResponseWriter, r *http.Request, f *flow.Flow, device string)
	Pages     *pages.Renderer
	Cookies   web.Cookies
	CSRF      web.CSRF
	Log       *slog.Logger
	Now       func() time.Time
	// Issuer is the default tenant's issuer; others are Issuer/t/{id}.
	Issuer    string
	Lifetimes Lifetimes
	// ClientCacheTTL bounds how long a client record is reused (default 1s;
	// negative disables the cache).
	ClientCacheTTL time.Duration
}

// Provider is the OAuth 2.0 / OpenID Connect protocol core.
type Provider struct {
	Deps
	oauth *fosite.Fosite
	// byGrant holds, per grant type, a fosite whose token endpoint has only
	// that grant's handlers: fosite asks every handler of its list and each
	// one that does not apply answers with an error carrying a stack trace
	// (~10 per token request); these skip that work.
	byGrant map[string]*fosite.Fosite
	store   *fositeStore
	Keys    *Keys
	signer  *Signer
	Clients *Clients
}

// tenantConfig is fosite's configuration with the per-tenant values fosite
// reads through ctx: the token URL (the audience of private_key_jwt client
// assertions) and the issuers.
type tenantConfig struct {
	*fosite.Config
	issuer string
}

func (c *tenantConfig) GetTokenURL(ctx context.Context) string {
	return tenant.Issuer(c.issuer, tenantID(ctx)) + "/oauth2/token"
}

func (c *tenantConfig) GetTokenURLs(ctx context.Context) []string {
	return []string{c.GetTokenURL(ctx)}
}

func (c *tenantConfig) GetIDTokenIssuer(ctx context.Context) string {
	return tenant.Issuer(c.issuer, tenantID(ctx))
}

func (c *tenantConfig) GetAccessTokenIssuer(ctx context.Context) string {
	return tenant.Issuer(c.issuer, tenantID(ctx))
}

// New composes fosite with gatehouse's storage, keys and strategies.
func New(d Deps) *Provider {
	p := &Provider{Deps: d}
	ttl := d.ClientCacheTTL
	if ttl == 0 {
		ttl = time.Second
	}
	cache := &clientCache{db: d.Store, ttl: ttl, now: d.Now}
	p.store = &fositeStore{db: d.Store, ring: d.Ring, clients: cache, now: d.Now}
	p.Keys = &Keys{Store: d.Store, Ring: d.Ring, Now: d.Now, Log: d.Log,
		Retention: max(d.Lifetimes.IDToken, d.Lifetimes.AccessToken) + time.Hour}
	p.signer = &Signer{Keys: p.Keys}
	p.Clients = &Clients{Store: d.Store, Ring: d.Ring, Now: d.Now, cache: cache}

	secrets := d.Ring.Keys(keyring.PurposeTokenHMAC)
	cfg := &fosite.Config{
		AccessTokenLifespan:            d.Lifetimes.AccessToken,
		RefreshTokenLifespan:           d.Lifetimes.RefreshToken,
		AuthorizeCodeLifespan:          d.Lifetimes.AuthorizationCode,
		IDTokenLifespan:                d.Lifetimes.IDToken,
		GlobalSecret:                   secrets[0],
		RotatedGlobalSecrets:           secrets[1:],
		ClientSecretsHasher:            secretHasher{ring: d.Ring},
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.ExactAudienceMatchingStrategy,
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		MinParameterEntropy:            minParameterEntropy,
		RedirectSecureChecker:          redirectSecure,
		AllowedPromptValues:            []string{"login", "none", "consent"},
		IDTokenIssuer:                  d.Issuer,
		AccessTokenIssuer:              d.Issuer,
		SendDebugMessagesToClients:     false,
		SanitationWhiteList:            codeFormValues, // the code's row is also its PKCE and OIDC session
	}
	hmacStrategy := oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: cfg}, cfg)
	strategy := &compose.CommonStrategy{
		CoreStrategy: &tokenStrategy{
			hmac: hmacStrategy,
			jwt:  &oauth2.DefaultJWTStrategy{Signer: p.signer, HMACSHAStrategy: hmacStrategy, Config: cfg},
		},
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: p.signer, Config: cfg},
		Signer:                     p.signer,
	}
	p.store.codeSignature = strategy.AuthorizeCodeSignature
	f := compose.Compose(cfg, p.store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory, // after the code handler: it needs the code
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	).(*fosite.Fosite)
	f.Config = &tenantConfig{Config: cfg, issuer: d.Issuer}
	p.oauth = f
	p.byGrant = map[string]*fosite.Fosite{}
	for _, grant := range []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials} {
		// Each handler says which grant it serves (fosite's own dispatch
		// asks the same question of every handler on every request).
		probe := fosite.NewAccessRequest(nil)
		probe.GrantTypes = fosite.Arguments{grant}
		c := *cfg
		c.TokenEndpointHandlers = nil
		for _, h := range cfg.TokenEndpointHandlers {
			if h.CanHandleTokenEndpointRequest(context.Background(), probe) {
				c.TokenEndpointHandlers = append(c.TokenEndpointHandlers, h)
			}
		}
		p.byGrant[grant] = &fosite.Fosite{Store: f.Store, Config: &tenantConfig{Config: &c, issuer: d.Issuer}}
	}
	return p
}

// redirectSecure is fosite's check for prompt=none with public clients: the
// same rule as registration.
func redirectSecure(_ context.Context, u *url.URL) bool {
	return ValidateRedirectURI(u.String()) == nil
}

// issuer returns the ctx tenant's issuer.
func (p *Provider) issuer(ctx context.Context) string { return tenant.Issuer(p.Issuer, tenantID(ctx)) }

// Register mounts the protocol endpoints on mux.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", p.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", p.jwks)
	mux.HandleFunc("GET /oauth2/auth", p.authorize)
	mux.HandleFunc("POST /oauth2/auth", p.authorize)
	mux.HandleFunc("POST /oauth2/token", p.token)
	mux.HandleFunc("POST /oauth2/introspect", p.introspect)
	mux.HandleFunc("POST /oauth2/revoke", p.revoke)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("POST /userinfo", p.userinfo)
	mux.HandleFunc("GET /oauth2/sessions/logout", p.logout)
	mux.HandleFunc("POST /oauth2/sessions/logout", p.logout)
}
