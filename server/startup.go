package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/provider"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/tenant"
)

// ErrPendingMigrations is returned by Run when GATEHOUSE_AUTO_MIGRATE=false
// and the database lacks migrations this binary needs.
var ErrPendingMigrations = errors.New("pending migrations")

// startup waits for the database with capped exponential backoff, then
// applies (or, with auto-migrate off, checks) the migrations, makes sure
// every tenant has signing keys it can open, and marks the server ready.
// Only a refusal to start is returned (pending migrations with auto-migrate
// off, or keys GATEHOUSE_SECRET cannot open: waiting fixes neither); a
// database that is down is retried until ctx ends.
func (s *Server) startup(ctx context.Context) error {
	delay := 250 * time.Millisecond
	for {
		err := s.prepareDatabase(ctx)
		if err == nil {
			s.ready.Store(true)
			s.log.InfoContext(ctx, "database ready", "backend", s.store.Backend())
			go s.maintainKeys(ctx)
			if s.cfg.JanitorInterval > 0 {
				go s.runJanitor(ctx)
			}
			return nil
		}
		if errors.Is(err, ErrPendingMigrations) || errors.Is(err, provider.ErrKeysUnusable) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.log.WarnContext(ctx, "GATEHOUSE_DSN: database not ready, retrying", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

func (s *Server) prepareDatabase(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.store.Ping(pctx); err != nil {
		return err
	}
	if !s.cfg.AutoMigrate {
		pending, err := s.store.Pending(ctx)
		if err != nil {
			return err
		}
		if len(pending) > 0 {
			return fmt.Errorf("GATEHOUSE_AUTO_MIGRATE=false and %d migration(s) are pending (%s): run `gatehouse migrate up`: %w",
				len(pending), migrationNames(pending), ErrPendingMigrations)
		}
		return s.ensureKeys(ctx)
	}
	applied, err := s.store.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, m := range applied {
		s.log.InfoContext(ctx, "migration applied", "version", m.Version, "name", m.Name)
	}
	return s.ensureKeys(ctx)
}

// ensureKeys gives every enabled tenant its signing keys before the server
// reports ready, so no token request ever has to create one.
func (s *Server) ensureKeys(ctx context.Context) error {
	tenants, err := s.store.ListTenants(tenant.With(ctx, tenant.Default))
	if err != nil {
		return err
	}
	for _, t := range tenants {
		if t.Disabled {
			continue
		}
		if err := s.svc.Provider.Keys.Ensure(tenant.With(ctx, t.ID)); err != nil {
			return fmt.Errorf("GATEHOUSE_SECRET: signing keys of tenant %s: %w", t.ID, err)
		}
	}
	return nil
}

func migrationNames(ms []storage.MigrationStatus) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// maintainKeys runs key maintenance for every enabled tenant every minute
// (start-up has just ensured the keys): missing keys are created, due keys
// rotated, expired ones deleted. Several replicas may run it at once; the
// store's conditional statements let one of them win each step.
func (s *Server) maintainKeys(ctx context.Context) {
	log := logging.Area(s.log, "keys")
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tenants, err := s.store.ListTenants(tenant.With(ctx, tenant.Default))
		if err != nil {
			log.WarnContext(ctx, "key maintenance: list tenants", "err", err)
		}
		for _, t := range tenants {
			if t.Disabled {
				continue
			}
			if err := s.svc.Provider.Keys.Maintain(tenant.With(ctx, t.ID), s.cfg.Tokens.KeyRotationPeriod); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "key maintenance", "tenant_id", t.ID, "err", err)
			}
		}
	}
}

// runJanitor deletes expired rows (tokens, sessions, flows, delivered events)
// every GATEHOUSE_JANITOR_INTERVAL until ctx ends, the first time one
// interval after start-up. It works in small batches, each its own short
// transaction, so token issuance is never held up. Several replicas may run
// it at once: deleting an expired row is idempotent, and each row goes once.
func (s *Server) runJanitor(ctx context.Context) {
	log := logging.Area(s.log, "janitor")
	j, err := janitor.New(s.store, janitor.Options{Now: s.now, Logger: log})
	if err != nil {
		log.ErrorContext(ctx, "janitor not started", "err", err)
		return
	}
	j.Run(ctx, s.cfg.JanitorInterval)
}
