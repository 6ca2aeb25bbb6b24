package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
	josev3 "github.com/go-jose/go-jose/v3"
)

// Grant types gatehouse supports. No implicit, hybrid or password grant.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Client authentication methods.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// ClientSpec is a client's settings as an operator gives them.
type ClientSpec struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	Audience               []string
	Public                 bool
	AuthMethod             string
	AuthSigningAlg         string // private_key_jwt: RS256 (default), ES256, PS256…
	JWKS                   json.RawMessage
	IDTokenAlg             string // RS256 (default) or ES256
	AccessTokenFormat      string // opaque (default) or jwt
	SkipConsent            bool
}

// SpecOf returns the spec of a stored client, for updates.
func SpecOf(c storage.Client) ClientSpec {
	return ClientSpec{Name: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, Scopes: c.Scopes, Audience: c.Audience, Public: c.Public,
		AuthMethod: c.TokenEndpointAuthMethod, AuthSigningAlg: c.TokenEndpointAuthSigningAlg, JWKS: c.JWKS,
		IDTokenAlg: c.IDTokenAlg, AccessTokenFormat: c.AccessTokenFormat, SkipConsent: c.SkipConsent}
}

// withDefaults fills what is unset.
func (s ClientSpec) withDefaults() ClientSpec {
	if len(s.GrantTypes) == 0 {
		s.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	if s.AuthMethod == "" {
		s.AuthMethod = AuthSecretBasic
		if s.Public {
			s.AuthMethod = AuthNone
		}
	}
	if s.IDTokenAlg == "" {
		s.IDTokenAlg = RS256
	}
	if s.AccessTokenFormat == "" {
		s.AccessTokenFormat = "opaque"
	}
	if s.Scopes == nil {
		if slices.Contains(s.GrantTypes, GrantAuthorizationCode) {
			s.Scopes = []string{"openid", "profile", "email", "phone", "offline_access"}
		} else {
			s.Scopes = []string{}
		}
	}
	return s
}

// Validate checks a spec (with defaults applied) and reports every problem
// as one INVALID_REQUEST naming the fields.
func (s ClientSpec) Validate() error {
	var problems []string
	bad := func(field, format string, a ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(s.Name) == "" {
		bad("name", "required")
	}
	for _, g := range s.GrantTypes {
		if !slices.Contains([]string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}, g) {
			bad("grant_type", "%q is not supported (authorization_code, refresh_token, client_credentials)", g)
		}
	}
	code := slices.Contains(s.GrantTypes, GrantAuthorizationCode)
	if code && len(s.RedirectURIs) == 0 {
		bad("redirect_uri", "at least one is required for authorization_code")
	}
	for _, u := range s.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			bad("redirect_uri", "%q: %v", u, err)
		}
	}
	for _, u := range s.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			bad("post_logout_redirect_uri", "%q: %v", u, err)
		}
	}
	for _, sc := range s.Scopes {
		if !validScopeToken(sc) {
			bad("scope", "%q is not a valid scope token (RFC 6749 §3.3)", sc)
		}
		// Scopes are case-sensitive, but fosite's handlers find openid and
		// offline_access case-insensitively: a look-alike of a standard
		// scope would be one to gatehouse and another to fosite.
		for _, std := range standardScopes {
			if sc != std && strings.EqualFold(sc, std) {
				bad("scope", "%q: the standard scope is written %q (scopes are case-sensitive)", sc, std)
			}
		}
	}
	switch {
	case s.Public && s.AuthMethod != AuthNone:
		bad("token_endpoint_auth_method", "a public client authenticates with none")
	case !s.Public && s.AuthMethod == AuthNone:
		bad("token_endpoint_auth_method", "none is for public clients (--public)")
	case !slices.Contains([]string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}, s.AuthMethod):
		bad("token_endpoint_auth_method", "%q is not supported", s.AuthMethod)
	}
	if s.Public && slices.Contains(s.GrantTypes, GrantClientCredentials) {
		bad("grant_type", "client_credentials needs a confidential client")
	}
	// Keys are checked whatever the method: a client never registers
	// private key material (it would be stored and shown back).
	if s.AuthMethod == AuthPrivateKeyJWT || len(s.JWKS) > 0 {
		if err := validateJWKS(s.JWKS); err != nil {
			bad("jwks", "%v", err)
		}
	}
	// OIDC Registration §2: none MUST NOT be used; and an algorithm the
	// token endpoint does not verify (HS256, a misspelling) would leave a
	// client that can never authenticate.
	if s.AuthSigningAlg != "" && !slices.Contains(assertionAlgs, s.AuthSigningAlg) {
		bad("token_endpoint_auth_signing_alg", "want one of %s, got %q", strings.Join(assertionAlgs, ", "), s.AuthSigningAlg)
	}
	if !slices.Contains(Algs, s.IDTokenAlg) {
		bad("id_token_signed_response_alg", "want RS256 or ES256, got %q", s.IDTokenAlg)
	}
	if s.AccessTokenFormat != "opaque" && s.AccessTokenFormat != "jwt" {
		bad("access_token_format", "want opaque or jwt, got %q", s.AccessTokenFormat)
	}
	if s.AccessTokenFormat == "jwt" && len(s.Audience) == 0 {
		// RFC 9068 §2.2: aud is required, and names the resource servers
		// that must accept the token; there is no sensible default.
		bad("audience", "JWT access tokens need at least one audience (the APIs that accept them)")
	}
	if len(problems) > 0 {
		return catalog.InvalidRequest.WithMessage(strings.Join(problems, "; ")).WithDetail("field", strings.SplitN(problems[0], ":", 2)[0])
	}
	return nil
}

// ValidateRedirectURI applies the registration rules (RFC 9700 §2.1,
// RFC 8252): absolute, no fragment, no user info; https, or http on a
// loopback host, or a private-use scheme of a native app (reverse domain
// name, e.g. com.example.app:/callback).
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return errors.New("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment")
	}
	if u.User != nil {
		return errors.New("must not contain user info")
	}
	// Matching is exact (RFC 9700 §2.1): a '*' in the host (where no
	// host name has one) would be taken literally, never as a pattern.
	if strings.Contains(u.Host, "*") {
		return errors.New("must not contain a wildcard (redirect URIs are matched exactly)")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("has no host")
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return errors.New("http is allowed only on loopback (127.0.0.1, [::1], localhost); use https")
		}
	default:
		if !strings.Contains(u.Scheme, ".") || slices.Contains([]string{"javascript", "data", "file", "vbscript"}, strings.ToLower(u.Scheme)) {
			return errors.New("scheme must be https, loopback http, or a reverse-domain private-use scheme")
		}
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// standardScopes are the OAuth and OpenID Connect scopes gatehouse gives a
// meaning to.
var standardScopes = []string{"openid", "profile", "email", "phone", "address", "offline_access", "offline"}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5C || c > 0x7E {
			return false
		}
	}
	return true
}

func validateJWKS(raw json.RawMessage) error {
	if len(raw) == 0 {
		return errors.New("private_key_jwt needs the client's public keys (--jwks FILE)")
	}
	var set josev3.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("not a JWK set: %v", err)
	}
	usable := 0
	kids := map[string]bool{}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return errors.New("holds a private key; register public keys only")
		}
		if k.KeyID != "" {
			if kids[k.KeyID] {
				return fmt.Errorf("two keys with kid %q (RFC 7517 §4.5: distinct kids)", k.KeyID)
			}
			kids[k.KeyID] = true
		}
		if k.Use == "sig" {
			usable++
		}
	}
	if usable == 0 {
		return errors.New(`no key with "use":"sig"`)
	}
	return nil
}

// ClientStore is what Clients needs from storage.
type ClientStore interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	storage.Clients
	AppendEvent(ctx context.Context, e storage.Event) error
}

// Clients registers and manages the ctx tenant's clients.
type Clients struct {
	Store ClientStore
	Ring  *keyring.Keyring
	Now   func() time.Time
	cache *clientCache
}

// NewClientID returns a random client id: 26 characters of [a-z0-9], never
// shaped like a user id (a UUID), so a client_credentials subject cannot
// collide with an account's.
func NewClientID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 26)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// NewClientSecret returns 256 random bits in the URL-safe alphabet (safe in
// HTTP Basic without form-encoding).
func NewClientSecret() string { return web.RandomToken(32) }

// Create registers a client and returns it with its secret: empty for
// public clients and for private_key_jwt ones, which authenticate with
// their key only (a secret would be a second, weaker way in, at the
// introspection endpoint's HTTP Basic). The secret is shown once; only its
// keyed hash is kept.
func (cs *Clients) Create(ctx context.Context, spec ClientSpec) (storage.Client, string, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return storage.Client{}, "", err
	}
	now := cs.Now().UTC()
	c := toClient(spec)
	c.ID, c.CreatedAt, c.UpdatedAt = NewClientID(), now, now
	var secret string
	if hasSecret(c) {
		secret = NewClientSecret()
		c.SecretHash = cs.Ring.MAC(keyring.PurposeClientSecret, []byte(secret))
	}
	err := cs.Store.InTx(ctx, func(ctx context.Context) error {
		if err := cs.Store.CreateClient(ctx, c); err != nil {
			return err
		}
		return events.Record(ctx, cs.Store, events.ClientCreated, c.ID, map[string]any{"name": c.Name, "grant_types": c.GrantTypes})
	})
	return c, secret, err
}

func toClient(s ClientSpec) storage.Client {
	rt := []string{}
	if slices.Contains(s.GrantTypes, GrantAuthorizationCode) {
		rt = []string{"code"}
	}
	return storage.Client{Name: strings.TrimSpace(s.Name), RedirectURIs: s.RedirectURIs,
		PostLogoutRedirectURIs: s.PostLogoutRedirectURIs, GrantTypes: s.GrantTypes, ResponseTypes: rt,
		Scopes: s.Scopes, Audience: s.Audience, Public: s.Public, TokenEndpointAuthMethod: s.AuthMethod,
		TokenEndpointAuthSigningAlg: s.AuthSigningAlg, JWKS: s.JWKS, IDTokenAlg: s.IDTokenAlg,
		AccessTokenFormat: s.AccessTokenFormat, SkipConsent: s.SkipConsent}
}

// Get returns a client or USER_NOT_FOUND-style INVALID_REQUEST when absent.
func (cs *Clients) Get(ctx context.Context, id string) (storage.Client, error) {
	c, err := cs.Store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return c, catalog.InvalidRequest.WithMessage("no client with id "+id).WithDetail("field", "client_id").Wrap(err)
	}
	return c, err
}

// List returns the tenant's clients.
func (cs *Clients) List(ctx context.Context) ([]storage.Client, error) {
	return cs.Store.ListClients(ctx)
}

// Update applies change to a client's spec and stores it, validated. A
// client cannot switch between public and confidential (its secret would
// not match); create a new one instead.
func (cs *Clients) Update(ctx context.Context, id string, change func(*ClientSpec)) (storage.Client, error) {
	var out storage.Client
	err := cs.Store.InTx(ctx, func(ctx context.Context) error {
		cur, err := cs.Get(ctx, id)
		if err != nil {
			return err
		}
		spec := SpecOf(cur)
		change(&spec)
		if spec.Public != cur.Public {
			return catalog.InvalidRequest.WithMessage("public: a client cannot change between public and confidential").WithDetail("field", "public")
		}
		spec = spec.withDefaults()
		if err := spec.Validate(); err != nil {
			return err
		}
		next := toClient(spec)
		next.ID, next.SecretHash, next.CreatedAt, next.UpdatedAt = cur.ID, cur.SecretHash, cur.CreatedAt, cs.Now().UTC()
		if !hasSecret(next) {
			next.SecretHash = nil // moved to private_key_jwt: the secret stops working
		}
		if err := cs.Store.UpdateClient(ctx, next); err != nil {
			return err
		}
		out = next
		return events.Record(ctx, cs.Store, events.ClientUpdated, id, nil)
	})
	cs.forget(ctx, id)
	return out, err
}

// RotateSecret replaces a confidential client's secret; the old one stops
// working at once (on other replicas within the client cache's second).
func (cs *Clients) RotateSecret(ctx context.Context, id string) (string, error) {
	secret := NewClientSecret()
	err := cs.Store.InTx(ctx, func(ctx context.Context) error {
		c, err := cs.Get(ctx, id)
		if err != nil {
			return err
		}
		if c.Public {
			return catalog.InvalidRequest.WithMessage("a public client has no secret").WithDetail("field", "client_id")
		}
		if !hasSecret(c) {
			return catalog.InvalidRequest.WithMessage("a private_key_jwt client has no secret: it authenticates with its keys").WithDetail("field", "client_id")
		}
		c.SecretHash, c.UpdatedAt = cs.Ring.MAC(keyring.PurposeClientSecret, []byte(secret)), cs.Now().UTC()
		if err := cs.Store.UpdateClient(ctx, c); err != nil {
			return err
		}
		return events.Record(ctx, cs.Store, events.ClientSecretRoll, id, nil)
	})
	cs.forget(ctx, id)
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Delete removes a client with its tokens and grants.
func (cs *Clients) Delete(ctx context.Context, id string) error {
	err := cs.Store.InTx(ctx, func(ctx context.Context) error {
		if err := cs.Store.DeleteClient(ctx, id); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return catalog.InvalidRequest.WithMessage("no client with id "+id).WithDetail("field", "client_id").Wrap(err)
			}
			return err
		}
		return events.Record(ctx, cs.Store, events.ClientDeleted, id, nil)
	})
	cs.forget(ctx, id)
	return err
}

func (cs *Clients) forget(ctx context.Context, id string) {
	if cs.cache != nil {
		cs.cache.forget(ctx, id)
	}
}

// hasSecret reports whether a client authenticates with a secret.
func hasSecret(c storage.Client) bool {
	return !c.Public && c.TokenEndpointAuthMethod != AuthPrivateKeyJWT && c.TokenEndpointAuthMethod != AuthNone
}
