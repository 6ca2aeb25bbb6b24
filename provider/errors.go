package provider

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
)

// protocolError is the RFC 6749 error body, with the catalog code as the
// extra member error_code where one applies.
type protocolError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Code        string `json:"error_code,omitempty"`
	status      int
}

// errTemporarilyUnavailable is what a storage outage becomes on protocol
// endpoints: 503, never a 200 or a 500.
var errTemporarilyUnavailable = fosite.ErrTemporarilyUnavailable.WithDescription("The service is temporarily unavailable. Try again shortly.")

// toProtocol turns any error into the RFC error to show. The description is
// fosite's description plus hint (safe), never its debug text.
func toProtocol(err error, code catalog.Code) protocolError {
	if errors.Is(err, storage.ErrUnavailable) {
		e := errTemporarilyUnavailable
		return protocolError{Error: e.ErrorField, Description: e.GetDescription(), Code: string(catalog.ServiceUnavailable.Code), status: http.StatusServiceUnavailable}
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) || errors.Is(err, errServerFailure) {
		rfc = fosite.ErrServerError
	}
	if rfc.CodeField == http.StatusInternalServerError || rfc.ErrorField == fosite.ErrServerError.ErrorField {
		rfc = fosite.ErrServerError
		code = catalog.Internal.Code
	}
	name, status := standardError(rfc)
	return protocolError{Error: name, Description: descriptionChars(rfc.GetDescription()), Code: string(code), status: status}
}

// descriptionChars keeps an error_description in the characters RFC 6749
// allows (§4.1.2.1, §5.2: %x20-21 / %x23-5B / %x5D-7E). Hints quote what the
// request sent (a prompt value, a scope), which may be anything: a quote
// becomes ', a backslash /, any other character outside the set ?.
func descriptionChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7E:
			return '?'
		}
		return r
	}, s)
}

// rfcErrors are the error codes the OAuth 2.0 and OIDC specifications
// define (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, OIDC
// Core §3.1.2.6). fosite has a few of its own; clients never see them.
var rfcErrors = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "unsupported_response_type": true,
	"server_error": true, "temporarily_unavailable": true, "login_required": true, "consent_required": true,
	"interaction_required": true, "account_selection_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true, "unsupported_token_type": true, "invalid_token": true, "insufficient_scope": true,
}

// authorizeErrors are the codes an authorization response may carry (RFC
// 6749 §4.1.2.1, OIDC Core §3.1.2.6); invalid_grant and the like are the
// token endpoint's.
var authorizeErrors = func() map[string]bool {
	m := maps.Clone(rfcErrors)
	for _, tokenOnly := range []string{"invalid_client", "invalid_grant", "unsupported_grant_type", "unsupported_token_type", "invalid_token", "insufficient_scope"} {
		delete(m, tokenOnly)
	}
	return m
}()

// standardError maps fosite's own error names onto the RFC ones.
func standardError(rfc *fosite.RFC6749Error) (string, int) {
	if rfcErrors[rfc.ErrorField] {
		return rfc.ErrorField, rfc.CodeField
	}
	switch rfc.ErrorField {
	case fosite.ErrJTIKnown.ErrorField, fosite.ErrRequestUnauthorized.ErrorField:
		return "invalid_client", http.StatusUnauthorized
	case fosite.ErrSerializationFailure.ErrorField:
		return "invalid_request", http.StatusBadRequest
	}
	return "invalid_grant", http.StatusBadRequest // token_inactive, token_expired, not_found, …
}

// logProtocol logs err once: 5xx at error with the cause, the rest at debug.
func (p *Provider) logProtocol(ctx context.Context, endpoint string, pe protocolError, err error) {
	attrs := []any{"endpoint", endpoint, "request_id", web.RequestID(ctx), "error", pe.Error, "err", errText(err)}
	if pe.status >= 500 {
		p.Log.ErrorContext(ctx, "protocol request failed", attrs...)
	} else {
		p.Log.DebugContext(ctx, "protocol request refused", attrs...)
	}
}

// writeJSONError writes a protocol error as JSON (token, introspection,
// revocation, userinfo), with no-store and, for a failed HTTP Basic client
// authentication, WWW-Authenticate (RFC 6749 §5.2).
func (p *Provider) writeJSONError(w http.ResponseWriter, r *http.Request, endpoint string, err error, code catalog.Code) {
	pe := toProtocol(err, code)
	p.logProtocol(r.Context(), endpoint, pe, err)
	h := w.Header()
	if pe.Error == fosite.ErrInvalidClient.ErrorField {
		pe.status = http.StatusUnauthorized
		if _, _, basic := r.BasicAuth(); basic {
			h.Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		}
	}
	if pe.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "2")
	}
	web.WriteJSON(w, pe.status, pe)
}

// redirectError sends an authorization error back to the client's
// (validated) redirect URI with state and iss (RFC 6749 §4.1.2.1, RFC 9207).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	pe := toProtocol(err, "")
	if !authorizeErrors[pe.Error] {
		pe.Error = "invalid_request" // a short state, an unsupported response_mode: fosite names of its own
	}
	p.logProtocol(r.Context(), "authorize", pe, err)
	u := *ar.GetRedirectURI()
	q := u.Query()
	q.Set("error", pe.Error)
	if pe.Description != "" {
		q.Set("error_description", pe.Description)
	}
	if st := ar.GetState(); st != "" {
		q.Set("state", st)
	}
	q.Set("iss", p.issuer(r.Context()))
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// authorizeError answers a failed authorization request: a protocol error
// goes to the client's redirect URI when fosite validated it. Everything
// else gets an error page and never a redirect: an unknown client or an
// unregistered redirect URI, an outage, and gatehouse's own catalog errors
// (an expired or replayed flow, a suspended account), which are the user's
// to read, not the client's.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	var ce *catalog.Error
	own := errors.As(err, &ce)
	if !own && ar != nil && ar.IsRedirectURIValid() && ar.GetRedirectURI() != nil && !errors.Is(err, storage.ErrUnavailable) {
		p.redirectError(w, r, ar, err)
		return
	}
	pe := toProtocol(err, "")
	switch {
	case own:
	case errors.Is(err, storage.ErrUnavailable):
		ce = catalog.ServiceUnavailable.WithRetryAfter(2).Wrap(err)
	case pe.status >= 500:
		ce = catalog.Internal.Wrap(err)
	default:
		ce = catalog.InvalidRequest.WithMessage("The application sent an invalid sign-in request: " + pe.Description).Wrap(err)
	}
	p.Pages.RenderError(w, r, ce, "")
}

// errText is the one-line text of err for logs: fosite's errors carry
// stacks that slog would print with %+v.
func errText(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		if d := rfc.Debug(); d != "" && !strings.Contains(msg, d) {
			msg += ": " + d
		}
		if c := rfc.Cause(); c != nil && !strings.Contains(msg, c.Error()) {
			msg += ": " + c.Error()
		}
	}
	return msg
}
