package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/logging"
	"github.com/gatehouse/gatehouse/login"
	"github.com/gatehouse/gatehouse/server"
)

const serveUsage = `gatehouse serve [--config FILE] [--dev]

Runs the public listener (GATEHOUSE_PUBLIC_ADDR: protocol, pages, JSON API)
and the admin listener (GATEHOUSE_ADMIN_ADDR: /health/alive, /health/ready,
/metrics). Pending migrations are applied at start unless
GATEHOUSE_AUTO_MIGRATE=false. A database that is down at start is retried with
backoff while /health/ready reports 503. SIGTERM or SIGINT drains and stops.

--dev fills in only what is unset: a SQLite database ./gatehouse.db, the issuer
http://localhost:<port>, a generated secret kept in ./gatehouse.secret (0600),
and text logs. It is not for production.`

func runServe(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "serve", serveUsage)
	path := fs.String("config", "", "YAML configuration `file` (GATEHOUSE_* variables override it)")
	dev := fs.Bool("dev", false, "development mode: SQLite, loopback issuer and a generated secret where unset")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, chose, err := loadConfig(e, *path, *dev)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *dev {
		printDevBanner(e.stderr, cfg, chose)
	}
	log := logging.New(e.stderr, cfg.LogLevel, cfg.LogFormat, cfg.Debug)
	if limit, set := memoryLimit(e, cfg); set {
		log.Info("soft memory limit", "bytes", limit, "why", "96 MiB + one argon2id hash per hashing slot; GOMEMLIMIT overrides")
	}
	srv, err := server.New(cfg, server.Options{Logger: log})
	if err != nil {
		return err
	}
	runErr := srv.Run(ctx)
	return joinErr(runErr, srv.Close())
}

func printDevBanner(w io.Writer, cfg config.Config, chose []string) {
	line := strings.Repeat("=", 76)
	fmt.Fprintln(w, line)
	fmt.Fprintln(w, "  gatehouse is running in DEVELOPMENT mode (--dev). It is NOT for production.")
	if len(chose) == 0 {
		fmt.Fprintln(w, "  Everything was configured explicitly; --dev only allows an http issuer.")
	} else {
		fmt.Fprintln(w, "  It chose, because they were unset:")
		for _, c := range chose {
			fmt.Fprintln(w, "    "+c)
		}
	}
	fmt.Fprintf(w, "  Public: %s   Admin: %s   Database: %s\n", cfg.Issuer, cfg.AdminAddr, config.Redacted(cfg.DSN))
	fmt.Fprintln(w, line)
}

func joinErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// memoryLimit sets Go's soft memory limit to what gatehouse needs when the
// operator did not (GOMEMLIMIT): 96 MiB for everything else plus the memory
// of the password hashes that may run at once. Without it, GC's doubling
// of the heap after each 19 MiB hash let RSS drift past 150 MiB under a
// login burst; with it, the collector runs before that.
func memoryLimit(e *env, cfg config.Config) (int64, bool) {
	if v, ok := e.lookup("GOMEMLIMIT"); ok && v != "" {
		return 0, false
	}
	slots := login.HashSlots(cfg.Passwords.Concurrency)
	limit := int64(96<<20) + int64(slots)*int64(cfg.Passwords.MemoryKiB)*1024
	debug.SetMemoryLimit(limit)
	return limit, true
}
