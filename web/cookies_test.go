package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/keyring"
)

func TestCookies(t *testing.T) {
	secure := Cookies{Secure: true}
	if got := secure.Name("session", "default"); got != "__Host-gh_session" {
		t.Errorf("https session cookie %q", got)
	}
	if got := secure.Name("session", "acme"); got != "__Host-gh_session_acme" {
		t.Errorf("https tenant cookie %q", got)
	}
	if got := (Cookies{}).Name("session", ""); got != "gh_session" {
		t.Errorf("http session cookie %q", got)
	}
	rec := httptest.NewRecorder()
	secure.Set(rec, secure.Name("session", ""), "v", 0)
	h := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-gh_session=v", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(h, want) {
			t.Errorf("Set-Cookie %q lacks %s", h, want)
		}
	}
	if strings.Contains(h, "Domain=") {
		t.Errorf("__Host- cookie with a Domain: %q", h)
	}
}

func TestCSRF(t *testing.T) {
	ring, _ := keyring.New([]string{strings.Repeat("k", 32)})
	c := CSRF{Keys: ring}
	tok := c.Token("device-1", "login:f1")
	if !c.Check("device-1", "login:f1", tok) {
		t.Fatal("own token refused")
	}
	for _, tc := range [][3]string{{"device-2", "login:f1", tok}, {"device-1", "login:f2", tok}, {"device-1", "login:f1", ""}, {"", "login:f1", tok}, {"device-1", "login:f1", "!!"}} {
		if c.Check(tc[0], tc[1], tc[2]) {
			t.Errorf("Check(%q, %q, %q) passed", tc[0], tc[1], tc[2])
		}
	}
}
