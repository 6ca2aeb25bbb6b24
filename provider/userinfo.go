package provider

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
)

// userinfo is the UserInfo endpoint (OIDC Core §5.3), GET and POST. It
// accepts only access tokens (never refresh or ID tokens) carrying the
// openid scope and answers from the live account: a suspended or deleted
// account's token gets 401 invalid_token.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		bearerError(w, http.StatusBadRequest, "invalid_request", "The request could not be read.")
		return
	}
	// RFC 6750 §2: one method per request (header, form body or query);
	// §3.1: otherwise 400.
	methods := 0
	for _, used := range []bool{r.Header.Get("Authorization") != "", r.PostForm.Has("access_token"), r.URL.Query().Has("access_token")} {
		if used {
			methods++
		}
	}
	if methods > 1 || len(r.Form["access_token"]) > 1 {
		bearerError(w, http.StatusBadRequest, "invalid_request", "The access token was sent in more than one way.")
		return
	}
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "", "")
		return
	}
	use, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, newSession())
	if errors.Is(err, storage.ErrUnavailable) {
		p.writeJSONError(w, r, "userinfo", err, "")
		return
	}
	if err != nil || use != fosite.AccessToken {
		p.Log.DebugContext(ctx, "userinfo: invalid token", "err", errText(err), "token_use", use)
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	sess, _ := ar.GetSession().(*Session)
	if sess == nil || sess.UserID == "" || !slices.Contains(ar.GetGrantedScopes(), "openid") {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	u, err := p.Accounts.Active(ctx, sess.UserID)
	if errors.Is(err, storage.ErrUnavailable) {
		p.writeJSONError(w, r, "userinfo", err, "")
		return
	}
	if err != nil {
		// The account's status code (ACCOUNT_SUSPENDED, …) goes with the
		// RFC 6750 error as error_code, as at the token endpoint (ERRORS.md:
		// where a catalog code applies it is added).
		var ce *catalog.Error
		errors.As(err, &ce)
		bearerErrorCode(w, http.StatusUnauthorized, "invalid_token", "The account behind this token cannot sign in.", ce)
		return
	}
	claims := userClaims(u, ar.GetGrantedScopes())
	claims["sub"] = u.ID
	web.WriteJSON(w, http.StatusOK, claims)
}

// bearerError answers per RFC 6750 §3: WWW-Authenticate with the error.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	bearerErrorCode(w, status, code, desc, nil)
}

// bearerErrorCode is bearerError with the catalog code ce (if not nil) as
// the extra member error_code.
func bearerErrorCode(w http.ResponseWriter, status int, code, desc string, ce *catalog.Error) {
	v := `Bearer realm="gatehouse"`
	if code != "" {
		v += `, error="` + code + `"`
		if desc != "" {
			v += `, error_description="` + desc + `"`
		}
	}
	w.Header().Set("WWW-Authenticate", v)
	body := map[string]string{}
	if code != "" {
		body["error"], body["error_description"] = code, desc
	}
	if ce != nil {
		body["error_code"] = string(ce.Code)
	}
	web.WriteJSON(w, status, body)
}
