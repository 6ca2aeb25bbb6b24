package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/catalog"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LogError logs err once, at the edge: 5xx at error level with the cause,
// 4xx at debug. It returns the resolved catalog error.
func LogError(ctx context.Context, log *slog.Logger, err error) *catalog.Error {
	ce := catalog.Resolve(err)
	attrs := []any{"request_id", RequestID(ctx), "code", string(ce.Code), "err", err.Error()}
	if ce.Status >= 500 {
		log.ErrorContext(ctx, "request failed", attrs...)
	} else {
		log.DebugContext(ctx, "request refused", attrs...)
	}
	return ce
}

// WriteError logs err and writes it as the JSON API envelope.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ce := LogError(r.Context(), log, err)
	catalog.WriteJSON(w, ce, RequestID(r.Context()))
}

// WriteJSON writes v as JSON with status and Cache-Control: no-store.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache") // HTTP/1.0 caches (RFC 6749 §5.1)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// PageSecurityHeaders sets the headers every HTML page carries: no framing
// (clickjacking), no referrer (codes and state in URLs must not leak), no
// MIME sniffing, a strict CSP, and HSTS when served over https. form-action
// is deliberately absent: browsers apply it to the redirect that follows a
// form post, which would block the hand-back to the client's redirect_uri.
func PageSecurityHeaders(h http.Header, https bool) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if https {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// Fallback answers what a ServeMux's catch-all "/" pattern receives: 405
// METHOD_NOT_ALLOWED with an Allow header when the path exists for other
// methods, else 404 NOT_FOUND; both as catalog errors instead of the mux's
// plain-text replies.
func Fallback(mux *http.ServeMux, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := mux.Handler(probe); p != "" && p != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			WriteError(w, r, log, catalog.MethodNotAllowed)
			return
		}
		WriteError(w, r, log, catalog.NotFound)
	}
}
