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
	if err := r.ParseForm(); err != nil {
		p.writeJSONError(w, r, "revoke", fosite.ErrInvalidRequest.WithWrap(err), "")
		return
	}
	// The client first (RFC 7009 §2.1): a caller that is not one costs a
	// client lookup (cached) and an HMAC, and no token read.
	if _, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm); err != nil {
		p.writeJSONError(w, r, "revoke", err, "")
		return
	}
	err := p.Store.InTx(ctx, func(ctx context.Context) error {
		// Look the token up first, only to record whose grant ends.
		_, known, _ := p.oauth.IntrospectToken(ctx, r.PostForm.Get("token"), fosite.TokenType(r.PostForm.Get("token_type_hint")), newSession())
		if err := p.oauth.NewRevocationRequest(ctx, r); err != nil {
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
