package provider

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
)

// introspect is RFC 7662 token introspection. The caller must authenticate
// as a client with HTTP Basic (a bearer token is not enough: a token holder
// must not be able to probe other tokens). A token is active only if fosite
// finds it valid and its account may still sign in, so a suspended user's
// tokens answer {"active":false} at once. A storage outage is 503, never
// {"active":false}.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, _, ok := r.BasicAuth(); !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		p.writeJSONError(w, r, "introspect", fosite.ErrInvalidClient.WithHint("Introspection requires client authentication with HTTP Basic."), "")
		return
	}
	if err := p.clientRequest(r); err != nil {
		p.writeJSONError(w, r, "introspect", err, "")
		return
	}
	// fosite takes an access_token parameter (body or query) as bearer
	// authentication and then skips the Basic credentials altogether: any
	// token holder could introspect every token with a made-up Basic
	// header. It is no parameter of RFC 7662, so it is ignored (RFC 6749
	// §3.2) and the Basic credentials are checked.
	r.Form.Del("access_token")
	r.PostForm.Del("access_token")
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	if err != nil {
		// The outermost fosite error says what failed; the chain below it
		// may hold others (an unknown token is "request unauthorized" deep
		// inside "token inactive").
		var rfc *fosite.RFC6749Error
		errors.As(err, &rfc)
		switch {
		case errors.Is(err, storage.ErrUnavailable):
			p.writeJSONError(w, r, "introspect", err, "")
		case rfc != nil && (rfc.ErrorField == fosite.ErrRequestUnauthorized.ErrorField || rfc.ErrorField == fosite.ErrInvalidClient.ErrorField):
			p.writeJSONError(w, r, "introspect", fosite.ErrInvalidClient.WithWrap(err), "") // with WWW-Authenticate: Basic was used
		case rfc != nil && rfc.ErrorField == fosite.ErrInvalidRequest.ErrorField:
			p.writeJSONError(w, r, "introspect", err, "")
		case r.PostForm.Get("token") == "":
			// The client is authenticated by now; token is required (RFC
			// 7662 §2.1), and its absence is no inactive token.
			p.writeJSONError(w, r, "introspect", fosite.ErrInvalidRequest.WithHint("The token parameter is missing."), "")
		default:
			p.Log.DebugContext(ctx, "introspection: inactive token", "err", errText(err))
			web.WriteJSON(w, http.StatusOK, map[string]bool{"active": false})
		}
		return
	}
	ar := ir.GetAccessRequester()
	sess, _ := ar.GetSession().(*Session)
	if sess == nil {
		web.WriteJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if sess.UserID != "" {
		if _, err := p.Accounts.Active(ctx, sess.UserID); err != nil {
			if errors.Is(err, storage.ErrUnavailable) {
				p.writeJSONError(w, r, "introspect", err, "")
				return
			}
			web.WriteJSON(w, http.StatusOK, map[string]bool{"active": false})
			return
		}
	}
	kind := fosite.AccessToken
	if ir.GetTokenUse() == fosite.RefreshToken {
		kind = fosite.RefreshToken
	}
	resp := map[string]any{
		"active":    true,
		"client_id": ar.GetClient().GetID(),
		"sub":       sess.GetSubject(),
		"iss":       sess.Issuer,
		"iat":       ar.GetRequestedAt().Unix(),
	}
	if exp := sess.GetExpiresAt(kind); !exp.IsZero() {
		resp["exp"] = exp.Unix()
	}
	if s := ar.GetGrantedScopes(); len(s) > 0 {
		resp["scope"] = strings.Join(s, " ")
	}
	if a := ar.GetGrantedAudience(); len(a) > 0 {
		resp["aud"] = a
	}
	if sess.Username != "" {
		resp["username"] = sess.Username
	}
	if sess.SessionID != "" {
		resp["sid"] = sess.SessionID
	}
	if kind == fosite.AccessToken {
		resp["token_type"] = "Bearer"
	} else {
		resp["token_type"] = "refresh_token"
	}
	web.WriteJSON(w, http.StatusOK, resp)
}
