package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
	"github.com/gatehouse/gatehouse/web"
)

// maxBodyBytes bounds every request body: protocol requests and forms are
// small, and an unbounded body is a memory exhaustion vector.
const maxBodyBytes = 1 << 20

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// recorder captures the status and size of a response for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	route  string
	tenant string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("hijack not supported")
}

// common wraps a listener's handler with what every request passes: request
// id, access log, metrics, panic recovery and the body limit.
func (s *Server) common(listener string, next http.Handler) http.Handler {
	log := logging.Area(s.log, "http")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		if len(r.TransferEncoding) > 0 {
			// A chunked request may have come with a Content-Length too,
			// which Go drops before the handler sees it (RFC 9112 §6.1 asks
			// to close then): never serve a request pipelined behind one.
			w.Header().Set("Connection", "close")
		}
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(web.WithRequestID(r.Context(), id))
		r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic serving request", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeInternal(rec, r)
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := rec.route
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.requests.WithLabelValues(listener, route, methodLabel(r.Method), strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(listener, route).Observe(elapsed.Seconds())
			// The path only: a query string can carry codes and tokens.
			log.InfoContext(r.Context(), "http request",
				"listener", listener, "method", r.Method, "path", r.URL.Path, "route", route,
				"status", status, "bytes", rec.bytes, "duration_ms", float64(elapsed.Microseconds())/1000,
				"request_id", id, "remote_addr", web.ClientIP(r, s.proxies), "tenant_id", rec.tenant)
		}()
		next.ServeHTTP(rec, r)
	})
}

// methodLabel bounds the method label: Go accepts any token as a method,
// and a label per made-up method would grow the metrics without end.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// writeInternal answers a panic in the shape the endpoint's callers read.
func (s *Server) writeInternal(rec *recorder, r *http.Request) {
	s.writeShaped(rec, r, rec.tenant, catalog.Internal)
}

// writeShaped answers err, refused before the endpoint's own handler ran (a
// panic, the readiness gate, a failed tenant lookup), in the shape the
// endpoint's callers read (docs/errors.md): an RFC 6749 error on the
// protocol's JSON endpoints (server_error or, for SERVICE_UNAVAILABLE,
// temporarily_unavailable, with the catalog code as error_code), the error
// page on the pages a browser is sent to, the catalog envelope elsewhere.
// An OAuth client reads error as a string: the envelope's object is no
// RFC 6749 error to it.
func (s *Server) writeShaped(w http.ResponseWriter, r *http.Request, tid string, err error) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/t/"); ok { // the tenant may not be resolved yet
		_, after, _ := strings.Cut(rest, "/")
		p = "/" + after
	}
	switch p {
	case "/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/userinfo":
		ce := web.LogError(r.Context(), s.log, err)
		body := map[string]string{"error": "server_error",
			"error_description": "The server failed to answer; request id " + web.RequestID(r.Context()) + ".", "error_code": string(ce.Code)}
		if ce.Status == http.StatusServiceUnavailable {
			body["error"], body["error_description"] = "temporarily_unavailable", "The service is temporarily unavailable. Try again shortly."
		}
		if ce.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ce.RetryAfter))
		}
		web.WriteJSON(w, ce.Status, body)
	case "/oauth2/auth", "/oauth2/sessions/logout", "/login", "/consent":
		ctx := r.Context()
		if tid != "" { // the page's links are its tenant's, once known
			ctx = tenant.With(ctx, tid)
		}
		s.svc.Pages.RenderError(w, r.WithContext(ctx), err, "")
	default:
		web.WriteError(w, r, s.log, err)
	}
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// routeOf records the pattern the mux matched, for metrics and logs.
func routeOf(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if rec, ok := w.(*recorder); ok && r.Pattern != "" {
			rec.route = r.Pattern
		}
	})
}

// securityHeaders sets the page headers on every public response.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	https := strings.HasPrefix(s.cfg.Issuer, "https://")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.PageSecurityHeaders(w.Header(), https)
		next.ServeHTTP(w, r)
	})
}

// readyGate answers 503 until start-up finished: no public request touches a
// database whose schema is not current.
func (s *Server) readyGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			s.writeShaped(w, r, "", catalog.ServiceUnavailable.WithRetryAfter(2).WithMessage("gatehouse is starting; the database is not ready yet"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is path.Clean keeping a trailing slash, as ServeMux does.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// tenantRouter serves /t/{tenant}/… for that tenant (with the prefix
// stripped) and everything else for the default tenant; the tenant travels
// in ctx. An unknown or disabled tenant is TENANT_NOT_FOUND. The default
// tenant is only served at the root, so it has exactly one issuer URL.
func (s *Server) tenantRouter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*recorder)
		path := r.URL.Path
		// RFC 8414 §3: the metadata of issuer https://host/t/acme lives at
		// /.well-known/oauth-authorization-server/t/acme (path insertion).
		if id, ok := strings.CutPrefix(path, "/.well-known/oauth-authorization-server/t/"); ok && !strings.Contains(id, "/") {
			path = "/t/" + id + "/.well-known/oauth-authorization-server"
		}
		rest, ok := strings.CutPrefix(path, "/t/")
		if !ok {
			if rec != nil {
				rec.tenant = tenant.Default
			}
			next.ServeHTTP(w, r.WithContext(tenant.With(r.Context(), tenant.Default)))
			return
		}
		id, after, _ := strings.Cut(rest, "/")
		if !tenant.ValidID(id) || id == tenant.Default {
			web.WriteError(w, r, s.log, catalog.TenantNotFound)
			return
		}
		t, err := s.store.GetTenant(r.Context(), id)
		switch {
		case errors.Is(err, storage.ErrNotFound) || (err == nil && t.Disabled):
			web.WriteError(w, r, s.log, catalog.TenantNotFound)
			return
		case err != nil: // an outage: in the endpoint's shape, as its handler would answer it
			s.writeShaped(w, r, id, err)
			return
		}
		if rec != nil {
			rec.tenant = id
		}
		// ServeMux redirects a path with // or dot segments to its clean
		// form; it would do so without the tenant's prefix (another
		// tenant's endpoint), so that redirect is made here.
		if clean := cleanPath("/" + after); clean != "/"+after {
			u := *r.URL
			u.Path, u.RawPath = "/t/"+id+clean, ""
			http.Redirect(w, r, u.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = "/" + after
		u.RawPath = ""
		r2.URL = &u
		next.ServeHTTP(w, r2.WithContext(tenant.With(r.Context(), id)))
	})
}
