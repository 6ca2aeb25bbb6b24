package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/keyring"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/storage"
)

// Options are what New needs besides the configuration.
type Options struct {
	// Logger receives every log line; discarded when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ShutdownTimeout bounds the drain on shutdown (default 20s).
	ShutdownTimeout time.Duration
	// PublicListener and AdminListener, when set, are used instead of
	// listening on the configured addresses (tests bind 127.0.0.1:0 first so
	// they know the issuer URL before the server starts).
	PublicListener, AdminListener net.Listener
	// WrapStore, when set, wraps the store before anything uses it (tests
	// inject database faults with it).
	WrapStore func(storage.Store) storage.Store
}

// Server is one gatehouse process: a store and two listeners.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	store   storage.Store
	keys    *keyring.Keyring
	svc     *Services
	metrics *metrics
	proxies []*net.IPNet

	publicLn, adminLn net.Listener
	public, admin     *http.Server
	shutdownTimeout   time.Duration

	// ready is true once the database answered and its migrations are
	// current; until then public requests get 503.
	ready atomic.Bool
}

// New validates cfg, opens the store (without waiting for the database),
// and binds both listeners, so their addresses are known before Run.
func New(cfg config.Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: opts.Logger, now: opts.Now, shutdownTimeout: opts.ShutdownTimeout}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = 20 * time.Second
	}
	for _, p := range cfg.TrustedProxies {
		_, n, _ := net.ParseCIDR(p) // validated
		s.proxies = append(s.proxies, n)
	}
	var err error
	if s.keys, err = keyring.New(cfg.Secret); err != nil {
		return nil, fmt.Errorf("GATEHOUSE_SECRET: %w", err)
	}
	if s.store, err = OpenStore(cfg, s.log, s.now); err != nil {
		return nil, err
	}
	if opts.WrapStore != nil {
		s.store = opts.WrapStore(s.store)
	}
	if s.svc, err = NewServices(cfg, s.store, s.keys, s.log, s.now); err != nil {
		_ = s.store.Close()
		return nil, err
	}
	s.metrics = newMetrics()
	s.publicLn, s.adminLn = opts.PublicListener, opts.AdminListener
	if err := s.listen(); err != nil {
		_ = s.store.Close()
		return nil, err
	}
	s.public = s.httpServer(s.publicHandler())
	s.admin = s.httpServer(s.adminHandler())
	return s, nil
}

func (s *Server) listen() error {
	var err error
	if s.publicLn == nil {
		if s.publicLn, err = net.Listen("tcp", s.cfg.PublicAddr); err != nil {
			return fmt.Errorf("GATEHOUSE_PUBLIC_ADDR: %w", err)
		}
	}
	if s.adminLn == nil {
		if s.adminLn, err = net.Listen("tcp", s.cfg.AdminAddr); err != nil {
			_ = s.publicLn.Close()
			return fmt.Errorf("GATEHOUSE_ADMIN_ADDR: %w", err)
		}
	}
	return nil
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logging.Area(s.log, "http").Handler(), slog.LevelDebug),
	}
}

// PublicURL is the base URL of the public listener (its real address, which
// matters when the configured port is 0).
func (s *Server) PublicURL() string { return "http://" + hostPort(s.publicLn.Addr()) }

// AdminURL is the base URL of the admin listener.
func (s *Server) AdminURL() string { return "http://" + hostPort(s.adminLn.Addr()) }

func hostPort(a net.Addr) string {
	addr := a.String()
	if strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, "0.0.0.0:") {
		_, port, _ := net.SplitHostPort(addr)
		return "127.0.0.1:" + port
	}
	return addr
}

// Store is the server's store (for in-process tests and admin commands).
func (s *Server) Store() storage.Store { return s.store }

// Services are the server's services (for in-process tests).
func (s *Server) Services() *Services { return s.svc }

// Ready reports whether start-up finished (database up, migrations current).
func (s *Server) Ready() bool { return s.ready.Load() }

// Run serves until ctx is cancelled or start-up fails for good, then shuts
// down gracefully: stop accepting, drain in-flight requests, and return. The
// store is closed by Close.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { errc <- s.startup(ctx) }()
	go func() { errc <- serve(s.public, s.publicLn) }()
	go func() { errc <- serve(s.admin, s.adminLn) }()
	s.log.InfoContext(ctx, "gatehouse listening",
		"public", s.publicLn.Addr().String(), "admin", s.adminLn.Addr().String(),
		"issuer", s.cfg.Issuer, "backend", s.store.Backend())

	var runErr error
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case err := <-errc:
			if err != nil {
				runErr = err
				running = false
			}
		}
	}
	s.log.Info("shutting down", "timeout", s.shutdownTimeout)
	sctx, scancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer scancel()
	err := errors.Join(s.public.Shutdown(sctx), s.admin.Shutdown(sctx))
	return errors.Join(runErr, err)
}

func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases the listeners (if Run never ran) and the store.
func (s *Server) Close() error {
	_ = s.publicLn.Close()
	_ = s.adminLn.Close()
	return s.store.Close()
}
