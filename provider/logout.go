package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/storage"
)

// logoutRequest is a validated RP-initiated logout request.
type logoutRequest struct {
	params      url.Values // what the confirm page carries over
	redirect    string     // validated post_logout_redirect_uri, or ""
	state       string
	hintSubject string
}

// logout is the end_session_endpoint (OpenID Connect RP-Initiated Logout
// 1.0), GET and POST. A valid id_token_hint for the signed-in user logs out
// at once; without one (or for another user) the user confirms on a page
// first. post_logout_redirect_uri must be registered by the client the hint
// (or client_id) names; an unregistered one, or a bad hint, gets an error
// page and never a redirect.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		p.Pages.RenderError(w, r, catalog.InvalidRequest.Wrap(err), "")
		return
	}
	lr, err := p.logoutRequest(ctx, r.Form)
	if err != nil {
		p.Pages.RenderError(w, r, err, "The application sent an invalid sign-out request.")
		return
	}
	current, err := p.Sessions.Current(ctx, r)
	if err != nil {
		p.Pages.RenderError(w, r, err, "")
		return
	}
	confirmed := false
	if r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes" {
		// With no session there is nothing to end, and nothing to protect.
		device := p.Cookies.ExistingDevice(r)
		if current != nil && !p.CSRF.Check(device, logoutPurpose(ctx, current), r.PostForm.Get("csrf_token")) {
			p.Pages.RenderError(w, r, catalog.InvalidRequest.WithDetail("field", "csrf_token").WithMessage("The form expired. Please try again."), "")
			return
		}
		confirmed = true
	}
	hintMatches := lr.hintSubject != "" && (current == nil || current.UserID == lr.hintSubject)
	if !confirmed && !hintMatches && current != nil {
		device := p.Cookies.Device(w, r)
		p.Pages.Render(w, r, pages.Logout, p.CSRF.Token(device, logoutPurpose(ctx, current)),
			map[string]any{"Account": current.User.Email, "Params": flatten(lr.params)}, nil)
		return
	}
	if _, err := p.Sessions.End(ctx, w, r); err != nil {
		p.Pages.RenderError(w, r, err, "")
		return
	}
	if lr.redirect == "" {
		p.Pages.Render(w, r, pages.LoggedOut, "", nil, nil)
		return
	}
	u, _ := url.Parse(lr.redirect)
	if lr.state != "" {
		q := u.Query()
		q.Set("state", lr.state)
		u.RawQuery = q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (p *Provider) logoutRequest(ctx context.Context, form url.Values) (logoutRequest, error) {
	lr := logoutRequest{params: url.Values{}, state: form.Get("state")}
	for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales"} {
		if v := form.Get(k); v != "" && k != "id_token_hint" {
			lr.params.Set(k, v)
		}
	}
	clientID := form.Get("client_id")
	if hint := form.Get("id_token_hint"); hint != "" {
		claims, err := p.hintClaims(ctx, hint)
		switch {
		case errors.Is(err, errHintIssuer):
			return lr, catalog.InvalidToken.WithMessage("The id_token_hint was issued by another issuer.").WithDetail("field", "id_token_hint")
		case err != nil:
			return lr, catalog.InvalidToken.WithMessage("The id_token_hint is not a valid ID token of this issuer.").WithDetail("field", "id_token_hint").Wrap(err)
		}
		aud := audiences(claims["aud"])
		if clientID == "" && len(aud) > 0 {
			clientID = aud[0]
			// The confirm form carries no hint: it names the client itself.
			lr.params.Set("client_id", clientID)
		} else if clientID != "" && !slices.Contains(aud, clientID) {
			return lr, catalog.InvalidRequest.WithMessage("client_id does not match the id_token_hint.").WithDetail("field", "client_id")
		}
		lr.hintSubject, _ = claims["sub"].(string)
	}
	if redirect := form.Get("post_logout_redirect_uri"); redirect != "" {
		if clientID == "" {
			return lr, catalog.InvalidRequest.WithMessage("post_logout_redirect_uri needs an id_token_hint or a client_id.").WithDetail("field", "post_logout_redirect_uri")
		}
		c, err := p.store.GetClient(ctx, clientID)
		if err != nil {
			if errors.Is(err, storage.ErrUnavailable) {
				return lr, err
			}
			return lr, catalog.InvalidRequest.WithMessage("Unknown client.").WithDetail("field", "client_id").Wrap(err)
		}
		if !slices.Contains(c.(*client).PostLogoutRedirectURIs, redirect) {
			return lr, catalog.InvalidRequest.WithMessage("The post_logout_redirect_uri is not registered for this application.").WithDetail("field", "post_logout_redirect_uri")
		}
		lr.redirect = redirect
	}
	return lr, nil
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}

func flatten(v url.Values) map[string]string {
	out := make(map[string]string, len(v))
	for k := range v {
		out[k] = v.Get(k)
	}
	return out
}

// logoutPurpose binds the confirm form's CSRF token to the tenant and the
// session it ends: the device cookie is shared by every tenant, and a
// token taken from one tenant's page (or before signing in again) must not
// end another session.
func logoutPurpose(ctx context.Context, s *login.Session) string {
	return "logout|" + tenantID(ctx) + "|" + s.ID
}
