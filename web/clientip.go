package web

import (
	"net"
	"net/http"
	"strings"
)

// ClientIP returns the address of the client: the connection's peer, or, when
// that peer is a trusted proxy, the right-most untrusted address of
// X-Forwarded-For. Headers from anyone else are ignored, so a client cannot
// choose its own address (throttling keys on it).
func ClientIP(r *http.Request, trusted []*net.IPNet) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 || !contains(trusted, net.ParseIP(host)) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			break
		}
		if !contains(trusted, ip) {
			return ip.String()
		}
	}
	return host
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	if ip == nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
