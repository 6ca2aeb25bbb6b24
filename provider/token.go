package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/ory/fosite"
)

// token is the token endpoint (RFC 6749 §3.2): authorization_code (with
// PKCE), refresh_token (rotating) and client_credentials. The issuing step
// runs in one transaction (FOSITE.md §3).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	ctx, loaded := withLoadSlot(r.Context())
	if err := p.clientRequest(r); err != nil {
		p.tokenError(w, r, nil, "", err)
		return
	}
	grant := r.PostForm.Get("grant_type")
	oauth, ok := p.byGrant[grant] // one fosite per grant, with only its handlers
	switch {
	case ok:
	case strings.TrimSpace(grant) == "", strings.ContainsAny(grant, " \t"):
		p.tokenError(w, r, nil, grant, fosite.ErrInvalidRequest.WithHint("The grant_type parameter must be one grant type."))
		return
	default:
		p.tokenError(w, r, nil, grant, fosite.ErrUnsupportedGrantType.WithHintf("The grant_type %q is not supported.", grant))
		return
	}
	ar, err := oauth.NewAccessRequest(ctx, r, newSession())
	if err != nil {
		if grant == GrantAuthorizationCode && loaded.codeKey != "" && !loaded.code.Active {
			// A used code presented again (RFC 6749 §4.1.2). fosite has
			// revoked what it issued, but records nothing and only puts a
			// storage failure into the error's hint: revoke again
			// (idempotent; a failure is logged) and put the replay on record.
			p.revokeGrantRecorded(ctx, loaded.code.RequestID, "authorization code replayed")
		}
		if grant == GrantRefreshToken && errors.Is(err, fosite.ErrInactiveToken) && loaded.ok {
			// A status other than active ends the account's refresh tokens
			// when it is set (SetUserStatus): while it lasts, say so with
			// its code, as for a token still active, not as a reuse.
			if aerr := login.StatusError(loaded.user, p.Now()); aerr != nil {
				err = accountError(aerr)
			}
		}
		p.tokenError(w, r, ar, grant, assertionError(r, err))
		return
	}
	c := ar.GetClient().(*client)
	sess := ar.GetSession().(*Session)
	switch grant {
	case GrantClientCredentials:
		err = p.clientCredentials(ctx, ar, c, sess)
	case GrantRefreshToken:
		err = p.refreshChecks(ctx, ar, c, sess, loaded)
	case GrantAuthorizationCode:
		// The account was read with the code, in one query.
		if loaded.codeUser.ID == "" || loaded.codeUser.ID != sess.UserID {
			err = fmt.Errorf("%w: authorization code %s read without its account", errServerFailure, ar.GetID())
		} else if aerr := login.StatusError(loaded.codeUser, p.Now()); aerr != nil {
			err = accountError(aerr)
			p.spendCode(ctx, r.PostForm.Get("code"))
		}
		sess.Alg = c.IDTokenAlg
	}
	if err != nil {
		p.tokenError(w, r, ar, grant, err)
		return
	}
	var resp fosite.AccessResponder
	if grant == GrantClientCredentials {
		// One insert: no transaction needed (two fewer round trips).
		resp, err = oauth.NewAccessResponse(ctx, ar)
	} else {
		err = p.Store.InTx(ctx, func(ctx context.Context) error {
			var err error
			resp, err = oauth.NewAccessResponse(ctx, ar)
			return err
		})
		if errors.Is(err, storage.ErrSpent) {
			// The code or refresh token was spent by a concurrent request:
			// known from the spend itself (SQLite) or only from the commit
			// (PostgreSQL); fosite keeps the store's error in its chain.
			switch grant {
			case GrantRefreshToken:
				err = fmt.Errorf("%w: %w", errRefreshRaced, err)
			case GrantAuthorizationCode:
				err = fmt.Errorf("%w: %w", errCodeRedeemed, err)
			}
		}
	}
	if err != nil {
		if errors.Is(err, errCodeRedeemed) || errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			// A concurrent exchange of the same code won: this is a replay,
			// so what the code issued is revoked (RFC 6749 §4.1.2).
			p.revokeGrant(ctx, ar.GetID(), "authorization code replayed")
		}
		p.tokenError(w, r, ar, grant, err)
		return
	}
	resp.SetTokenType("Bearer") // RFC 6750 spelling; fosite writes "bearer"
	if out, ok := resp.(*fosite.AccessResponse); ok && len(ar.GetGrantedScopes()) == 0 {
		delete(out.Extra, "scope") // nothing granted: no scope member (RFC 6749 §3.3, "" is no scope)
	}
	oauth.WriteAccessResponse(ctx, w, ar, resp)
}

// spendCode marks a code used without issuing anything: a code refused
// because its account may not sign in stays refused, even if the account
// is reactivated within the code's lifetime. Best effort: the refusal
// stands either way.
func (p *Provider) spendCode(ctx context.Context, code string) {
	err := p.store.InvalidateAuthorizeCodeSession(ctx, p.store.codeSignature(ctx, code))
	if err != nil && !errors.Is(err, storage.ErrSpent) {
		p.Log.ErrorContext(ctx, "spend refused authorization code", "err", errText(err))
	}
}

// clientCredentials grants a machine client the scopes and audiences it
// asked for (fosite checked them against its registration). The subject is
// the client: client ids never look like user ids. openid and
// offline_access make no sense without a user and are refused.
func (p *Provider) clientCredentials(ctx context.Context, ar fosite.AccessRequester, c *client, sess *Session) error {
	for _, s := range ar.GetRequestedScopes() {
		if s == "openid" || s == "offline_access" || s == "offline" {
			return fosite.ErrInvalidScope.WithHintf("The scope %q needs a user; client_credentials has none.", s)
		}
		ar.GrantScope(s)
	}
	grantAudience(ar, c)
	sess.Subject, sess.ClientID, sess.Issuer, sess.Alg = c.ID, c.ID, p.issuer(ctx), c.IDTokenAlg
	sess.Claims.Subject = c.ID
	return nil
}

// refreshChecks is what fosite cannot know: the account must still be able
// to sign in and the user's consent must still cover the grant. Either
// failing revokes the whole family. The ID token claims are refreshed from
// the live account; sub, auth_time and sid stay those of the sign-in.
func (p *Provider) refreshChecks(ctx context.Context, ar fosite.AccessRequester, c *client, sess *Session, loaded *loads) error {
	// RFC 6749 §6: a refresh may not ask for a scope the grant does not
	// have (fosite ignores the parameter; the grant's scopes are issued).
	asked := fosite.RemoveEmpty(strings.Split(ar.GetRequestForm().Get("scope"), " "))
	for _, s := range asked {
		// Exact: scopes are case-sensitive (RFC 6749 §3.3; fosite's Has
		// folds case).
		if !slices.Contains(ar.GetGrantedScopes(), s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %q was not granted to this refresh token.", s)
		}
	}
	if sess.UserID == "" {
		return nil
	}
	// The account and its grant were read with the refresh token, in one
	// query (GetRefreshWithAccount joins them): no second read.
	if !loaded.ok || loaded.user.ID != sess.UserID {
		return fmt.Errorf("%w: refresh token %s read without its account", errServerFailure, ar.GetID())
	}
	u := loaded.user
	err := consent.Evaluate(u, loaded.grant, ar.GetGrantedScopes(), p.Now())
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		return err
	case errors.Is(err, consent.ErrNotGranted):
		p.revokeGrant(ctx, ar.GetID(), "consent revoked")
		return refreshInvalid("The user's consent for this application was revoked.")
	case err != nil:
		p.revokeGrant(ctx, ar.GetID(), "account cannot sign in")
		return accountError(err)
	}
	narrowScopes(ar, asked, loaded)
	extra := userClaims(u, ar.GetGrantedScopes())
	for _, k := range []string{"azp", "sid"} {
		if v, ok := sess.Claims.Extra[k]; ok {
			extra[k] = v
		}
	}
	sess.Claims.Extra = extra
	sess.Username = u.Email
	sess.Alg = c.IDTokenAlg
	return nil
}

// narrowScopes grants the new access token only the scopes the refresh
// request asked for, when it asked for fewer than the grant has (RFC 6749
// §6); the new refresh token keeps the grant's scopes ("identical to that
// of the refresh token included by the client"), which the storage adapter
// takes from loaded. The ID token follows the access token: without openid
// there is none, and its claims are those of the scopes asked for.
func narrowScopes(ar fosite.AccessRequester, asked []string, loaded *loads) {
	req, ok := ar.(*fosite.AccessRequest)
	if !ok || len(asked) == 0 {
		return
	}
	var narrowed fosite.Arguments
	for _, s := range req.GrantedScope { // the grant's order, each once
		if slices.Contains(asked, s) {
			narrowed = append(narrowed, s)
		}
	}
	if len(narrowed) == len(req.GrantedScope) {
		return
	}
	loaded.refreshScopes = slices.Clone(req.GrantedScope)
	req.GrantedScope = narrowed
}

// tokenFailure carries a fosite error and the catalog code to add as
// error_code.
type tokenFailure struct {
	rfc  *fosite.RFC6749Error
	code catalog.Code
	err  error
}

func (t *tokenFailure) Error() string { return t.rfc.Error() }
func (t *tokenFailure) Unwrap() error { return t.err }

func refreshInvalid(hint string) error {
	return &tokenFailure{rfc: fosite.ErrInvalidGrant.WithHint(hint), code: catalog.InvalidRefreshToken.Code}
}

// accountError turns an account that may not sign in into invalid_grant
// with the status code as error_code; storage failures pass through.
func accountError(err error) error {
	var ce *catalog.Error
	if !errors.As(err, &ce) {
		return err
	}
	return &tokenFailure{rfc: fosite.ErrInvalidGrant.WithHint(ce.Message), code: ce.Code, err: err}
}

// tokenError writes a token endpoint error (RFC 6749 §5.2) with the
// catalog code where one applies: every refresh failure that is the
// token's fault is invalid_grant + INVALID_REFRESH_TOKEN, including the
// loser of two concurrent refreshes (fosite calls that invalid_request).
func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, grant string, err error) {
	ctx := r.Context()
	var tf *tokenFailure
	if errors.As(err, &tf) {
		p.writeJSONError(w, r, "token", wrapRFC(tf.rfc, err), tf.code)
		return
	}
	code := catalog.Code("")
	switch {
	case errors.Is(err, storage.ErrUnavailable):
	case grant == GrantRefreshToken && errors.Is(err, errRefreshRaced):
		err = wrapRFC(fosite.ErrInvalidGrant.WithHint("The refresh token was already used by a concurrent request."), err)
		code = catalog.InvalidRefreshToken.Code
	case grant == GrantRefreshToken && errors.Is(err, fosite.ErrInvalidGrant):
		code = catalog.InvalidRefreshToken.Code
		if errors.Is(err, fosite.ErrInactiveToken) && ar != nil && ar.GetClient() != nil {
			p.recordReuse(ctx, ar)
		}
	case errors.Is(err, errCodeRedeemed), errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		err = wrapRFC(fosite.ErrInvalidGrant.WithHint("The authorization code has already been used."), err)
	}
	p.writeJSONError(w, r, "token", err, code)
}

// wrapRFC returns rfc carrying cause, so logs keep the chain.
func wrapRFC(rfc *fosite.RFC6749Error, cause error) error { return rfc.WithWrap(cause) }

// revokeGrant revokes every access and refresh token of a grant, and
// records token.revoked when there were any.
func (p *Provider) revokeGrant(ctx context.Context, requestID, reason string) {
	p.revokeGrantEvent(ctx, requestID, reason, false)
}

// revokeGrantRecorded is revokeGrant recording token.revoked even when
// nothing was left to revoke (fosite revoked it first).
func (p *Provider) revokeGrantRecorded(ctx context.Context, requestID, reason string) {
	p.revokeGrantEvent(ctx, requestID, reason, true)
}

func (p *Provider) revokeGrantEvent(ctx context.Context, requestID, reason string, always bool) {
	if requestID == "" {
		return
	}
	err := p.Store.InTx(ctx, func(ctx context.Context) error {
		na, err := p.Store.RevokeTokens(ctx, storage.TokenAccess, requestID)
		if err != nil {
			return err
		}
		nr, err := p.Store.RevokeTokens(ctx, storage.TokenRefresh, requestID)
		if err != nil {
			return err
		}
		if na+nr == 0 && !always {
			return nil
		}
		return events.Record(ctx, p.Store, events.TokenRevoked, "", map[string]any{"request_id": requestID, "reason": reason, "access_tokens": na, "refresh_tokens": nr})
	})
	if err != nil {
		p.Log.ErrorContext(ctx, "revoke grant", "request_id", requestID, "err", err)
	}
}

// recordReuse records a detected refresh token reuse (fosite has revoked
// the family by then, in its own transaction).
func (p *Provider) recordReuse(ctx context.Context, ar fosite.AccessRequester) {
	subject := ""
	if s, ok := ar.GetSession().(*Session); ok {
		subject = s.UserID
	}
	if err := events.Record(ctx, p.Store, events.TokenReuse, subject, map[string]any{"client_id": ar.GetClient().GetID()}); err != nil {
		p.Log.ErrorContext(ctx, "record token reuse", "err", err)
	}
}
