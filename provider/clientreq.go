package provider

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
)

// clientRequest checks, before fosite reads it, what fosite leaves open in
// a request whose client authenticates (token, revocation, introspection):
//   - every parameter at most once (RFC 6749 §3.2): invalid_request;
//   - one authentication method (RFC 6749 §2.3): HTTP Basic together with
//     client_secret or client_assertion in the body, or client_secret
//     together with client_assertion, is invalid_request (fosite would
//     take the assertion and ignore the secret);
//   - HTTP Basic credentials that are not form-url-encoded (RFC 6749
//     §2.3.1) are invalid_client, as a wrong secret is (fosite answers
//     invalid_request, without the Basic challenge);
//   - a client_assertion that has expired or is not valid yet is
//     invalid_client (RFC 7523 §3.2). fosite checks the same after the
//     signature, but hands the error on bare, which would be a 500.
//     Refusing on the unverified claims first grants nothing.
func (p *Provider) clientRequest(r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	if err := singleValued(r.PostForm); err != nil {
		return err
	}
	if id, secret, basic := r.BasicAuth(); basic {
		if r.PostForm.Has("client_secret") || r.PostForm.Has("client_assertion") {
			return fosite.ErrInvalidRequest.WithHint("The client authenticated both with HTTP Basic and in the request body; use one method.")
		}
		_, errID := url.QueryUnescape(id)
		_, errSecret := url.QueryUnescape(secret)
		if errID != nil || errSecret != nil {
			return fosite.ErrInvalidClient.WithHint("The HTTP Basic credentials are not form-url-encoded (RFC 6749 section 2.3.1).")
		}
	}
	if r.PostForm.Has("client_secret") && r.PostForm.Has("client_assertion") {
		return fosite.ErrInvalidRequest.WithHint("The client authenticated both with client_secret and client_assertion; use one method.")
	}
	if a := r.PostForm.Get("client_assertion"); a != "" {
		return assertionTimes(a, p.Now())
	}
	return nil
}

// readForm parses the query and the body, urlencoded or multipart, before
// gatehouse checks them: fosite parses a multipart body itself
// (ParseMultipartForm), and its parameters would otherwise reach fosite
// unchecked. ParseForm first: ParseMultipartForm drops its error when the
// body is not multipart (a malformed or oversized form would pass half
// read).
func readForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The request body could not be read as a form.").WithWrap(err)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return fosite.ErrInvalidRequest.WithHint("The request body could not be read.").WithWrap(err)
	}
	return nil
}

// assertionTimes refuses a client assertion whose exp has passed or whose
// nbf or iat is still to come, as fosite's own check (no leeway) would.
// A payload it cannot read is left to fosite.
func assertionTimes(assertion string, now time.Time) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var c struct {
		Exp, Nbf, Iat *float64
	}
	if json.Unmarshal(raw, &c) != nil {
		return nil
	}
	at := float64(now.Unix())
	switch {
	case c.Exp != nil && at > *c.Exp:
		return fosite.ErrInvalidClient.WithHint("The client_assertion has expired.")
	case c.Nbf != nil && at < *c.Nbf, c.Iat != nil && at < *c.Iat:
		return fosite.ErrInvalidClient.WithHint("The client_assertion is not valid yet.")
	}
	return nil
}

// assertionError makes every refusal of a client assertion invalid_client
// (RFC 7523 §3.2): fosite answers invalid_request when the assertion names
// a key the client's JWKS does not have.
func assertionError(r *http.Request, err error) error {
	var rfc *fosite.RFC6749Error
	if err == nil || !r.PostForm.Has("client_assertion") || !errors.As(err, &rfc) || rfc.ErrorField != fosite.ErrInvalidRequest.ErrorField {
		return err
	}
	if strings.HasPrefix(rfc.HintField, "The JSON Web Token uses signing key with kid") ||
		strings.HasPrefix(rfc.HintField, "The retrieved JSON Web Key Set does not contain any key") {
		return fosite.ErrInvalidClient.WithHint(rfc.HintField).WithWrap(err)
	}
	return err
}

// singleValued refuses a parameter given more than once (RFC 6749 §3.1,
// §3.2): fosite would take the first.
func singleValued(v url.Values) error {
	for k, vs := range v {
		if len(vs) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q is given more than once.", k)
		}
	}
	return nil
}
