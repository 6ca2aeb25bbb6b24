package web

import (
	"net"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("10.0.0.0/8")
	trusted := []*net.IPNet{proxy}
	tests := []struct {
		remote, xff string
		trusted     []*net.IPNet
		want        string
	}{
		{"203.0.113.5:1234", "", nil, "203.0.113.5"},
		{"203.0.113.5:1234", "1.2.3.4", nil, "203.0.113.5"},                           // no trusted proxies: header ignored
		{"203.0.113.5:1234", "1.2.3.4", trusted, "203.0.113.5"},                       // peer is not a trusted proxy
		{"10.1.1.1:1234", "198.51.100.7", trusted, "198.51.100.7"},                    // one trusted hop
		{"10.1.1.1:1234", "6.6.6.6, 198.51.100.7, 10.2.2.2", trusted, "198.51.100.7"}, // spoofed left-most entry ignored
		{"10.1.1.1:1234", "garbage", trusted, "10.1.1.1"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ClientIP(r, tc.trusted); got != tc.want {
			t.Errorf("ClientIP(%s, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}
