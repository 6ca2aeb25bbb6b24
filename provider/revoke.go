package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/ory/fosite"
)

// revoke is RFC 7009 token revocation. Revoking any token of a grant
// revokes the whole grant (its access and refresh tokens). An unknown token,
// or one of another client, answers 200 (§2.2: nothing to reveal); a
// storage failure answers 503, never 200 — fosite's own writer hides
// storage errors behind 200, so the answer is written here.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := p.clientRequest(r); err != nil {
		p.writeJSONError(w, r, "revoke", err, "")
		return
	}
	// The client first (RFC 7009 §2.1), and once: a caller that is not one
	// costs a client lookup (cached) and an HMAC, and no token read; a
	// client assertion is used up by its first check, so the revocation
	// runs fosite's handlers itself (as NewRevocationRequest would, after
	// authenticating again) with the client authenticated here.
	ctx = context.WithValue(ctx, fosite.RequestContextKey, r)
	c, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		p.writeJSONError(w, r, "revoke", assertionError(r, err), "")
		return
	}
	token, hint := r.PostForm.Get("token"), fosite.TokenType(r.PostForm.Get("token_type_hint"))
	if token == "" {
		p.writeJSONError(w, r, "revoke", fosite.ErrInvalidRequest.WithHint("The token parameter is missing."), "")
		return
	}
	err = p.Store.InTx(ctx, func(ctx context.Context) error {
		// Look the token up first, only to record whose grant ends.
		_, known, _ := p.oauth.IntrospectToken(ctx, token, hint, newSession())
		if err := p.revokeWith(ctx, token, hint, c); err != nil {
			return err
		}
		if known == nil || known.GetClient() == nil {
			return nil
		}
		subject := known.GetSession().GetSubject()
		return events.Record(ctx, p.Store, events.TokenRevoked, subject, map[string]any{
			"client_id": known.GetClient().GetID(), "request_id": known.GetID(), "reason": "revocation endpoint"})
	})
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, fosite.ErrTemporarilyUnavailable):
		if !errors.Is(err, storage.ErrUnavailable) {
			err = errors.Join(storage.ErrUnavailable, err)
		}
		p.writeJSONError(w, r, "revoke", err, "")
		return
	case errors.Is(err, fosite.ErrInvalidClient), errors.Is(err, fosite.ErrInvalidRequest):
		p.writeJSONError(w, r, "revoke", err, "")
		return
	default:
		// Another client's token (fosite.ErrUnauthorizedClient) and the
		// like: not revoked, and not revealed either.
		p.Log.DebugContext(ctx, "revocation ignored", "err", errText(err))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeWith runs fosite's revocation handlers for token on behalf of the
// authenticated client c: what NewRevocationRequest does after its own
// client authentication.
func (p *Provider) revokeWith(ctx context.Context, token string, hint fosite.TokenType, c fosite.Client) error {
	found := false
	for _, h := range p.oauth.Config.GetRevocationHandlers(ctx) {
		switch err := h.RevokeToken(ctx, token, hint, c); {
		case err == nil:
			found = true
		case errors.Is(err, fosite.ErrUnknownRequest):
		default:
			return err
		}
	}
	if !found {
		return fosite.ErrInvalidRequest
	}
	return nil
}
