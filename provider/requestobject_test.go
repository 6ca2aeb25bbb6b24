package provider_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/server/servertest"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// withJWKS registers the client for private_key_jwt with an RSA key: the
// kind of client fosite would parse request objects for.
func withJWKS(s *provider.ClientSpec) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	s.AuthMethod, s.JWKS = provider.AuthPrivateKeyJWT, jwks
}

// TestAuthorizeRequestObjectRefused: discovery says request objects are
// not supported (request_parameter_supported and
// request_uri_parameter_supported false), so request and request_uri are
// refused with request_not_supported / request_uri_not_supported (OIDC
// Core §6), redirected to the URL's redirect URI with the URL's state, for
// a browser with or without a session. Before, fosite parsed an object for
// any client with a JWK set, alg none included, and its claims replaced
// the checked state, redirect_uri (loosely matched: %63allback) and even
// client_id (the code then went to another client).
func TestAuthorizeRequestObjectRefused(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withClient(withJWKS))
		other, _ := e.in.CreateClient(t, e.in.Ctx(), provider.ClientSpec{Name: "Other App", RedirectURIs: []string{redirectURI},
			Scopes: []string{"openid"}})
		signedIn := servertest.NewBrowser(e.in.URL)
		e.signIn(signedIn, e.rp.request()) // a session and remembered consent
		for _, tc := range []struct {
			name, param, value, want string
		}{
			{"unsigned object replacing state and redirect_uri", "request", caUnsignedJWT(map[string]any{"alg": "none", "typ": "JWT"},
				map[string]any{"state": "state-from-the-object", "redirect_uri": strings.Replace(redirectURI, "callback", "%63allback", 1)}),
				"request_not_supported"},
			{"unsigned object naming another client", "request", caUnsignedJWT(map[string]any{"alg": "none"},
				map[string]any{"client_id": other.ID}), "request_not_supported"},
			{"request_uri", "request_uri", "https://rp.example.com/request.jwt", "request_uri_not_supported"},
		} {
			for _, b := range []*servertest.Browser{signedIn, servertest.NewBrowser(e.in.URL)} {
				a := authRequest{state: "state-in-the-url-1234"}
				q := url.Values{"client_id": {e.client.ID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirectURI},
					"state": {a.state}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
					"code_challenge_method": {"S256"}, tc.param: {tc.value}}
				res, err := b.Get(e.in.URL + "/oauth2/auth?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				if got := e.clientError(tc.name, res, a, redirectURI); got != tc.want {
					t.Errorf("%s: error %q, want %s", tc.name, got, tc.want)
				}
			}
		}
	})
}

// TestAuthorizeResponseTypeCase: response types are case-sensitive (RFC
// 6749 §3.1.1). fosite's check folds case, so CODE led through sign-in
// and consent to a server_error; it is unsupported_response_type at once.
func TestAuthorizeResponseTypeCase(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		for _, rt := range []string{"CODE", "Code"} {
			a := e.rp.request(oauth2.SetAuthURLParam("response_type", rt))
			res, err := servertest.NewBrowser(e.in.URL).Get(a.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.clientError("response_type="+rt, res, a, redirectURI); got != "unsupported_response_type" {
				t.Errorf("response_type=%s: error %q, want unsupported_response_type before any page", rt, got)
			}
		}
		if strings.Contains(e.in.Logs.String(), "PKCE handler must be loaded") {
			t.Errorf("a client's response_type=CODE was logged as a server failure")
		}
	})
}

// TestAuthorizeWithoutCodeGrant: a client registered without the
// authorization_code grant gets unauthorized_client at once (RFC 6749
// §4.1.2.1), not a sign-in and a code the token endpoint then refuses.
func TestAuthorizeWithoutCodeGrant(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withClient(func(s *provider.ClientSpec) {
			s.GrantTypes = []string{provider.GrantClientCredentials}
			s.Scopes = []string{"api:read"}
		}))
		a := authRequest{state: "state-in-the-url-1234"}
		q := url.Values{"client_id": {e.client.ID}, "response_type": {"code"}, "scope": {"api:read"}, "redirect_uri": {redirectURI},
			"state": {a.state}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
		res, err := servertest.NewBrowser(e.in.URL).Get(e.in.URL + "/oauth2/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if got := e.clientError("client without the code grant", res, a, redirectURI); got != "unauthorized_client" {
			t.Errorf("authorization by a client without authorization_code: error %q, want unauthorized_client before any page", got)
		}
	})
}

// TestAuthorizeMultipartPost: a POST to /oauth2/auth whose body is
// multipart/form-data has the same checks as a query or a urlencoded body.
// Before, only fosite read such a body: a request object in it (alg none)
// replaced state and redirect_uri, a loosely matched redirect_uri
// (%63allback) was accepted, and a parameter given twice was not refused
// (RFC 6749 §3.1, RFC 9700 §4.1.3: exact redirect URI matching).
func TestAuthorizeMultipartPost(t *testing.T) {
	servertest.Backends(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withClient(withJWKS))
		a := authRequest{state: "state-in-the-body-1234"}
		base := func() [][2]string {
			return [][2]string{{"client_id", e.client.ID}, {"response_type", "code"}, {"scope", "openid"},
				{"state", a.state}, {"code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
				{"code_challenge_method", "S256"}}
		}
		post := func(fields [][2]string) servertest.Result {
			t.Helper()
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for _, f := range fields {
				_ = mw.WriteField(f[0], f[1])
			}
			_ = mw.Close()
			req, _ := http.NewRequest(http.MethodPost, e.in.URL+"/oauth2/auth", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			resp, err := servertest.NewBrowser(e.in.URL).Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if loc, err := resp.Location(); err == nil {
				return servertest.Result{Redirect: loc}
			}
			raw, _ := io.ReadAll(resp.Body)
			return servertest.Result{Page: &servertest.Page{URL: resp.Request.URL, Status: resp.StatusCode, Body: string(raw),
				Name: advFind(advRePage, string(raw)), ErrorCode: advFind(advReError, string(raw))}}
		}

		object := caUnsignedJWT(map[string]any{"alg": "none", "typ": "JWT"},
			map[string]any{"state": "state-from-the-object", "redirect_uri": strings.Replace(redirectURI, "callback", "%63allback", 1)})
		res := post(append(base(), [2]string{"redirect_uri", redirectURI}, [2]string{"request", object}))
		if got := e.clientError("multipart request object", res, a, redirectURI); got != "request_not_supported" {
			t.Errorf("multipart request object: error %q, want request_not_supported", got)
		}

		res = post(append(base(), [2]string{"redirect_uri", strings.Replace(redirectURI, "callback", "%63allback", 1)}))
		errorPage(t, "multipart redirect_uri %63allback", res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)

		res = post(append(base(), [2]string{"redirect_uri", redirectURI}, [2]string{"state", "state-second-1234"}))
		errorPage(t, "multipart state twice", res, "/oauth2/auth", "INVALID_REQUEST", http.StatusBadRequest)

		// The same request, well formed, goes on to the login page.
		res = post(append(base(), [2]string{"redirect_uri", redirectURI}))
		if res.Page == nil || res.Page.Name != "login" {
			t.Errorf("multipart well-formed request: %+v, want the login page", res)
		}
	})
}
