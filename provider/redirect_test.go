package provider

import "testing"

// TestRedirectURIAllowed: byte for byte, but for the port of a registered
// http loopback URI.
func TestRedirectURIAllowed(t *testing.T) {
	registered := []string{"https://app.example.com/cb", "http://127.0.0.1:9999/callback", "http://[::1]/cb?x=1", "https://127.0.0.1:8443/cb"}
	for uri, want := range map[string]bool{
		"https://app.example.com/cb":                  true,
		"https://app.example.com/cb/":                 false,
		"https://APP.example.com/cb":                  false,
		"https://app.example.com:443/cb":              false,
		"http://127.0.0.1:9999/callback":              true,
		"http://127.0.0.1:4321/callback":              true,
		"http://127.0.0.1/callback":                   true,
		"http://127.0.0.1:/callback":                  false,
		"http://127.0.0.1:9999/callback?":             false,
		"http://127.0.0.1:9999/callback#":             false,
		"http://127.0.0.1:9999/%63allback":            false,
		"HTTP://127.0.0.1:9999/callback":              false,
		"http://evil.example@127.0.0.1:9999/callback": false,
		"http://127.0.0.1:9999@evil.example/callback": false,
		"http://127.0.0.1.evil.example/callback":      false,
		"http://localhost:9999/callback":              false,
		"http://[::1]:5000/cb?x=1":                    true,
		"http://[::1]:5000/cb?x=2":                    false,
		"http://127.0.0.1:5000/cb?x=1":                false,
		"https://127.0.0.1:8443/cb":                   true,
		"https://127.0.0.1:9443/cb":                   false,
		"http://127.0.0.1:8443/cb":                    false,
	} {
		if got := redirectURIAllowed(uri, registered); got != want {
			t.Errorf("redirectURIAllowed(%q) = %v, want %v", uri, got, want)
		}
	}
}
