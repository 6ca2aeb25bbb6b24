// Package web holds what every public HTTP face shares: the request id in
// the context, the security headers of pages, the client address (behind
// trusted proxies only), and the one writer that turns a catalog error into a
// JSON response and a log line. It owns no routes and no business rules.
package web
