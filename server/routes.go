package server

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gatehouse/gatehouse/pages"
	"github.com/gatehouse/gatehouse/web"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// publicHandler is the public listener: protocol endpoints, pages and the
// JSON API, served per tenant.
func (s *Server) publicHandler() http.Handler {
	mux := http.NewServeMux()
	s.svc.Provider.Register(mux)
	s.svc.loginHandler().Register(mux)
	s.svc.consentHandler().Register(mux)
	mux.Handle("GET /static/", pages.Static())
	mux.HandleFunc("/", web.Fallback(mux, s.log))
	return s.common("public", s.securityHeaders(s.readyGate(s.tenantRouter(routeOf(mux)))))
}

// adminHandler is the admin listener: health and metrics.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /health/ready", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	if s.cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", web.Fallback(mux, s.log))
	return s.common("admin", routeOf(mux))
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReady is 200 only when start-up finished, the database answers and
// no migration is pending; 503 otherwise, recovering by itself when the
// database comes back.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	res := readiness{Status: "ok", Checks: map[string]string{"database": "ok", "migrations": "ok"}}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		res.Status, res.Checks["database"], res.Checks["migrations"] = "unavailable", "unreachable", "unknown"
		s.log.WarnContext(ctx, "readiness: database unreachable", "err", err, "request_id", web.RequestID(ctx))
	} else if pending, err := s.store.Pending(ctx); err != nil {
		res.Status, res.Checks["migrations"] = "unavailable", "unknown"
	} else if len(pending) > 0 {
		res.Status, res.Checks["migrations"] = "unavailable", migrationNames(pending)+" pending"
	}
	if res.Status == "ok" && !s.ready.Load() {
		res.Status, res.Checks["startup"] = "unavailable", "starting"
	}
	status := http.StatusOK
	if res.Status != "ok" {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "2")
	}
	web.WriteJSON(w, status, res)
}
