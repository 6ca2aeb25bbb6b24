package provider

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// Store is what the provider needs from storage.
type Store interface {
	storage.Transactor
	storage.Tokens
	storage.Clients
	KeyStore
}

// fositeStore implements fosite's storage contracts (FOSITE.md §3) over
// storage.Tokens. It keeps fosite out of the storage package: it turns
// requests into rows (client id, not the client; the session as JSON,
// sealed with GATEHOUSE_SECRET, bound to its row; only the sanitised form),
// hashes every signature before it is used as a key, and translates the
// storage sentinels into the errors fosite expects.
type fositeStore struct {
	db      Store
	ring    *keyring.Keyring
	clients *clientCache
	// codeSignature is the strategy's: the OIDC session is looked up by the
	// raw code, and lives in the code's row, keyed by its signature.
	codeSignature func(ctx context.Context, code string) string
	now           func() time.Time
}

var (
	// errCodeRedeemed: the code was redeemed by a concurrent request between
	// our read and our write (storage.ErrSpent from its spend); the token
	// endpoint treats it as a replay.
	errCodeRedeemed = errors.New("authorization code already redeemed")
	// errServerFailure marks a failure of ours under whatever fosite makes
	// of it (it calls any client lookup failure invalid_client).
	errServerFailure = errors.New("server failure")
	// errRefreshRaced: a concurrent refresh rotated the token first
	// (storage.ErrSpent from the rotation's spend).
	errRefreshRaced = errors.New("refresh token rotated by a concurrent request")
)

// hashSignature is how a token's signature is stored: hex SHA-256.
func hashSignature(sig string) string { return hex.EncodeToString(web.HashToken(sig)) }

func sealAAD(kind storage.TokenKind, key string) []byte {
	return []byte("fosite|" + string(kind) + "|" + key)
}

// toFosite translates storage sentinels; other errors pass with their chain
// intact (the endpoints look for storage.ErrUnavailable to answer 503).
func toFosite(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %w", fosite.ErrNotFound, err)
	case errors.Is(err, storage.ErrSerialization):
		return fmt.Errorf("%w: %w", fosite.ErrSerializationFailure, err)
	}
	return err
}

func expiryOf(kind storage.TokenKind, r fosite.Requester) time.Time {
	s := r.GetSession()
	var t time.Time
	switch kind {
	case storage.TokenAccess:
		t = s.GetExpiresAt(fosite.AccessToken)
	case storage.TokenRefresh:
		t = s.GetExpiresAt(fosite.RefreshToken)
	default:
		t = s.GetExpiresAt(fosite.AuthorizeCode)
	}
	if t.IsZero() {
		t = r.GetRequestedAt().Add(24 * time.Hour)
	}
	return t
}

// stored returns what a row of kind keeps of a session. Access-token rows
// are read for their subject, expiry and client only (the account's claims
// are always read live), so they keep no ID token claims: half the bytes to
// seal, store and decode on every introspection.
func stored(kind storage.TokenKind, sess fosite.Session) any {
	s, ok := sess.(*Session)
	if !ok || kind != storage.TokenAccess || s.DefaultSession == nil {
		return sess
	}
	lean := *s
	d := *s.DefaultSession
	d.Claims, d.Headers = nil, nil
	lean.DefaultSession = &d
	return &lean
}

func (f *fositeStore) create(ctx context.Context, kind storage.TokenKind, key string, r fosite.Requester, accessKey string) error {
	raw, err := json.Marshal(stored(kind, r.GetSession()))
	if err != nil {
		return err
	}
	row := storage.Token{
		Signature: key, RequestID: r.GetID(), ClientID: r.GetClient().GetID(), Subject: r.GetSession().GetSubject(),
		RequestedAt: r.GetRequestedAt(), ExpiresAt: expiryOf(kind, r),
		Scopes: r.GetRequestedScopes(), GrantedScopes: r.GetGrantedScopes(),
		Audience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: r.GetRequestForm().Encode(), Session: f.ring.Seal(raw, sealAAD(kind, key)), Active: true,
		AccessSignature: accessKey,
	}
	if l, _ := ctx.Value(loadedKey{}).(*loads); kind == storage.TokenRefresh && l != nil && l.refreshScopes != nil {
		row.GrantedScopes = l.refreshScopes // a narrowed refresh (narrowScopes)
	}
	return toFosite(f.db.CreateToken(ctx, kind, row))
}

// get loads a row and rebuilds the request into session (a new one when
// fosite passes nil, as its revocation handler does).
func (f *fositeStore) get(ctx context.Context, kind storage.TokenKind, key string, session fosite.Session) (*fosite.Request, bool, error) {
	row, err := f.db.GetToken(ctx, kind, key)
	if err != nil {
		return nil, false, toFosite(err)
	}
	return f.request(ctx, kind, key, row, session)
}

// request rebuilds a stored request from its row.
func (f *fositeStore) request(ctx context.Context, kind storage.TokenKind, key string, row storage.Token, session fosite.Session) (*fosite.Request, bool, error) {
	c, err := f.GetClient(ctx, row.ClientID)
	if err != nil {
		return nil, false, err
	}
	if session == nil {
		session = newSession()
	}
	raw, err := f.ring.Open(row.Session, sealAAD(kind, key))
	if err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal(raw, session); err != nil {
		return nil, false, err
	}
	if gs, ok := session.(*Session); ok && gs.DefaultSession != nil {
		if gs.Claims == nil { // a lean row (see stored)
			gs.Claims = &jwt.IDTokenClaims{Extra: map[string]any{}}
		}
		if gs.Headers == nil {
			gs.Headers = &jwt.Headers{Extra: map[string]any{}}
		}
	}
	form, _ := url.ParseQuery(row.Form)
	return &fosite.Request{
		ID: row.RequestID, RequestedAt: row.RequestedAt, Client: c, Form: form, Session: session,
		RequestedScope: row.Scopes, GrantedScope: row.GrantedScopes,
		RequestedAudience: row.Audience, GrantedAudience: row.GrantedAudience,
	}, row.Active, nil
}

// loadedKey is the ctx key of what a token request's reads loaded.
type loadedKey struct{}

// loads holds what the storage reads of one token request loaded, so that
// later reads and checks need no query of their own.
type loads struct {
	// The account and grant loaded with a refresh token.
	user  storage.User
	grant storage.Grant
	ok    bool
	// The authorization code's row, by key, with its account: fosite reads
	// the code twice (before and inside the transaction), then its PKCE and
	// OIDC sessions, which are the same row. Whether the code was still
	// unused is decided by InvalidateAuthorizeCodeSession's conditional
	// update, not by a read.
	codeKey  string
	code     storage.Token
	codeUser storage.User
	// The grant's scopes when a refresh asked for fewer: the new refresh
	// token keeps these, the new access token has the fewer.
	refreshScopes []string
}

// withLoadSlot returns ctx with room for what this token request's storage
// reads load.
func withLoadSlot(ctx context.Context) (context.Context, *loads) {
	l := &loads{}
	return context.WithValue(ctx, loadedKey{}, l), l
}

// codeRow returns the row of the code with key, read once per token request
// together with its account (kept for the token endpoint's check).
func (f *fositeStore) codeRow(ctx context.Context, key string) (storage.Token, error) {
	l, _ := ctx.Value(loadedKey{}).(*loads)
	if l != nil && l.codeKey == key {
		return l.code, nil
	}
	row, u, err := f.db.GetCodeWithAccount(ctx, key)
	if err != nil {
		return row, toFosite(err)
	}
	if l != nil {
		l.codeKey, l.code, l.codeUser = key, row, u
	}
	return row, nil
}

// GetClient returns a client of the ctx tenant (from the short-lived cache).
func (f *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := f.clients.get(ctx, id)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrUnavailable):
		return nil, toFosite(err)
	default:
		// fosite makes any error here invalid_client; marked, it is the
		// server's failure it is (toProtocol).
		return nil, fmt.Errorf("%w: %w", errServerFailure, err)
	}
}

// ClientAssertionJWTValid always passes: the check and the recording are
// one atomic statement in SetClientAssertionJWT, so two concurrent uses of
// one jti cannot both pass.
func (f *fositeStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

// maxAssertionLifetime bounds a client assertion's exp (fosite bounds
// nothing): a jti is remembered until exp, so an assertion valid for years
// would be kept for years, and one valid past the year 294247 overflowed
// the stored time and could be replayed.
const maxAssertionLifetime = time.Hour

// SetClientAssertionJWT records a private_key_jwt assertion's jti until it
// expires; a jti seen before is fosite.ErrJTIKnown. An assertion that
// expires more than maxAssertionLifetime from now is refused.
func (f *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	if exp.After(f.now().Add(maxAssertionLifetime)) {
		return fosite.ErrInvalidClient.WithHintf("The client_assertion must expire within %s.", maxAssertionLifetime)
	}
	err := f.db.UseJTI(ctx, hashSignature(jti), exp)
	if errors.Is(err, storage.ErrConflict) {
		return fosite.ErrJTIKnown
	}
	return err
}

// Authorization codes.

func (f *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, sig string, r fosite.Requester) error {
	return f.create(ctx, storage.TokenCode, hashSignature(sig), r, "")
}

// GetAuthorizeCodeSession returns a used code's request together with
// fosite.ErrInvalidatedAuthorizeCode, so fosite revokes what it issued.
func (f *fositeStore) GetAuthorizeCodeSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	key := hashSignature(sig)
	row, err := f.codeRow(ctx, key)
	if err != nil {
		return nil, err
	}
	req, active, err := f.request(ctx, storage.TokenCode, key, row, s)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks the code used in one conditional
// statement: of two concurrent exchanges only one spends it; the other gets
// storage.ErrSpent, here or (PostgreSQL, where the statement travels with
// the transaction's later ones) from the commit, and the token endpoint
// makes it errCodeRedeemed either way. Its PKCE and OIDC sessions, being
// the same row, are unusable with it.
func (f *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	return toFosite(f.db.SpendToken(ctx, storage.TokenCode, hashSignature(sig)))
}

// Access tokens.

func (f *fositeStore) CreateAccessTokenSession(ctx context.Context, sig string, r fosite.Requester) error {
	return f.create(ctx, storage.TokenAccess, hashSignature(sig), r, "")
}

func (f *fositeStore) GetAccessTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	req, active, err := f.get(ctx, storage.TokenAccess, hashSignature(sig), s)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, fosite.ErrNotFound
	}
	return req, nil
}

func (f *fositeStore) DeleteAccessTokenSession(ctx context.Context, sig string) error {
	return toFosite(f.db.DeleteToken(ctx, storage.TokenAccess, hashSignature(sig)))
}

// RevokeAccessToken deletes every access token of the grant.
func (f *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	_, err := f.db.RevokeTokens(ctx, storage.TokenAccess, requestID)
	return toFosite(err)
}

// Refresh tokens.

func (f *fositeStore) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, r fosite.Requester) error {
	access := ""
	if accessSig != "" {
		access = hashSignature(accessSig)
	}
	return f.create(ctx, storage.TokenRefresh, hashSignature(sig), r, access)
}

// GetRefreshTokenSession returns a rotated or revoked token's request
// together with fosite.ErrInactiveToken: fosite then revokes the family.
// The token's account and grant come in the same query; when the token
// endpoint left room for them in ctx they are kept for its checks.
func (f *fositeStore) GetRefreshTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	key := hashSignature(sig)
	row, u, g, err := f.db.GetRefreshWithAccount(ctx, key)
	if err != nil {
		return nil, toFosite(err)
	}
	if la, ok := ctx.Value(loadedKey{}).(*loads); ok {
		la.user, la.grant, la.ok = u, g, true
	}
	req, active, err := f.request(ctx, storage.TokenRefresh, key, row, s)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession deactivates rather than deletes, so a token
// presented again later is still recognised as reuse.
func (f *fositeStore) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	err := f.db.DeactivateToken(ctx, storage.TokenRefresh, hashSignature(sig))
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// RevokeRefreshToken deactivates every refresh token of the grant.
func (f *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	_, err := f.db.RevokeTokens(ctx, storage.TokenRefresh, requestID)
	return toFosite(err)
}

// RotateRefreshToken is strict rotation (as Hydra): the grant's access
// tokens go, and the presented refresh token is deactivated in one
// conditional statement. If a concurrent refresh deactivated it first this
// one fails with storage.ErrSpent, here or (PostgreSQL) from the commit,
// so a family never forks; the token endpoint makes it errRefreshRaced.
func (f *fositeStore) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	if err := f.db.DiscardTokens(ctx, storage.TokenAccess, requestID); err != nil {
		return toFosite(err)
	}
	return toFosite(f.db.SpendToken(ctx, storage.TokenRefresh, hashSignature(sig)))
}

// PKCE and OIDC sessions live in the code's row: the code is stored with
// their form values (codeFormValues, the sanitation allow-list) and the same
// session, so fosite's separate PKCE and OIDC writes, reads and deletes
// (five statements per flow) cost nothing, and the PKCE binding can never
// be separated from its code. fosite stores both right after the code, in
// the same authorize response (PKCE only when the request had a challenge,
// OIDC only for an openid code request), and the reads below give the same
// answers its own rows would.

// codeFormValues are the authorization request parameters kept with a code:
// fosite's defaults for the code (code, redirect_uri), those its PKCE
// handler keeps, and those its OIDC handler keeps.
var codeFormValues = []string{"code", "redirect_uri", "code_challenge", "code_challenge_method",
	"max_age", "prompt", "acr_values", "id_token_hint", "nonce"}

// CreatePKCERequestSession stores nothing: the code's row, written just
// before by the same response, holds the challenge.
func (f *fositeStore) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetPKCERequestSession returns the code's request when the authorization
// request had a challenge (fosite.ErrNotFound when not, as for a missing
// PKCE row). fosite reads only its form and client: the session is left as
// given.
func (f *fositeStore) GetPKCERequestSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	row, err := f.codeRow(ctx, hashSignature(sig))
	if err != nil {
		return nil, err
	}
	form, _ := url.ParseQuery(row.Form)
	if form.Get("code_challenge") == "" && form.Get("code_challenge_method") == "" {
		return nil, fmt.Errorf("%w: no PKCE challenge with this code", fosite.ErrNotFound)
	}
	c, err := f.GetClient(ctx, row.ClientID)
	if err != nil {
		return nil, err
	}
	return &fosite.Request{ID: row.RequestID, RequestedAt: row.RequestedAt, Client: c, Session: s,
		Form: url.Values{"code_challenge": form["code_challenge"], "code_challenge_method": form["code_challenge_method"]}}, nil
}

// DeletePKCERequestSession does nothing: fosite calls it before checking
// the verifier, so deleting would let one wrong verifier strip the code of
// its PKCE binding. The binding dies with the code.
func (f *fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

// CreateOpenIDConnectSession stores nothing: the code's row holds the same
// session and the OIDC parameters.
func (f *fositeStore) CreateOpenIDConnectSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetOpenIDConnectSession returns the code's request, decoded into r's
// session, when fosite would have stored an OIDC session for it (openid
// granted, response_type exactly code); otherwise fosite.ErrNotFound
// (= openid.ErrNoSessionFound), and fosite issues no ID token. It is read
// after the code is marked used, so its state is not checked here.
func (f *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	key := hashSignature(f.codeSignature(ctx, code))
	row, err := f.codeRow(ctx, key)
	if err != nil {
		return nil, err
	}
	form, _ := url.ParseQuery(row.Form)
	if !slices.Contains(row.GrantedScopes, "openid") || !fosite.Arguments(fosite.RemoveEmpty(strings.Split(form.Get("response_type"), " "))).ExactOne("code") {
		return nil, fmt.Errorf("%w: not an OpenID Connect code", fosite.ErrNotFound)
	}
	req, _, err := f.request(ctx, storage.TokenCode, key, row, r.GetSession())
	return req, err
}

// DeleteOpenIDConnectSession does nothing: the session is unusable once its
// code is used, and the row goes when the code expires.
func (f *fositeStore) DeleteOpenIDConnectSession(context.Context, string) error { return nil }

// Transactions: the adapter is what fosite sees, so it must itself
// implement storage.Transactional or fosite silently runs without
// transactions (FOSITE.md §3).

func (f *fositeStore) BeginTX(ctx context.Context) (context.Context, error) { return f.db.BeginTX(ctx) }
func (f *fositeStore) Commit(ctx context.Context) error                     { return f.db.Commit(ctx) }
func (f *fositeStore) Rollback(ctx context.Context) error                   { return f.db.Rollback(ctx) }

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
