package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/tenant"
)

// Cookies writes gatehouse's cookies. Over https every cookie is
// __Host-prefixed, Secure, HttpOnly, Path=/ and SameSite=Lax; over http
// (loopback or --dev) the prefix and Secure are dropped, the rest kept.
// Cookies of a tenant other than the default carry its id in the name, so
// signing in to one tenant never replaces another's session.
type Cookies struct {
	Secure bool
}

// Name returns the cookie name for base in the tenant.
func (c Cookies) Name(base, tenantID string) string {
	name := "gh_" + base
	if tenantID != "" && tenantID != tenant.Default {
		name += "_" + tenantID
	}
	if c.Secure {
		return "__Host-" + name
	}
	return name
}

// Set writes a cookie that lives maxAge (a session cookie when 0).
func (c Cookies) Set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, ck)
}

// Clear deletes a cookie.
func (c Cookies) Clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Get returns a cookie's value or "".
func Get(r *http.Request, name string) string {
	ck, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return ck.Value
}

// RandomToken returns n random bytes, base64url-encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns SHA-256 of a random token: what is stored in place of
// the token (it has 256 bits of entropy, so a fast hash is the right one).
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

const deviceTTL = 365 * 24 * time.Hour

// Device returns the browser's device id, setting the device cookie when
// the browser has none. Pending authorizations are bound to it, and CSRF
// tokens are derived from it.
func (c Cookies) Device(w http.ResponseWriter, r *http.Request) string {
	name := c.Name("device", "")
	if v := Get(r, name); len(v) == 43 {
		return v
	}
	v := RandomToken(32)
	c.Set(w, name, v, deviceTTL)
	return v
}

// ExistingDevice returns the device id the browser sent, or "".
func (c Cookies) ExistingDevice(r *http.Request) string {
	if v := Get(r, c.Name("device", "")); len(v) == 43 {
		return v
	}
	return ""
}

// CSRF derives and checks form tokens: HMAC(device id, purpose) under the
// cookie key, so a page from another site (which cannot read the HttpOnly
// device cookie) cannot forge one, and no state is stored.
type CSRF struct {
	Keys *keyring.Keyring
}

// Token returns the token a form for purpose (e.g. "login:"+flowID) carries.
func (c CSRF) Token(device, purpose string) string {
	return base64.RawURLEncoding.EncodeToString(c.Keys.MAC(keyring.PurposeCookie, []byte("csrf|"+device+"|"+purpose)))
}

// Check verifies a submitted token in constant time, under every
// configured secret.
func (c CSRF) Check(device, purpose, token string) bool {
	if device == "" || token == "" {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	ok, _ := c.Keys.Verify(keyring.PurposeCookie, []byte("csrf|"+device+"|"+purpose), raw)
	return ok
}

// Equal compares two secrets in constant time.
func Equal(a, b []byte) bool { return hmac.Equal(a, b) }
