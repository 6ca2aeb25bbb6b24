package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/flow"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// authorize is the authorization endpoint (RFC 6749 §4.1.1, OIDC Core
// §3.1.2). It validates the request with fosite, then either completes it
// at once (a valid browser session and remembered consent: single sign-on)
// or stores it server-side as a flow bound to this browser and sends the
// browser to the login or consent step, which move it on with Continue.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := p.strictRedirectURI(r); err != nil { // parses the form
		p.authorizeError(w, r, nil, err)
		return
	}
	// Request objects are not supported (discovery says so). fosite would
	// parse one for any client with a JWK set, alg none included, and copy
	// its claims (state, redirect_uri, client_id) over the form checked
	// above; so they are taken out first and refused once the redirect URI
	// is known good (OIDC Core §6: request_not_supported).
	unsupported := withoutRequestObject(r.Form)
	ar, err := p.oauth.NewAuthorizeRequest(ctx, r)
	if err == nil {
		err = unsupported
	}
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	req, err := parseAuthorizeExtras(ar)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	if h := ar.GetRequestForm().Get("id_token_hint"); h != "" {
		if req.hintSubject, err = p.hintSubject(ctx, h); err != nil {
			p.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not a valid ID token of this issuer.").WithWrap(err))
			return
		}
	}
	c := ar.GetClient().(*client)
	now := p.Now().UTC()
	f := &flow.Flow{
		ClientID: c.ID, ClientName: c.Name, State: flow.Login, Request: maps.Clone(ar.GetRequestForm()), RequestedAt: now.Truncate(time.Second),
		Scopes: ar.GetRequestedScopes(), LoginHint: ar.GetRequestForm().Get("login_hint"), ForceConsent: req.has("consent"),
	}
	sess, err := p.Sessions.Current(ctx, r)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	needLogin := sess == nil || req.has("login") ||
		(req.maxAge >= 0 && now.Sub(sess.AuthTime) > time.Duration(req.maxAge)*time.Second) ||
		(req.hintSubject != "" && req.hintSubject != sess.UserID)
	if needLogin {
		f.ForceLogin = sess != nil
		if req.has("none") {
			p.redirectError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in, or must sign in again."))
			return
		}
		device := p.Cookies.Device(w, r)
		if err := p.Flows.Start(ctx, f, device); err != nil {
			p.authorizeError(w, r, ar, err)
			return
		}
		// The sign-in page in this answer, not behind a redirect to
		// /login?flow=: one round trip fewer. Its form posts to /login.
		p.ShowLogin(w, r, f, device)
		return
	}
	if err := f.Authenticated(sess.UserID, sess.User.Email, sess.ID, sess.AuthTime, sess.AMR, sess.ACR); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.advance(w, r, ar, c, f, &sess.User, req.has("none"))
}

// authorizeExtras are the parameters fosite leaves to us.
type authorizeExtras struct {
	prompt      []string
	maxAge      int // -1 when absent
	hintSubject string
}

func (a authorizeExtras) has(prompt string) bool { return slices.Contains(a.prompt, prompt) }

func parseAuthorizeExtras(ar fosite.AuthorizeRequester) (authorizeExtras, error) {
	form := ar.GetRequestForm()
	a := authorizeExtras{prompt: fosite.RemoveEmpty(strings.Split(form.Get("prompt"), " ")), maxAge: -1}
	// Response types are case-sensitive (RFC 6749 §3.1.1); fosite's check
	// folds case, and CODE would lead through sign-in to a server_error.
	if !ar.GetResponseTypes().ExactOne("code") {
		return a, fosite.ErrUnsupportedResponseType.WithHintf("The response_type %q is not supported; use code.", form.Get("response_type"))
	}
	// fosite does not check the client's grant types here: a client
	// without the code grant would get a code it can never redeem.
	if !slices.Contains(ar.GetClient().GetGrantTypes(), GrantAuthorizationCode) {
		return a, fosite.ErrUnauthorizedClient.WithHint("The client may not use the authorization_code grant.")
	}
	if form.Get("redirect_uri") == "" {
		return a, fosite.ErrInvalidRequest.WithHint("The redirect_uri parameter is required.")
	}
	for _, v := range a.prompt {
		if v != "none" && v != "login" && v != "consent" {
			return a, fosite.ErrInvalidRequest.WithHintf("Unsupported prompt value %q.", v)
		}
	}
	// PKCE is checked here, not only when the code is issued (where fosite
	// checks it): a bad request must not lead the user through sign-in first.
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method == "" && ar.GetClient().IsPublic():
		return a, fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.").WithDebug("The server is configured in a way that enforces PKCE for public clients.")
	case (challenge != "" || method != "") && method != "S256":
		return a, fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256; plain is not allowed.")
	case method == "S256" && !isS256Challenge(challenge):
		// RFC 7636 §4.2: BASE64URL(SHA256(verifier)), unpadded: 43
		// characters. Anything else can never match a verifier.
		return a, fosite.ErrInvalidRequest.WithHint("The code_challenge must be the unpadded base64url SHA-256 of the verifier: 43 characters.")
	}
	// fosite refuses a nonce under 8 characters when it signs the ID token,
	// at the token endpoint: refused here, before the user signs in.
	if n := form.Get("nonce"); n != "" && len(n) < minParameterEntropy {
		return a, fosite.ErrInvalidRequest.WithHintf("The nonce must be at least %d characters.", minParameterEntropy)
	}
	if a.has("none") && len(a.prompt) > 1 {
		return a, fosite.ErrInvalidRequest.WithHint("prompt=none cannot be combined with other values.")
	}
	if v := form.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return a, fosite.ErrInvalidRequest.WithHint("max_age must be a non-negative number of seconds.")
		}
		if n > maxMaxAge {
			// Longer than any session lives: the same as the cap, which
			// fosite's own check (seconds as a time.Duration) can hold.
			n = maxMaxAge
			form.Set("max_age", strconv.FormatInt(n, 10))
		}
		a.maxAge = int(n)
	}
	return a, nil
}

// minParameterEntropy is the shortest state and nonce accepted (fosite's
// default, 8 characters).
const minParameterEntropy = fosite.MinParameterEntropy

// maxMaxAge caps max_age (about 68 years): larger values would overflow
// a time.Duration, here and in fosite, and turn into "sign in again".
const maxMaxAge = 1<<31 - 1

// isS256Challenge reports whether c can be an S256 code_challenge: 43
// characters of the unpadded base64url alphabet.
func isS256Challenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// errHintIssuer: an id_token_hint signed with this issuer's keys but
// naming another issuer (another tenant's, say).
var errHintIssuer = errors.New("id_token_hint from another issuer")

// hintClaims verifies an id_token_hint, at authorization and at logout: an
// ID token signed by this issuer, expired or not (OIDC Core §3.1.2.1).
func (p *Provider) hintClaims(ctx context.Context, hint string) (jwt.MapClaims, error) {
	tok, err := p.signer.Decode(ctx, hint)
	var ve *jwt.ValidationError
	if err != nil && !(errors.As(err, &ve) && ve.Has(jwt.ValidationErrorExpired) && tok != nil && tok.Claims != nil) {
		return nil, err
	}
	// An access token in JWT form is signed with the same keys (typ
	// at+jwt, RFC 9068): it is no ID token (RFC 8725 §3.11).
	if typ, _ := tok.Header["typ"].(string); typ != "" && !strings.EqualFold(typ, "JWT") {
		return nil, fmt.Errorf("id_token_hint of type %q is not an ID token", typ)
	}
	if iss, _ := tok.Claims["iss"].(string); iss != p.issuer(ctx) {
		return nil, errHintIssuer
	}
	return tok.Claims, nil
}

// hintSubject is the subject of a valid id_token_hint.
func (p *Provider) hintSubject(ctx context.Context, hint string) (string, error) {
	claims, err := p.hintClaims(ctx, hint)
	if err != nil {
		return "", err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return "", errors.New("id_token_hint has no subject")
	}
	return sub, nil
}

// advance moves an authenticated flow on: to the consent page, or, when
// consent is remembered or not needed (first-party client), to the code.
// user is the account when this request has just loaded it (with the browser
// session, or by signing in); nil to load it again (a flow resumed after its
// pages). A flow that is not stored yet is stored only if a page follows.
func (p *Provider) advance(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, c *client, f *flow.Flow, user *storage.User, promptNone bool) {
	stored := f.Stored()
	ctx := r.Context()
	covered := false
	if !c.SkipConsent && !f.ForceConsent {
		var err error
		if covered, err = p.Grants.Covers(ctx, f.UserID, c.ID, f.Scopes); err != nil {
			p.authorizeError(w, r, ar, err)
			return
		}
	}
	if !c.SkipConsent && !covered {
		if promptNone {
			p.redirectError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to this application."))
			return
		}
		var err error
		switch {
		case !stored:
			err = p.Flows.Start(ctx, f, p.Cookies.Device(w, r))
		case f.Unsaved(): // signed in just now: the consent step is stored
			err = p.Flows.Save(ctx, f)
		}
		if err != nil {
			p.authorizeError(w, r, ar, err)
			return
		}
		p.redirectTo(w, r, "/consent?flow="+f.ID)
		return
	}
	if c.SkipConsent {
		// First-party: no page, but the grant is recorded (once), so a
		// refresh can still check it exists and revoking it still works.
		covered, err := p.Grants.Covers(ctx, f.UserID, c.ID, f.Scopes)
		if err == nil && !covered {
			err = p.Grants.Remember(ctx, f.UserID, c.ID, f.Scopes, true)
		}
		if err != nil {
			p.authorizeError(w, r, ar, err)
			return
		}
	}
	// Consented in memory only: finish writes the flow once, straight to
	// done, in the transaction that stores the code.
	if err := f.Consented(f.Scopes); err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	p.finish(w, r, ar, c, f, user)
}

// Continue moves a stored flow on from where it is, for the login and
// consent pages, which loaded it (and may have moved it on in memory: it is
// then saved with its next step). Only the flow id came from the browser:
// the authorization request is rebuilt from the stored parameters and
// validated by fosite again against the client as it is now.
func (p *Provider) Continue(w http.ResponseWriter, r *http.Request, f *flow.Flow) {
	p.ContinueSignedIn(w, r, f, nil)
}

// ContinueSignedIn is Continue for the login step, with the account that
// has just signed in and the flow moved on in memory but not saved: it is
// written once, with its next step (the consent page, or done in the
// transaction that stores the code), and the account is not read again.
func (p *Provider) ContinueSignedIn(w http.ResponseWriter, r *http.Request, f *flow.Flow, user *storage.User) {
	ctx := r.Context()
	ar, err := p.rebuild(r, f)
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	c := ar.GetClient().(*client)
	switch f.State {
	case flow.Login:
		p.redirectTo(w, r, "/login?flow="+f.ID)
	case flow.Consent:
		p.advance(w, r, ar, c, f, user, false)
	case flow.Ready:
		p.finish(w, r, ar, c, f, nil)
	case flow.Denied:
		if err := f.Finish(); err == nil {
			err = p.Flows.Save(ctx, f)
		}
		if err != nil {
			p.Pages.RenderError(w, r, err, "")
			return
		}
		p.redirectError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
	default:
		p.Pages.RenderError(w, r, flow.ErrInvalid, "")
	}
}

// withoutRequestObject removes the request and request_uri parameters from
// form and returns the error that refuses them, nil when there were none.
func withoutRequestObject(form url.Values) error {
	var err error
	switch {
	case form.Has("request"):
		err = fosite.ErrRequestNotSupported.WithHint("Request objects are not supported.")
	case form.Has("request_uri"):
		err = fosite.ErrRequestURINotSupported.WithHint("Request objects are not supported.")
	}
	form.Del("request")
	form.Del("request_uri")
	return err
}

// rebuild re-parses the stored authorization request.
func (p *Provider) rebuild(r *http.Request, f *flow.Flow) (fosite.AuthorizeRequester, error) {
	u := *r.URL
	params := maps.Clone(f.Request)
	if err := withoutRequestObject(params); err != nil {
		return nil, flow.ErrInvalid.Wrap(err) // a flow stored before they were refused
	}
	u.RawQuery = params.Encode()
	stored := r.Clone(r.Context())
	stored.Method, stored.URL, stored.Body, stored.Form, stored.PostForm = http.MethodGet, &u, http.NoBody, nil, nil
	stored.Header.Del("Content-Type")
	return p.oauth.NewAuthorizeRequest(r.Context(), stored)
}

// finish issues the code for a consented flow: the account must still be
// able to sign in (user: just loaded with the session, or nil to load it);
// a stored flow is marked done in the same transaction that stores the
// code, so one flow yields at most one code.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, c *client, f *flow.Flow, user *storage.User) {
	ctx := r.Context()
	stored := f.Stored()
	if user == nil {
		// A flow resumed from a page (consent): the browser must still be
		// signed in as the flow's account (a logout, or another account's
		// sign-in, while the page was open ends it), and the account may
		// still sign in (Current checks both, in one read).
		s, err := p.Sessions.Current(ctx, r)
		if err != nil {
			p.authorizeError(w, r, ar, err)
			return
		}
		if s == nil || s.User.ID != f.UserID {
			p.redirectError(w, r, ar, fosite.ErrAccessDenied.WithHint("The browser is no longer signed in as the account that started this authorization."))
			return
		}
		u := s.User
		user = &u
	}
	u := *user
	for _, s := range f.GrantedScopes {
		ar.GrantScope(s)
	}
	grantAudience(ar, c)
	requestID := f.ID
	if !stored {
		requestID = web.RandomToken(24)
	}
	ar.SetID(requestID)
	sess := p.userSession(ctx, ar, c, u, f)
	var resp fosite.AuthorizeResponder
	var err error
	if !stored {
		// Single sign-on without a page: the code's row is the only write
		// (no transaction, two fewer statements).
		resp, err = p.oauth.NewAuthorizeResponse(ctx, ar, sess)
	} else {
		err = p.Store.InTx(ctx, func(ctx context.Context) error {
			if err := f.Finish(); err != nil {
				return flow.ErrInvalid.Wrap(err)
			}
			if err := p.Flows.Save(ctx, f); err != nil {
				return err
			}
			var err error
			resp, err = p.oauth.NewAuthorizeResponse(ctx, ar, sess)
			return err
		})
	}
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", p.issuer(ctx))
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// grantAudience grants the requested audiences (fosite checked them against
// the client's), or all of the client's when none was requested, so RFC 9068
// access tokens always carry an aud (a client with JWT access tokens must
// register one).
func grantAudience(ar fosite.Requester, c *client) {
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = c.Audience
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}
}

// userSession builds the session of a user grant: the ID token claims
// (iss, sub, aud, azp, auth_time, nonce, acr, amr, sid and the claims the
// scopes release) and the algorithm of the client's tokens.
func (p *Provider) userSession(ctx context.Context, ar fosite.Requester, c *client, u storage.User, f *flow.Flow) *Session {
	iss := p.issuer(ctx)
	extra := userClaims(u, ar.GetGrantedScopes())
	extra["azp"] = c.ID
	if f.SessionID != "" {
		extra["sid"] = f.SessionID
	}
	claims := &jwt.IDTokenClaims{
		Issuer: iss, Subject: u.ID, Audience: []string{c.ID}, AuthTime: f.AuthTime, RequestedAt: f.RequestedAt,
		Nonce: ar.GetRequestForm().Get("nonce"), AuthenticationMethodsReferences: f.AMR,
		AuthenticationContextClassReference: f.ACR, Extra: extra,
	}
	return &Session{
		DefaultSession: &openid.DefaultSession{Claims: claims, Headers: &jwt.Headers{Extra: map[string]any{}}, Subject: u.ID, Username: u.Email},
		ClientID:       c.ID, UserID: u.ID, SessionID: f.SessionID, Alg: c.IDTokenAlg, Issuer: iss,
	}
}

// redirectTo sends the browser to a page of the ctx tenant (303).
func (p *Provider) redirectTo(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, tenant.PathPrefix(tenantID(r.Context()))+path, http.StatusSeeOther)
}

// strictRedirectURI refuses, before fosite sees the request, a redirect_uri
// that is not byte for byte one the client registered, but for the port of
// a registered http://127.0.0.1 or http://[::1] URI (RFC 8252 §7.3,
// SECURITY.md). fosite's loopback rule compares only host, decoded path
// and query: it let the scheme's case, percent-encoding, an empty query or
// fragment, user info and even http for a registered https URI through.
// A parameter given twice is refused the same way (RFC 6749 §3.1), as
// fosite would take the first. An unknown client and a missing
// redirect_uri are left to the checks that follow.
func (p *Provider) strictRedirectURI(r *http.Request) error {
	if err := readForm(r); err != nil { // a multipart body too (readForm)
		return err
	}
	if err := singleValued(r.Form); err != nil {
		return err
	}
	requested := r.Form.Get("redirect_uri")
	if requested == "" {
		return nil
	}
	c, err := p.store.GetClient(r.Context(), r.Form.Get("client_id"))
	if err != nil {
		if errors.Is(err, storage.ErrUnavailable) {
			return err
		}
		return nil // fosite answers for an unknown client
	}
	if !redirectURIAllowed(requested, c.GetRedirectURIs()) {
		return fosite.ErrInvalidRequest.WithHint("The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls.")
	}
	return nil
}

// redirectURIAllowed reports whether requested is one of registered, byte
// for byte, or differs from a registered loopback URI only in the port.
func redirectURIAllowed(requested string, registered []string) bool {
	reqHost, reqRest, reqLoopback := splitLoopback(requested)
	for _, reg := range registered {
		if requested == reg {
			return true
		}
		if host, rest, ok := splitLoopback(reg); ok && reqLoopback && host == reqHost && rest == reqRest {
			return true
		}
	}
	return false
}

// splitLoopback splits an http://127.0.0.1 or http://[::1] URI into that
// prefix and what follows its port (which may be absent).
func splitLoopback(u string) (host, rest string, ok bool) {
	for _, h := range []string{"http://127.0.0.1", "http://[::1]"} {
		rest, found := strings.CutPrefix(u, h)
		if !found {
			continue
		}
		if port, ok := strings.CutPrefix(rest, ":"); ok {
			i := 0
			for i < len(port) && port[i] >= '0' && port[i] <= '9' {
				i++
			}
			if i == 0 {
				return "", "", false
			}
			rest = port[i:]
		}
		if rest != "" && rest[0] != '/' && rest[0] != '?' {
			return "", "", false
		}
		return h, rest, true
	}
	return "", "", false
}
