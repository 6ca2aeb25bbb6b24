package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/storage"
)

const migrateUsage = `gatehouse migrate up|status [--config FILE] [--dev]

up      applies every pending migration (each in its own transaction)
status  lists the migrations this binary carries and whether each is applied

Only GATEHOUSE_DSN is needed. --dev uses the development database
(sqlite:gatehouse.db) when GATEHOUSE_DSN is unset.`

func runMigrate(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want `migrate up` or `migrate status`", errUsage)
	}
	sub := args[0]
	if sub == "-h" || sub == "--help" {
		sub, args = "status", []string{"--help"}
	} else {
		args = args[1:]
	}
	if sub != "up" && sub != "status" {
		return fmt.Errorf("%w: unknown migrate command %q (want up or status)", errUsage, sub)
	}
	fs := flags(e, "migrate "+sub, migrateUsage)
	path := fs.String("config", "", "YAML configuration `file`")
	dev := fs.Bool("dev", false, "use the development database when GATEHOUSE_DSN is unset")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openStore(ctx, e, *path, *dev)
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "up" {
		applied, err := store.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("GATEHOUSE_DSN: %w", err)
		}
		if len(applied) == 0 {
			fmt.Fprintln(e.stdout, "no pending migrations")
		}
		for _, m := range applied {
			fmt.Fprintf(e.stdout, "applied %d %s\n", m.Version, m.Name)
		}
		return nil
	}
	all, err := store.Migrations(ctx)
	if err != nil {
		return fmt.Errorf("GATEHOUSE_DSN: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
	for _, m := range all {
		state, at := "pending", ""
		if m.Applied {
			state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
	}
	return tw.Flush()
}

// openStore opens the configured database for migrate and checks
// that it answers, so an unreachable database is one clear line. It needs
// only GATEHOUSE_DSN; --dev stands in the development database for it.
func openStore(ctx context.Context, e *env, path string, dev bool) (storage.Store, error) {
	cfg, err := config.Load(path, e.lookup)
	if err != nil {
		return nil, err
	}
	if cfg.DSN == "" && dev {
		cfg.DSN = "sqlite:gatehouse.db"
	}
	return connect(ctx, cfg)
}

// connect opens the store cfg.DSN names and pings it.
func connect(ctx context.Context, cfg config.Config) (storage.Store, error) {
	if cfg.DSN == "" {
		return nil, fmt.Errorf("GATEHOUSE_DSN: required (postgres://…, sqlite:PATH or memory)")
	}
	store, err := server.OpenStore(cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := store.Ping(pctx); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("GATEHOUSE_DSN: database unreachable: %w", err)
	}
	return store, nil
}
