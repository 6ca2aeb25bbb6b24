package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/storage"
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
}

var (
	// errCodeRedeemed: the code was redeemed by a concurrent request between
	// our read and our write; the token endpoint treats it as a replay.
	errCodeRedeemed = errors.New("authorization code already redeemed")
	// errRefreshRaced: a concurrent refresh rotated the token first.
	errRefreshRaced = errors.New("refresh token rotated by a concurrent request")
)

func hashSignature(sig string) string {
	sum := sha256.Sum256([]byte(sig))
	return hex.EncodeToString(sum[:])
}

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

// stored returns what a row of kind keeps of a session. Access-token and
// PKCE rows are read for their subject, expiry and client only (the
// account's claims are always read live), so they keep no ID token claims:
// half the bytes to seal, store and decode on every introspection.
func stored(kind storage.TokenKind, sess fosite.Session) any {
	s, ok := sess.(*Session)
	if !ok || (kind != storage.TokenAccess && kind != storage.TokenPKCE) || s.DefaultSession == nil {
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

// accountKey is the ctx key of the account a refresh token lookup loaded.
type accountKey struct{}

// loadedAccount holds the account and grant loaded with a refresh token, so
// the token endpoint's checks need no query of their own.
type loadedAccount struct {
	user  storage.User
	grant storage.Grant
	ok    bool
}

// withAccountSlot returns ctx with room for the account of the refresh
// token this request will load.
func withAccountSlot(ctx context.Context) (context.Context, *loadedAccount) {
	la := &loadedAccount{}
	return context.WithValue(ctx, accountKey{}, la), la
}

// GetClient returns a client of the ctx tenant (from the short-lived cache).
func (f *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := f.clients.get(ctx, id)
	if err != nil {
		return nil, toFosite(err)
	}
	return c, nil
}

// ClientAssertionJWTValid always passes: the check and the recording are
// one atomic statement in SetClientAssertionJWT, so two concurrent uses of
// one jti cannot both pass.
func (f *fositeStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT records a private_key_jwt assertion's jti until it
// expires; a jti seen before is fosite.ErrJTIKnown.
func (f *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
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
	req, active, err := f.get(ctx, storage.TokenCode, hashSignature(sig), s)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks the code used in one conditional
// statement: of two concurrent exchanges only one gets here first, the
// other gets errCodeRedeemed. The code's PKCE row goes with it.
func (f *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	key := hashSignature(sig)
	if err := f.db.DeactivateToken(ctx, storage.TokenCode, key); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %w", errCodeRedeemed, err)
		}
		return err
	}
	return f.db.DeleteToken(ctx, storage.TokenPKCE, key)
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
	if la, ok := ctx.Value(accountKey{}).(*loadedAccount); ok {
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
// one fails, so a family never forks.
func (f *fositeStore) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	if err := f.db.DiscardTokens(ctx, storage.TokenAccess, requestID); err != nil {
		return toFosite(err)
	}
	if err := f.db.DeactivateToken(ctx, storage.TokenRefresh, hashSignature(sig)); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %w: %w", fosite.ErrNotFound, errRefreshRaced, err)
		}
		return toFosite(err)
	}
	return nil
}

// PKCE sessions, keyed by the code signature.

func (f *fositeStore) CreatePKCERequestSession(ctx context.Context, sig string, r fosite.Requester) error {
	return f.create(ctx, storage.TokenPKCE, hashSignature(sig), r, "")
}

func (f *fositeStore) GetPKCERequestSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	req, _, err := f.get(ctx, storage.TokenPKCE, hashSignature(sig), s)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession does nothing: fosite calls it before checking
// the verifier, so deleting here would let one wrong verifier strip the
// code of its PKCE binding (a later exchange without a verifier would then
// pass for confidential clients). The row goes when the code is redeemed
// (InvalidateAuthorizeCodeSession) or expires.
func (f *fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

// OIDC sessions, keyed by the raw code, hashed here.

func (f *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return f.create(ctx, storage.TokenOIDC, hashSignature(code), r, "")
}

func (f *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	// A missing row is fosite.ErrNotFound (= openid.ErrNoSessionFound).
	req, _, err := f.get(ctx, storage.TokenOIDC, hashSignature(code), r.GetSession())
	if err != nil {
		return nil, err
	}
	return req, nil
}

func (f *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return toFosite(f.db.DeleteToken(ctx, storage.TokenOIDC, hashSignature(code)))
}

// Transactions: the adapter is what fosite sees, so it must itself
// implement storage.Transactional or fosite silently runs without
// transactions (FOSITE.md §3).

func (f *fositeStore) BeginTX(ctx context.Context) (context.Context, error) { return f.db.BeginTX(ctx) }
func (f *fositeStore) Commit(ctx context.Context) error                     { return f.db.Commit(ctx) }
func (f *fositeStore) Rollback(ctx context.Context) error                   { return f.db.Rollback(ctx) }

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
