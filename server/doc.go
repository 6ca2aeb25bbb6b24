// Package server assembles gatehouse: it opens the store, brings the
// database up to date (retrying with backoff while it is down), and serves
// two listeners: the public one (protocol endpoints, pages, JSON API, per
// tenant under /t/{tenant}/) and the admin one (health, metrics). It owns the
// middleware every request passes (request id, access log, metrics, security
// headers, body limit, panic recovery) and graceful shutdown.
//
// cmd/gatehouse only parses flags and calls New, Run and Close, so tests
// start the very same server in-process.
package server
