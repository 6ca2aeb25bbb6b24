package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/oauth2"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/web"
)

const redirectURI = "http://127.0.0.1:9/callback"

// conn is one keep-alive connection, as a browser or a client keeps one:
// HTTP/1.1 written and read on the worker's own goroutine (net/http's
// Transport hands every request to two goroutines of its own, and that
// hand-off was a third of the bench's CPU, taken from the two cores the
// server runs on), with the cookies a browser would keep; redirects are
// not followed (the flows read every Location themselves).
type conn struct {
	base, addr string
	jar        http.CookieJar
	nc         net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
}

func newConn(base string) *conn {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	return &conn{base: base, addr: u.Host, jar: jar}
}

// forgetCookies starts a new browser on the same connection.
func (c *conn) forgetCookies() {
	c.jar, _ = cookiejar.New(nil)
}

// closeConn closes the socket; the next request dials again.
func (c *conn) closeConn() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
}

// connSet is the connections a scenario (or a burst) opened, closed when
// its workers are done so their sockets do not outlive it.
type connSet struct {
	mu    sync.Mutex
	conns []*conn
}

// open returns a new connection that close will close.
func (s *connSet) open(base string) *conn {
	c := newConn(base)
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c
}

// close closes the connections' sockets, once the workers have returned.
func (s *connSet) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.closeConn()
	}
	s.conns = nil
}

// do sends one request; authorize, when not nil, adds its credentials.
func (c *conn) do(ctx context.Context, method, path string, form url.Values, authorize func(*http.Request)) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if strings.HasPrefix(path, "/") {
		u = c.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authorize != nil {
		authorize(req)
	}
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, raw, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if set := resp.Cookies(); len(set) > 0 {
		c.jar.SetCookies(req.URL, set)
	}
	return resp, raw, nil
}

// roundTrip writes req on the connection (dialling it first if needed) and
// reads the whole answer. A failure closes the connection: the request
// counts as failed, and the next one starts on a new socket.
func (c *conn) roundTrip(ctx context.Context, req *http.Request) (resp *http.Response, raw []byte, err error) {
	if req.URL.Host != c.addr {
		return nil, nil, fmt.Errorf("bench: %s is not on this connection's host %s", req.URL, c.addr)
	}
	if c.nc == nil {
		var d net.Dialer
		if c.nc, err = d.DialContext(ctx, "tcp", c.addr); err != nil {
			return nil, nil, err
		}
		c.br, c.bw = bufio.NewReaderSize(c.nc, 16<<10), bufio.NewWriterSize(c.nc, 4<<10)
	}
	_ = c.nc.SetDeadline(time.Now().Add(60 * time.Second))
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Now()) })
	defer func() {
		stop()
		if err != nil {
			c.closeConn()
		}
	}()
	if err = req.Write(c.bw); err != nil {
		return nil, nil, err
	}
	if err = c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	if resp, err = http.ReadResponse(c.br, req); err != nil {
		return nil, nil, err
	}
	raw, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.Close {
		c.closeConn() // the server said so
	}
	return resp, raw, err
}

// get sends a GET without credentials (the browser's requests).
func (c *conn) get(ctx context.Context, path string) (*http.Response, []byte, error) {
	return c.do(ctx, http.MethodGet, path, nil, nil)
}

// post sends a form without credentials (the browser's requests).
func (c *conn) post(ctx context.Context, path string, form url.Values) (*http.Response, []byte, error) {
	return c.do(ctx, http.MethodPost, path, form, nil)
}

// clientJSON posts a form as the client a (HTTP Basic) and decodes the
// 200 answer into v.
func (c *conn) clientJSON(ctx context.Context, a app, path string, form url.Values, v any) error {
	resp, raw, err := c.do(ctx, http.MethodPost, path, form, func(r *http.Request) { r.SetBasicAuth(a.id, a.secret) })
	if err != nil {
		return err
	}
	return expectJSON(resp, raw, http.StatusOK, v)
}

// bearerJSON GETs path with a bearer token and decodes the 200 answer
// into v.
func (c *conn) bearerJSON(ctx context.Context, path, token string, v any) error {
	resp, raw, err := c.do(ctx, http.MethodGet, path, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
	if err != nil {
		return err
	}
	return expectJSON(resp, raw, http.StatusOK, v)
}

// tokenResponse is what the token endpoint answers.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// token sends a token request as the client a.
func (c *conn) token(ctx context.Context, a app, form url.Values) (tokenResponse, error) {
	var t tokenResponse
	err := c.clientJSON(ctx, a, "/oauth2/token", form, &t)
	return t, err
}

// statusError is an answer with another status than the step expected.
type statusError struct {
	step   string // "login", "POST /oauth2/token", …
	code   int
	detail string // appended to the message, e.g. ", want 200: <body>"
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: status %d%s", e.step, e.code, e.detail)
}

// expectJSON checks a status and decodes the JSON body into v.
func expectJSON(resp *http.Response, raw []byte, status int, v any) error {
	if resp.StatusCode != status {
		return &statusError{step: resp.Request.Method + " " + resp.Request.URL.Path, code: resp.StatusCode,
			detail: fmt.Sprintf(", want %d: %.200s", status, raw)}
	}
	return json.Unmarshal(raw, v)
}

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	v := oauth2.GenerateVerifier()
	return v, oauth2.S256ChallengeFromVerifier(v)
}

// app is a registered client as a relying party sees it.
type app struct {
	id, secret string
	scope      string
}

type authState struct {
	state, nonce, verifier string
}

func (a app) authURL() (string, authState) {
	s := authState{state: web.RandomToken(12), nonce: web.RandomToken(12)}
	v, ch := pkce()
	s.verifier = v
	q := url.Values{"client_id": {a.id}, "response_type": {"code"}, "scope": {a.scope}, "redirect_uri": {redirectURI},
		"state": {s.state}, "nonce": {s.nonce}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
	return "/oauth2/auth?" + q.Encode(), s
}

// callbackCode checks a redirect back to the app and returns the code.
func callbackCode(resp *http.Response, st authState, issuer string) (string, error) {
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), redirectURI) {
		return "", fmt.Errorf("want a 303 back to the app, got %d %v", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("state") != st.state || q.Get("iss") != issuer || q.Get("code") == "" {
		return "", fmt.Errorf("bad authorization response %s", loc.RawQuery)
	}
	return q.Get("code"), nil
}

// exchange redeems a code and verifies the ID token; it returns the token
// response.
func (c *conn) exchange(ctx context.Context, a app, code string, st authState, keys *jwks, issuer string) (tokenResponse, error) {
	tok, err := c.token(ctx, a, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {st.verifier}})
	if err != nil {
		return tok, err
	}
	if keys != nil {
		if err := keys.verifyIDToken(ctx, tok.IDToken, issuer, a.id, st.nonce); err != nil {
			return tok, err
		}
	}
	return tok, nil
}

var (
	reCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	reFlow = regexp.MustCompile(`name="flow" value="([^"]*)"`)
)

// login runs a whole authorization with a password sign-in and returns
// the token response: /oauth2/auth (answered with the login page) → POST
// /login (straight back to the app with the code) → token. A redirect to the
// page is followed, as a browser would.
func (c *conn) login(ctx context.Context, a app, email, password string, keys *jwks, issuer string) (tokenResponse, error) {
	c.forgetCookies()
	u, st := a.authURL()
	resp, page, err := c.get(ctx, u)
	if err != nil {
		return tokenResponse{}, err
	}
	if resp.StatusCode == http.StatusSeeOther {
		if resp, page, err = c.get(ctx, resp.Header.Get("Location")); err != nil {
			return tokenResponse{}, err
		}
	}
	csrf, flow := reCSRF.FindSubmatch(page), reFlow.FindSubmatch(page)
	if resp.StatusCode != 200 || csrf == nil || flow == nil {
		return tokenResponse{}, &statusError{step: "login page", code: resp.StatusCode}
	}
	resp, page, err = c.post(ctx, "/login", url.Values{"flow": {string(flow[1])}, "csrf_token": {string(csrf[1])},
		"email": {email}, "password": {password}})
	if err != nil {
		return tokenResponse{}, err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return tokenResponse{}, &statusError{step: "login", code: resp.StatusCode, detail: fmt.Sprintf(": %.300s", page)}
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, redirectURI) {
		// Not straight back to the app: follow the step gatehouse names.
		if resp, _, err = c.get(ctx, loc); err != nil {
			return tokenResponse{}, err
		}
	}
	code, err := callbackCode(resp, st, issuer)
	if err != nil {
		return tokenResponse{}, err
	}
	return c.exchange(ctx, a, code, st, keys, issuer)
}

// sso runs an authorization with the session the connection already has:
// no page, straight to the code, then the token.
func (c *conn) sso(ctx context.Context, a app, keys *jwks, issuer string) (tokenResponse, error) {
	u, st := a.authURL()
	resp, _, err := c.get(ctx, u)
	if err != nil {
		return tokenResponse{}, err
	}
	code, err := callbackCode(resp, st, issuer)
	if err != nil {
		return tokenResponse{}, err
	}
	return c.exchange(ctx, a, code, st, keys, issuer)
}

// jwks verifies ID tokens against the issuer's published keys, as a
// relying party would (fetched once, again on an unknown kid).
type jwks struct {
	mu   sync.Mutex
	url  string
	keys map[string]jose.JSONWebKey
}

func (k *jwks) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKey{}, fmt.Errorf("JWKS: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return jose.JSONWebKey{}, err
	}
	k.keys = map[string]jose.JSONWebKey{}
	for _, key := range set.Keys {
		k.keys[key.KeyID] = key
	}
	if key, ok := k.keys[kid]; ok {
		return key, nil
	}
	return jose.JSONWebKey{}, fmt.Errorf("kid %q not in JWKS", kid)
}

func (k *jwks) verifyIDToken(ctx context.Context, raw, issuer, aud, nonce string) error {
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return fmt.Errorf("id_token: %w", err)
	}
	key, err := k.key(ctx, sig.Signatures[0].Header.KeyID)
	if err != nil {
		return err
	}
	payload, err := sig.Verify(key)
	if err != nil {
		return fmt.Errorf("id_token signature: %w", err)
	}
	var c struct {
		Iss   string `json:"iss"`
		Aud   any    `json:"aud"`
		Nonce string `json:"nonce"`
		Exp   int64  `json:"exp"`
		Sub   string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	audOK := c.Aud == aud
	if list, ok := c.Aud.([]any); ok && len(list) == 1 && list[0] == aud {
		audOK = true
	}
	if c.Iss != issuer || !audOK || c.Nonce != nonce || c.Sub == "" || time.Now().Unix() > c.Exp {
		return errors.New("id_token claims do not check out")
	}
	return nil
}
