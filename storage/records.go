package storage

import (
	"context"
	"encoding/json"
	"time"
)

// Client is a registered OAuth2 / OIDC client of a tenant.
type Client struct {
	TenantID   string
	ID         string
	Name       string
	SecretHash []byte // keyed hash of the secret; nil for public clients
	// RedirectURIs are compared byte for byte (loopback may vary the port).
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	ResponseTypes          []string
	Scopes                 []string
	Audience               []string
	Public                 bool
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post,
	// private_key_jwt or none.
	TokenEndpointAuthMethod     string
	TokenEndpointAuthSigningAlg string
	JWKS                        json.RawMessage // public keys for private_key_jwt
	IDTokenAlg                  string          // RS256 or ES256
	AccessTokenFormat           string          // opaque or jwt
	SkipConsent                 bool            // first-party: no consent page
	CreatedAt                   time.Time
	UpdatedAt                   time.Time
}

// User statuses.
const (
	StatusActive    = "active"
	StatusInactive  = "inactive"
	StatusSuspended = "suspended"
	StatusBanned    = "banned"
	StatusLocked    = "locked"
)

// User is an account.
type User struct {
	TenantID        string
	ID              string
	Email           string
	EmailNormalized string
	EmailVerified   bool
	Phone           string
	PhoneVerified   bool
	Name            string
	GivenName       string
	FamilyName      string
	Status          string
	StatusReason    string
	StatusBy        string
	StatusUntil     *time.Time
	Resettable      bool
	Metadata        json.RawMessage
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Credential types.
const CredentialPassword = "password"

// Credential is one way a user proves who they are.
type Credential struct {
	UserID    string
	Type      string
	Secret    string // PHC string for passwords
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LoginSession is a browser sign-in session.
type LoginSession struct {
	ID        string // public id, the OIDC sid
	TokenHash []byte // SHA-256 of the cookie value
	UserID    string
	AuthTime  time.Time
	AMR       []string
	ACR       string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// Flow is a pending authorization request between /oauth2/auth and the
// code; Data is owned by package flow.
type Flow struct {
	ID         string
	ClientID   string
	State      string
	DeviceHash []byte
	Data       json.RawMessage
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Grant is a remembered consent of a user to a client for scopes.
type Grant struct {
	ID        string
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Signing key states.
const (
	KeyNext    = "next"    // published in JWKS, not signing yet
	KeyActive  = "active"  // signing
	KeyRetired = "retired" // published until ExpiresAt, verifying only
)

// SigningKey is a tenant's JWS key; PrivateKey is sealed by the keyring.
type SigningKey struct {
	KID         string
	Alg         string
	State       string
	PrivateKey  []byte
	PublicJWK   json.RawMessage
	CreatedAt   time.Time
	ActivatedAt *time.Time
	RetiredAt   *time.Time
	ExpiresAt   *time.Time
}

// TokenKind names a table of fosite requests.
type TokenKind string

// The token kinds.
const (
	TokenCode    TokenKind = "code"
	TokenAccess  TokenKind = "access"
	TokenRefresh TokenKind = "refresh"
)

// Token is one stored fosite request (code, access or refresh token), keyed
// by a hash of its signature. A code's row also serves as its PKCE and OIDC
// session (the provider keeps their form values in it).
type Token struct {
	Signature       string
	RequestID       string
	ClientID        string
	Subject         string
	RequestedAt     time.Time
	ExpiresAt       time.Time
	Scopes          []string
	GrantedScopes   []string
	Audience        []string
	GrantedAudience []string
	Form            string
	Session         []byte
	Active          bool
	AccessSignature string // refresh tokens: the access token issued with it
}

// Clients stores a tenant's clients.
type Clients interface {
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, c Client) error
	DeleteClient(ctx context.Context, id string) error
}

// Users stores accounts and their credentials.
type Users interface {
	// CreateUser inserts an account; an email or phone already taken by
	// another account of the tenant is ErrConflict (another tenant may use
	// it; an empty email or phone never collides).
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, normalized string) (User, error)
	// GetUserCredential finds an account by normalized email together with
	// its credential of one type, in one query; the credential is zero
	// (empty Secret) when the account has none.
	GetUserCredential(ctx context.Context, normalized, typ string) (User, Credential, error)
	// SetUserStatus changes an account's status (ErrNotFound for an
	// unknown one); any status but active also ends the account's browser
	// sessions, atomically with the change.
	SetUserStatus(ctx context.Context, id, status, reason, by string, until *time.Time) error
	SetCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, userID, typ string) (Credential, error)
}

// LoginSessions stores browser sessions.
type LoginSessions interface {
	CreateLoginSession(ctx context.Context, s LoginSession) error
	GetLoginSessionByToken(ctx context.Context, tokenHash []byte) (LoginSession, error)
	// GetLoginSessionWithUser is GetLoginSessionByToken with the session's
	// account, in one query: what every authorization with a browser
	// session needs.
	GetLoginSessionWithUser(ctx context.Context, tokenHash []byte) (LoginSession, User, error)
	GetLoginSession(ctx context.Context, id string) (LoginSession, error)
	// RevokeLoginSession ends one session; RevokeUserLoginSessions all of a
	// user's. Both are idempotent: an unknown or already revoked session (or
	// a user without open ones) is no error, and revoked_at is not moved.
	RevokeLoginSession(ctx context.Context, id string, at time.Time) error
	RevokeUserLoginSessions(ctx context.Context, userID string, at time.Time) error
}

// Flows stores pending authorizations.
type Flows interface {
	CreateFlow(ctx context.Context, f Flow) error
	GetFlow(ctx context.Context, id string) (Flow, error)
	// UpdateFlow writes f only if the stored state is still fromState, so two
	// concurrent transitions cannot both win; otherwise ErrConflict, also
	// when the flow does not exist (expired and purged): never ErrNotFound.
	UpdateFlow(ctx context.Context, f Flow, fromState string) error
}

// Grants stores remembered consent.
type Grants interface {
	GetGrant(ctx context.Context, userID, clientID string) (Grant, error)
	// GetUserGrant returns an account and its grant to a client in one
	// query (what every refresh checks); the grant is zero (empty ID) when
	// there is none, the error ErrNotFound when the account is missing.
	GetUserGrant(ctx context.Context, userID, clientID string) (User, Grant, error)
	UpsertGrant(ctx context.Context, g Grant) error
	DeleteGrant(ctx context.Context, userID, clientID string) error
}

// SigningKeys stores a tenant's signing keys.
type SigningKeys interface {
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// CreateSigningKey inserts a key; a second active or next key of one alg
	// is ErrConflict.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// TransitionSigningKey moves a key from one state to another (setting
	// activated_at or retired_at/expires_at) only if it is in from;
	// otherwise ErrNotFound.
	TransitionSigningKey(ctx context.Context, kid, from, to string, at time.Time, expiresAt *time.Time) error
	// DeleteSigningKey removes a key; it is idempotent: a missing key is no
	// error (never ErrNotFound).
	DeleteSigningKey(ctx context.Context, kid string) error
}

// Tokens stores fosite's requests.
type Tokens interface {
	CreateToken(ctx context.Context, kind TokenKind, t Token) error
	// GetToken returns the row whether active or not.
	GetToken(ctx context.Context, kind TokenKind, signature string) (Token, error)
	// GetRefreshWithAccount returns a refresh token row (active or not)
	// with its account (the subject) and the account's grant to the
	// token's client (zero when none), in one query: what every refresh
	// needs. A token whose account no longer exists is ErrNotFound.
	GetRefreshWithAccount(ctx context.Context, signature string) (Token, User, Grant, error)
	// GetCodeWithAccount returns an authorization code row (active or not)
	// with its account (the subject), in one query: what every code
	// exchange needs. A code whose account no longer exists is ErrNotFound.
	GetCodeWithAccount(ctx context.Context, signature string) (Token, User, error)
	// DeactivateToken marks an active row inactive; ErrNotFound when no
	// active row matched (it was used already: the caller lost a race).
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// SpendToken is DeactivateToken for a transaction that goes on to issue
	// what the token or code is spent for: when no active row matched, the
	// error (wrapping ErrSpent and ErrNotFound) may come from this call or,
	// on a backend that sends the write with the transaction's later
	// statements (PostgreSQL), from a later call or the commit; either way
	// nothing the transaction wrote after it commits. Outside a transaction
	// it is DeactivateToken.
	SpendToken(ctx context.Context, kind TokenKind, signature string) error
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// RevokeTokens ends every row of kind issued for requestID: refresh
	// tokens are deactivated (kept for reuse detection until they expire),
	// the others deleted. It returns how many rows it changed.
	RevokeTokens(ctx context.Context, kind TokenKind, requestID string) (int64, error)
	// DiscardTokens is RevokeTokens without the count: inside a transaction
	// it may travel with the next statement (one round trip fewer), its
	// error coming back from there.
	DiscardTokens(ctx context.Context, kind TokenKind, requestID string) error
	// UseJTI records a client assertion id until exp; one seen before and
	// not expired is ErrConflict.
	UseJTI(ctx context.Context, jtiHash string, exp time.Time) error
}
