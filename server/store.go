package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlite"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
)

// OpenStore opens the store GATEHOUSE_DSN names. It does not wait for a
// network database: one that is down is reported later by Ping.
func OpenStore(cfg config.Config, log *slog.Logger, now func() time.Time) (storage.Store, error) {
	dsn, err := config.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_DSN: %w", err)
	}
	opts := sqlstore.Options{Now: now, Logger: logging.Area(log, "storage")}
	var s *sqlstore.Store
	switch {
	case dsn.Memory:
		s, err = sqlite.OpenTemp(sqlite.Config{}, opts)
	case dsn.Backend == "sqlite":
		s, err = sqlite.Open(dsn.Path, sqlite.Config{}, opts)
	default:
		s, err = postgres.Open(dsn.URL, postgres.Config{}, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("GATEHOUSE_DSN: %w", err)
	}
	return s, nil
}
